"""Partner instances: who they are (their signing key, checked by fingerprint),
where they are, and the recipients of their monitor users."""

import base64
import hashlib
import json
import secrets

from sqlalchemy import select

import crypto

from ..models import Partner, User
from . import audit, clock, partner_http, signing
from . import instance as instance_service
from .refusal import Refusal

MONITOR_ROLE = "monitor"


class PartnerError(Refusal):
    """A partner that cannot be registered or refreshed (reason: url, address, fingerprint, unreachable,
    signature, ...). ``unreachable`` is every failure to connect, whatever it was: the page says no more."""


def published_document(session) -> dict:
    """What this instance publishes at the well-known path, signed with its key."""
    instance = instance_service.load(session)
    monitors = session.scalars(select(User.recipient).where(User.role == MONITOR_ROLE, User.active.is_(True),
                                                            User.recipient.is_not(None)).order_by(User.id))
    document = {
        "format": "whistleblower-portal-instance/1",
        "organisation": instance.organisation_name,
        "signing_key": base64.b64encode(signing.public_key(session)).decode(),
        "monitor_recipients": list(monitors),
        "recovery_recipient": instance.recovery_recipient,
        "issued_at": clock.now().isoformat(timespec="seconds"),
    }
    return signing.signed_document(session, document)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(b"partner-token:" + token.encode()).digest()


def register(session, actor: User | None, name: str, base_url: str, fingerprint_text: str,
             outbound_token: str) -> tuple[Partner, str]:
    """Register a partner after checking what it publishes against the fingerprint.

    Returns the partner and the token it must present to us, shown once.
    """
    fingerprint = signing.normalise_fingerprint(fingerprint_text)
    if not name.strip():
        raise PartnerError("url")
    if not partner_http.acceptable_base_url(base_url):
        raise PartnerError("address")
    if fingerprint is None:
        raise PartnerError("fingerprint")
    if session.scalar(select(Partner).where(Partner.fingerprint == fingerprint)) is not None:
        raise PartnerError("already")
    inbound = secrets.token_urlsafe(32)
    partner = Partner(name=name.strip(), base_url=base_url.strip().rstrip("/"), fingerprint=fingerprint,
                      outbound_token=outbound_token.strip(), inbound_token_digest=token_digest(inbound),
                      created_at=clock.now())
    _fetch_into(partner)
    session.add(partner)
    session.flush()
    audit.record(session, "partner", actor, None, {"partner": partner.id, "fingerprint": fingerprint}, commit=False)
    session.commit()
    return partner, inbound


def refresh(session, actor: User | None, partner: Partner) -> None:
    """Fetch the partner's recipients again (a monitor user joined or changed key)."""
    _fetch_into(partner)
    audit.record(session, "partner", actor, None, {"partner": partner.id, "refreshed": True}, commit=False)
    session.commit()


def set_outbound_token(session, actor: User | None, partner: Partner, token: str) -> None:
    partner.outbound_token = token.strip()
    audit.record(session, "partner", actor, None, {"partner": partner.id, "token_set": True}, commit=False)
    session.commit()


def _fetch_into(partner: Partner) -> None:
    try:
        answer = partner_http.get(partner.base_url, partner_http.WELL_KNOWN_PATH)
    except partner_http.Unreachable as error:
        partner_http.log_unreachable(partner.id, error)
        raise PartnerError("unreachable") from None
    envelope = answer.json() if answer.status == 200 else None
    try:
        key = base64.b64decode(envelope["document"]["signing_key"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise PartnerError("unreadable") from None
    if signing.fingerprint(key) != partner.fingerprint:
        raise PartnerError("fingerprint_mismatch")
    document = signing.open_signed_document(envelope, key)
    if document is None:
        raise PartnerError("signature")
    monitors = list(document.get("monitor_recipients", []))
    recovery = [document["recovery_recipient"]] if document.get("recovery_recipient") else []
    try:
        for recipient in monitors + recovery:
            crypto.parse_recipient(recipient)
    except (crypto.AgeError, ValueError, TypeError):
        raise PartnerError("recipients") from None
    partner.signing_key = key
    partner.recipients = json.dumps({"monitors": monitors, "recovery": recovery})
    partner.fetched_at = clock.now()
    if document.get("organisation") and not partner.name:
        partner.name = document["organisation"]


def monitor_recipients(partner: Partner) -> list[str]:
    """Everything a bundle for ``partner`` is encrypted to: its monitor users and its recovery key."""
    stored = json.loads(partner.recipients or "[]")
    if isinstance(stored, list):  # fetched before monitors and recovery were kept apart
        return stored
    return stored["monitors"] + stored["recovery"]


def has_monitors(partner: Partner) -> bool:
    """Whether someone at the partner, not only its recovery key, can open what we send."""
    stored = json.loads(partner.recipients or "[]")
    # Fetched before monitors and recovery were kept apart: unknown until fetched again.
    return isinstance(stored, dict) and bool(stored["monitors"])


# Built once: every report and blank form asks (see routing's statements).
_RECEIVING_CANDIDATES = (select(Partner).where(Partner.active.is_(True), Partner.signing_key.is_not(None),
                                               Partner.outbound_token != "").order_by(Partner.id))


def receiving_partner(session) -> Partner | None:
    """The partner that receives reports meant for Electronics Watch at once, if one can.

    It must be active, known by its key, reachable with a token, and publish at
    least one monitor user's recipient.
    """
    candidates = session.scalars(_RECEIVING_CANDIDATES)
    return next((partner for partner in candidates if has_monitors(partner)), None)


def by_inbound_token(session, token: str) -> Partner | None:
    if not token:
        return None
    return session.scalar(select(Partner).where(Partner.inbound_token_digest == token_digest(token),
                                                Partner.active.is_(True)))


def by_fingerprint(session, fingerprint: str) -> Partner | None:
    return session.scalar(select(Partner).where(Partner.fingerprint == fingerprint, Partner.active.is_(True)))


def all_partners(session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.name)))


def own_fingerprint(session) -> str:
    return signing.fingerprint(signing.public_key(session))
