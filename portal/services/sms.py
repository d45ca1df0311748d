"""Reporting by text message: a few questions, a receipt, and the investigators' replies.

A worker texts the portal's number. The first text is answered with a menu of
languages (nothing is kept). Choosing one is answered, in that language, with
the warning that the phone company and the gateway see their number and texts,
and the first question; only then is anything kept: the answers so far, sealed
under a key derived from the number and ``PORTAL_SMS_SECRET``, in a row named by
a keyed hash of the number, gone after ``SMS_STATE_MINUTES`` or as soon as the
report is stored. The report becomes a case through intake like a web report,
with the number as an encrypted "contact_sms" item for the staff; the worker
gets the receipt by text. To answer later, the worker texts the receipt and
their answer: the server keeps no link from a number to a case. See docs/sms.md.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta, timezone

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..i18n import NATIVE_NAMES
from ..models import Case, SmsConversation, SmsSeenWebhook
from . import clock, followup, intake, receipts, throttle, typed_text, work_slots
from .sms_gateways import Inbound, SendFailed, WebhookRefused, configured, normalised_number
from .sms_relay import send as _send

# A replayed webhook is refused for this long (Twilio's carry no time of their own).
SEEN_FOR = timedelta(days=2)
SENDER_WINDOW = timedelta(hours=1)
# Sixteen digits, in any script, with spaces or dashes, then the answer.
_RECEIPT_FIRST = re.compile(r"^[\s\-]*((?:\d[\s\-\u00a0]*){16})(.*)$", re.DOTALL)


@dataclass
class Conversation:
    language: str
    step: str
    token: str
    zawgyi: bool = False
    answers: dict = field(default_factory=dict)


def sender_key(config, number: str) -> bytes:
    """The keyed hash that stands for a number: numbers are few enough to guess, so not a plain hash."""
    return hmac.new(_subkey(config, b"portal sms sender"), number.encode(), hashlib.sha256).digest()


def _subkey(config, label: bytes) -> bytes:
    return hmac.new(config["SMS_SECRET"].encode(), label, hashlib.sha256).digest()


def _sealing_key(config, number: str) -> bytes:
    return hmac.new(_subkey(config, b"portal sms state"), number.encode(), hashlib.sha256).digest()


def receive(session, config, gateway_name: str, headers, body: bytes, form, url: str) -> None:
    """Handle one webhook: authenticate it, refuse a replay or a flood, answer the text.

    Raises ``WebhookRefused`` (reason "gateway", "signature", "stale", "malformed", "replay",
    "flood") and ``SendFailed`` when the answer could not be sent (the webhook may then come again).
    """
    gateway = configured(config)
    if gateway is None or gateway.name != gateway_name:
        raise WebhookRefused("gateway")
    inbound = gateway.inbound(headers, body, form, url)
    number = normalised_number(inbound.sender)
    if len(number.lstrip("+")) < 3:
        raise WebhookRefused("malformed")
    now = clock.now()
    # Kept to whole days: the row outlives the text by days, and must not tell when it came.
    forget_on = datetime.combine(now.date() + SEEN_FOR + timedelta(days=1), time.min, timezone.utc)
    seen = SmsSeenWebhook(digest=hashlib.sha256(inbound.replay_key.encode()).digest(), expires_at=forget_on)
    forget_expired(session, now)
    session.add(seen)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise WebhookRefused("replay") from None
    key = sender_key(config, number)
    # Each number has a budget an hour, spent first (one phone's flood must not use up everyone's),
    # and all share one a minute: a flood gets no answer (each answer costs the organisation a text).
    if not (throttle.spend(session, "sms:" + key.hex()[:40], config["SMS_TEXTS_PER_SENDER_PER_HOUR"],
                           window=SENDER_WINDOW, redis_url=config["REDIS_URL"])
            and throttle.spend(session, "sms:all", config["SMS_TEXTS_PER_MINUTE"], redis_url=config["REDIS_URL"])):
        raise WebhookRefused("flood")
    try:
        _answer(session, config, gateway, number, key, inbound)
    except SendFailed:
        # The gateway may deliver the text again: it must not then be taken for a replay.
        session.rollback()
        session.execute(delete(SmsSeenWebhook).where(SmsSeenWebhook.digest == seen.digest))
        session.commit()
        raise


def forget_expired(session, now=None) -> int:
    """Delete the reports by text left unfinished past their time, and replay records past theirs;
    run on every webhook and by ``portal retention run`` (when no text comes). How many went."""
    now = now or clock.now()
    return (session.execute(delete(SmsSeenWebhook).where(SmsSeenWebhook.expires_at <= now)).rowcount
            + session.execute(delete(SmsConversation).where(SmsConversation.expires_at <= now)).rowcount)


def _answer(session, config, gateway, number: str, key: bytes, inbound: Inbound) -> None:
    zawgyi = typed_text.is_zawgyi(inbound.text)
    text = typed_text.reporter_text(inbound.text)[: config["MAX_TEXT_CHARS"]]
    conversation = _load(session, config, number, key)
    if conversation is None:
        # ascii_digits keeps every character's place: the answer is read from the text as typed.
        receipt_first = _RECEIPT_FIRST.match(typed_text.ascii_digits(text))
        if receipt_first:
            return _file_answer(session, config, gateway, number, zawgyi, receipt_first.group(1),
                                text[receipt_first.start(2):])
        language = _chosen_language(config, text)
        if language is None:
            return _send(gateway, number, config["DEFAULT_LANGUAGE"], False, _menu(config))
        # Told first, kept after: no row exists until the worker has had this warning.
        with force_locale(language):
            _send(gateway, number, language, zawgyi, "\n".join((_notice(config["SMS_STATE_MINUTES"]), _question("workplace"))))
        return _keep(session, config, number, key,
                     Conversation(language, "workplace", "sms:" + secrets.token_urlsafe(24), zawgyi))
    conversation.zawgyi = conversation.zawgyi or zawgyi
    if not text:
        return _send(gateway, number, conversation.language, conversation.zawgyi, _question(conversation.step,
                                                                                             conversation.language))
    if conversation.step == "workplace":
        conversation.answers["workplace"] = text
        conversation.step = "what"
        _keep(session, config, number, key, conversation)
        return _send(gateway, number, conversation.language, conversation.zawgyi,
                     _question("what", conversation.language))
    conversation.answers["what"] = text
    _store_report(session, config, gateway, number, key, conversation)


def _store_report(session, config, gateway, number: str, key: bytes, conversation: Conversation) -> None:
    language = conversation.language
    choices = intake.offered_choices(session)
    report = intake.Report(language=language, categories=["other"], description=conversation.answers["what"],
                           facility_other=conversation.answers["workplace"], recipient_choice="contractor",
                           extra={"channel": "sms"})
    contact = json.dumps({"number": number, "gateway": gateway.name, "zawgyi": conversation.zawgyi}).encode()
    try:
        if "contractor" not in choices:
            raise intake.IntakeError("recipient_choice")
        # Stored already, and the receipt's text did not go: the receipt is derived again, never kept.
        submitted = (intake.find_submission(session, config, conversation.token)
                     or intake.submit(session, config, report, [], conversation.token, channel="sms",
                                      contact=contact))
    except work_slots.Busy:
        session.rollback()
        return _send(gateway, number, language, conversation.zawgyi, _said(language, "busy"))
    except intake.IntakeError:
        session.rollback()
        return _send(gateway, number, language, conversation.zawgyi, _said(language, "not_stored"))
    with force_locale(language):
        url = f"{config['BASE_URL'].rstrip('/')}/{language}/follow-up"
        receipt = receipts.group(submitted.receipt) if submitted.receipt else ""
        _send(gateway, number, language, conversation.zawgyi,
              _("Your report is received. Your receipt: %(receipt)s. Keep it secret: it opens your report. "
                "To answer a message, text the receipt and then your answer. You can also use it on %(url)s",
                receipt=receipt, url=url))
    # Gone once the receipt has gone: until then the gateway's retry, or the worker's next text, gets it.
    session.execute(delete(SmsConversation).where(SmsConversation.sender_key == key))
    session.commit()


def _file_answer(session, config, gateway, number: str, zawgyi: bool, receipt_text: str, answer: str) -> None:
    """The worker's answer on their case, found by the receipt it starts with."""
    language = config["DEFAULT_LANGUAGE"]
    try:
        opened = followup.open_case(session, config, receipts.normalise(receipt_text))
    except (followup.TooManyAttempts, work_slots.Busy):
        return _send(gateway, number, language, zawgyi, _said(language, "busy"))
    except receipts.ReceiptFormatError:
        opened = None
    if opened is None:
        return _send(gateway, number, language, zawgyi, _said(language, "no_case"))
    case = session.get(Case, opened[0])
    language = case.language
    if not answer.strip():
        return _send(gateway, number, language, zawgyi, _said(language, "no_answer"))
    followup.reply(session, config, case.id, answer.strip(), [])
    _send(gateway, number, language, zawgyi, _said(language, "filed"))


