"""Messages to the reporter and notes among keyholders, each its own age file."""

import crypto

from ..models import Case, CaseItem, User
from . import audit, clock, keyring, sms_relay


def post_to_reporter(session, case: Case, author: User, text: str, *, commit: bool = True) -> CaseItem:
    """A message the reporter reads with the receipt: encrypted to them as well."""
    item = _item(session, case, author, "message", text, keyring.case_recipients(session, case))
    audit.record(session, "message", author, case.id, {"item_kind": "message"}, commit=False)
    if commit:
        session.commit()
    return item


def send_to_reporter(session, config, case: Case, author: User, identity, text: str) -> bool | None:
    """A message to the reporter, and by text message too when they reported by SMS (``identity``,
    the author's unlocked key, opens their number). False: the text could not be sent."""
    post_to_reporter(session, case, author, text)
    return sms_relay.relay(session, config, identity, case, text)


def add_note(session, case: Case, author: User, text: str, *, commit: bool = True) -> CaseItem:
    """An internal note: the keyholders and the recovery key, never the reporter."""
    item = _item(session, case, author, "note", text, keyring.case_recipients(session, case, reporter=False))
    audit.record(session, "note", author, case.id, commit=False)
    if commit:
        session.commit()
    return item


def _item(session, case, author, kind, text, recipients) -> CaseItem:
    body = text.encode("utf-8")
    moment = clock.now()
    item = CaseItem(case_id=case.id, kind=kind, author="handler", author_user_id=author.id,
                    created_on=moment.date(), created_at=moment,
                    blob=crypto.encrypt(body, recipients), size=len(body))
    session.add(item)
    session.flush()
    return item
