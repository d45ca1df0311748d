"""Handing a case to a colleague, or taking it back, by rewriting item headers.

Adding a keyholder adds one stanza to every item's header: the payloads are
not re-encrypted. Removing one writes every header anew for the remaining
keyholders; it cannot take back a file key the removed person already read.
"""

import json

from sqlalchemy import select

import crypto

from ..models import Case, CaseItem, Facility, Keyholder, User
from . import audit, keyring, notifications, routing
from .refusal import Refusal


class HandoverError(Refusal):
    """A colleague who cannot be given or lose the case."""


def _replace_header(blob: bytes, new_header: bytes) -> bytes:
    _old_header, payload = crypto.split_header(blob)
    return new_header + payload


def _keyholders_items(case: Case) -> list:
    """The items a case's keyholders hold keys to: not its escalation record."""
    return [item for item in case.items if item.kind not in keyring.OVERSIGHT_KINDS]


def eligible_colleagues(session, identity, case: Case) -> list[User]:
    """Who may be handed ``case``: what routing allows, whatever a keyholder wants.

    The reporter's choice of recipients holds (a case for Electronics Watch only
    never reaches a contractor user), and so do conflicts of interest and the
    handlers the reporter asked to leave out (read from the encrypted report).
    """
    roles = set()
    if case.recipient_choice in ("contractor", "both"):
        roles |= set(routing.CONTRACTOR_ROLES)
    if case.recipient_choice in ("monitor", "both"):
        roles.add(routing.MONITOR_ROLE)
    holders = {u.id for u in keyring.holders_of(session, case)}
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    refused = holders | routing.conflicted_user_ids(session, facility) | set(left_out_by_reporter(case, identity))
    return [
        user for user in session.scalars(select(User).where(User.role.in_(roles)).order_by(User.display_name))
        if user.id not in refused and routing.usable(user)
    ]


def left_out_by_reporter(case: Case, identity) -> list[int]:
    """Handlers the report leaves out, or those a retaliation claim is about."""
    written = next((item for item in case.items if item.kind in ("report", "claim")), None)
    if written is None:
        return []
    payload = json.loads(crypto.decrypt(written.blob, identity))
    return payload.get("excluded_handlers", []) + payload.get("about_user_ids", [])


def add_keyholder(session, actor: User, identity, case: Case, colleague: User, base_url: str) -> None:
    if session.scalar(select(Keyholder).where(Keyholder.case_id == case.id, Keyholder.user_id == colleague.id)):
        raise HandoverError("already")
    if colleague.id not in {u.id for u in eligible_colleagues(session, identity, case)}:
        raise HandoverError("not_eligible")
    new_recipient = crypto.parse_recipient(colleague.recipient)
    for item in _keyholders_items(case):
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
    for item in _keyholders_items(case):
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
        for item in _keyholders_items(case):
            recipients = keyring.item_recipients(session, case, item.kind, holders)
            item.blob = _replace_header(item.blob, crypto.rewrap(item.blob, recovery_identity, recipients))
    if user.role in keyring.OVERSIGHT_ROLES:
        oversight = keyring.oversight_recipients(session)
        for item in session.scalars(select(CaseItem).where(CaseItem.kind.in_(keyring.OVERSIGHT_KINDS))):
            item.blob = _replace_header(item.blob, crypto.rewrap(item.blob, recovery_identity, oversight))
    user.awaiting_readmission = False
    audit.record(session, "readmit", None, None, {"user": user.id, "cases": len(cases)}, commit=False)
    session.commit()
    return len(cases)