def _menu(config) -> str:
    languages = config["LANGUAGES"]
    lines = [f"{number} {NATIVE_NAMES.get(code, code)}" for number, code in enumerate(languages, 1)]
    with force_locale(config["DEFAULT_LANGUAGE"]):
        return "\n".join([_("Reply with the number of your language:")] + lines)


def _chosen_language(config, text: str) -> str | None:
    word = typed_text.ascii_digits(text).strip().casefold()
    languages = config["LANGUAGES"]
    if word.isdigit() and 1 <= int(word) <= len(languages):
        return languages[int(word) - 1]
    # Not the codes: "hi" is a greeting before it is Hindi.
    return {NATIVE_NAMES.get(code, code).casefold(): code for code in languages}.get(word)


def _notice(minutes: int) -> str:
    return _("The phone company and the SMS gateway see your number and these texts. The portal keeps your "
             "number only encrypted, for the people who handle your report. Until your report is complete, "
             "your answers are kept sealed; if you stop for %(minutes)s minutes, they are deleted.",
             minutes=minutes)


def _question(step: str, language: str | None = None) -> str:
    if language is not None:
        with force_locale(language):
            return _question(step)
    if step == "workplace":
        return _("Which workplace is it about? Write the factory's name and town.")
    return _("What happened? Write it in one text.")


