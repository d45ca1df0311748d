"""Texts to a worker: staff messages relayed to a worker who reported by SMS.

The worker's number is a "contact_sms" item of the case, encrypted to its
keyholders and custodians: only an investigator's unlocked session opens it,
for the length of the request that sends the text. Nothing queues a text: a
queued job would need the number in a form the server alone can read. A text the
gateway does not take is said so on the case page; the message itself is saved
and the worker reads it with the receipt on the follow-up page (docs/sms.md).
"""

import json

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

import crypto

from ..models import Case, CaseItem
from . import typed_text
from .sms_gateways import SendFailed, configured
from .sms_parts import messages


def relay(session, config, identity, case: Case, text: str) -> bool | None:
    """Send a staff message by text to a worker who reported by SMS.

    None: the case has no number. False: it could not be sent."""
    item = session.scalar(select(CaseItem).where(CaseItem.case_id == case.id, CaseItem.kind == "contact_sms"))
    if item is None:
        return None
    gateway = configured(config) if config is not None else None
    if gateway is None:
        return False
    try:
        contact = json.loads(crypto.decrypt(item.blob, identity))
    except (crypto.AgeError, ValueError):
        return False
    with force_locale(case.language):
        said = _("A message about your report: %(text)s\nTo answer, text your receipt and then your answer.",
                 text=text)
    try:
        send(gateway, contact["number"], case.language, contact.get("zawgyi", False), said)
    except SendFailed:
        return False
    return True


def send(gateway, number: str, language: str, zawgyi: bool, text: str) -> None:
    """``text`` to ``number``, in as many messages as its length needs; in Zawgyi for a worker who types it."""
    if zawgyi and language == "my":
        text = typed_text.unicode_to_zawgyi(text)
    for message in messages(text):
        gateway.send(number, message)
