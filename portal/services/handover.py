"""Handing a case to a colleague, or taking it back, by rewriting item headers.

Adding a keyholder adds one stanza to every item's header: the payloads are
not re-encrypted. Removing one writes every header anew for the remaining
keyholders; it cannot take back a file key the removed person already read.
"""

from sqlalchemy import select

import crypto

from ..models import Case, Keyholder, User
from . import audit, keyring, notifications


class HandoverError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _replace_header(blob: bytes, new_header: bytes) -> bytes:
    _old_header, payload = crypto.split_header(blob)
    return new_header + payload


def add_keyholder(session, actor: User, identity, case: Case, colleague: User, base_url: str) -> None:
    if not colleague.active or not colleague.recipient or colleague.activation_digest is not None:
        raise HandoverError("not_active")
    if session.scalar(select(Keyholder).where(Keyholder.case_id == case.id, Keyholder.user_id == colleague.id)):
        raise HandoverError("already")
    new_recipient = crypto.parse_recipient(colleague.recipient)
    for item in case.items:
        item.blob = _replace_header(item.blob, crypto.add_recipients(item.blob, identity, [new_recipient]))
    session.add(Keyholder(case_id=case.id, user_id=colleague.id))
    notifications.queue_for(session, [colleague], case, base_url)
    audit.record(session, "handover_add", actor, case.id, {"user": colleague.id}, commit=False)
    session.commit()


def remove_keyholder(session, actor: User, identity, case: Case, colleague: User) -> None:
    holder = session.scalar(select(Keyholder).where(Keyholder.case_id == case.id,
                                                    Keyholder.user_id == colleague.id))
    if holder is None:
        raise HandoverError("not_holder")
    remaining = [u for u in keyring.holders_of(session, case) if u.id != colleague.id]
    if not remaining:
        raise HandoverError("last_holder")
    for item in case.items:
        recipients = keyring.item_recipients(session, case, item.kind, remaining)
        item.blob = _replace_header(item.blob, crypto.rewrap(item.blob, identity, recipients))
    session.delete(holder)
    audit.record(session, "handover_remove", actor, case.id, {"user": colleague.id}, commit=False)
    session.commit()


def readmit(session, recovery_identity, user: User) -> int:
    """Rewrite every item of the user's cases for the current keyholders, with the
    recovery identity: a user who lost their passphrase can open them again."""
    cases = list(session.scalars(
        select(Case).join(Keyholder, Keyholder.case_id == Case.id).where(Keyholder.user_id == user.id)
    ))
    for case in cases:
        holders = keyring.holders_of(session, case)
        for item in case.items:
            recipients = keyring.item_recipients(session, case, item.kind, holders)
            item.blob = _replace_header(item.blob, crypto.rewrap(item.blob, recovery_identity, recipients))
    user.awaiting_readmission = False
    audit.record(session, "readmit", None, None, {"user": user.id, "cases": len(cases)}, commit=False)
    session.commit()
    return len(cases)