def _said(language: str, what: str) -> str:
    with force_locale(language):
        return {
            "busy": lambda: _("The portal is busy. Please send your text again in a few minutes."),
            "not_stored": lambda: _("Your report could not be stored. Please send it again later, "
                                    "or use the web form."),
            "no_case": lambda: _("This receipt opens no report. Check the 16 digits."),
            "no_answer": lambda: _("Write your answer after the receipt, in the same text."),
            "filed": lambda: _("Your message is added to your report."),
        }[what]()


def _load(session, config, number: str, key: bytes) -> Conversation | None:
    row = session.get(SmsConversation, key)
    if row is None or clock.as_utc(row.expires_at) <= clock.now():
        return None
    try:
        plain = AESGCM(_sealing_key(config, number)).decrypt(row.sealed[:12], row.sealed[12:], key)
    except InvalidTag:
        return None
    return Conversation(**json.loads(plain))


def _keep(session, config, number: str, key: bytes, conversation: Conversation) -> None:
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_sealing_key(config, number)).encrypt(
        nonce, json.dumps(asdict(conversation), ensure_ascii=False).encode(), key)
    expires = clock.now() + timedelta(minutes=config["SMS_STATE_MINUTES"])
    row = session.get(SmsConversation, key)
    if row is None:
        session.add(SmsConversation(sender_key=key, sealed=sealed, expires_at=expires))
    else:
        row.sealed, row.expires_at = sealed, expires
    try:
        session.commit()
    except IntegrityError:
        # Two texts from one number at once: the other one's answer is kept.
        session.rollback()
