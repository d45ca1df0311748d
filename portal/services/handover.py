"""Handing a case to a colleague, or taking it back, by rewriting item headers.

Adding a keyholder adds one stanza to every item's header (and to a file's
evidence record's): the payloads are not re-encrypted. Removing one writes every header anew for the remaining
keyholders; it cannot take back a file key the removed person already read.
A holder whom a conflict of interest bars from a case is removed the same way
(``remove_conflicted``), or by the recovery key ceremony when nobody else can
open the case.
"""

import json
from dataclasses import dataclass

from sqlalchemy import select

import crypto

from ..models import AuditEntry, Case, CaseItem, Facility, Keyholder, RoutingAlert, User
from . import audit, clock, conflicts, keyring, lead, notifications, routing
from .refusal import Refusal


class HandoverError(Refusal):
    """A colleague who cannot be given or lose the case."""


def _replace_header(blob: bytes, new_header: bytes) -> bytes:
    _old_header, payload = crypto.split_header(blob)
    return new_header + payload


def _rewrite(item: CaseItem, new_header) -> None:
    """Give the item, and a file's evidence record beside it, the header ``new_header(age file)`` makes
    (both or neither)."""
    blob = _replace_header(item.blob, new_header(item.blob))
    record = _replace_header(item.evidence_record, new_header(item.evidence_record)) if item.evidence_record else None
    item.blob, item.evidence_record = blob, record


def _rewrite_items(case: Case, header_for) -> None:
    """``_rewrite`` every keyholders' item of ``case`` with the header ``header_for(item)`` makes.

    A partner's item the key cannot open is left as it is: the partner encrypted it to the keys it
    was told of (services/exchange.py), or to the monitor users of its day on a forwarded case, and
    one that names none of ours must not stop a hand-over or a re-admission for the whole case."""
    for item in _keyholders_items(case):
        try:
            _rewrite(item, header_for(item))
        except crypto.NoIdentityError:
            if item.author != "partner" and case.kind != "forwarded":
                raise


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


def written_by_reporter(case: Case, identity) -> dict:
    """The report or claim as the reporter wrote it, opened with ``identity``."""
    written = next((item for item in case.items if item.kind in ("report", "claim")), None)
    return {} if written is None else json.loads(crypto.decrypt(written.blob, identity))


def left_out_by_reporter(case: Case, identity) -> list[int]:
    """Handlers the report leaves out, or those a retaliation claim is about."""
    payload = written_by_reporter(case, identity)
    return payload.get("excluded_handlers", []) + payload.get("about_user_ids", [])


def add_keyholder(session, actor: User, identity, case: Case, colleague: User, base_url: str) -> None:
    if session.scalar(select(Keyholder).where(Keyholder.case_id == case.id, Keyholder.user_id == colleague.id)):
        raise HandoverError("already")
    if colleague.id not in {u.id for u in eligible_colleagues(session, identity, case)}:
        raise HandoverError("not_eligible")
    new_recipient = crypto.parse_recipient(colleague.recipient)
    _rewrite_items(case, lambda _item: lambda blob: crypto.add_recipients(blob, identity, [new_recipient]))
    session.add(Keyholder(case_id=case.id, user_id=colleague.id))
    if case.lead_user_id is None:
        # A case whose lead left with nobody after them: the newcomer leads it.
        case.lead_user_id = colleague.id
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
    _rewrite_for(session, identity, case, remaining)
    session.delete(holder)
    audit.record(session, "handover_remove", actor, case.id, {"user": colleague.id}, commit=False)
    session.flush()
    lead.pass_on(session, actor, case, colleague.id)
    session.commit()


def _rewrite_for(session, identity, case: Case, holders: list[User]) -> None:
    """Write every keyholders' item header anew for ``holders`` (and the custodians and reporter)."""
    def header_for(item):
        recipients = keyring.item_recipients(session, case, item.kind, holders)
        return lambda blob: crypto.rewrap(blob, identity, recipients)

    _rewrite_items(case, header_for)


def remove_conflicted(session, actor: User, identity, case: Case, colleague: User) -> None:
    """Take a holder whom a conflict of interest bars from ``case`` off it: every item's
    header is written anew without their stanza, so their key no longer opens any item.

    ``actor`` is another holder (``identity`` their unlocked key); the case page lets
    only holders without a conflict act."""
    conflicted = conflicts.conflicted_holder_ids(session, case)
    if colleague.id not in conflicted:
        raise HandoverError("not_conflicted")
    if actor.id in conflicted:
        raise HandoverError("conflicted")
    holder = session.scalar(select(Keyholder).where(Keyholder.case_id == case.id,
                                                    Keyholder.user_id == colleague.id))
    _rewrite_for(session, identity, case, [u for u in keyring.holders_of(session, case) if u.id != colleague.id])
    session.delete(holder)
    conflicts.resolve_alerts(session, case.id, colleague.id)
    audit.record(session, "conflict_key_removed", actor, case.id, {"user": colleague.id}, commit=False)
    session.flush()
    lead.pass_on(session, actor, case, colleague.id)
    session.commit()


def assign_with_recovery(session, recovery_identity, case: Case, user: User, base_url: str) -> None:
    """Give a case only the recovery key can open (its keyholders left, lost their key,
    or it was stored before reports nobody could receive were refused) to ``user``.

    The same limits hold as for a hand-over: the reporter's choice, conflicts of
    interest and the handlers the reporter left out. Holders a conflict of interest
    bars from the case lose their stanza: every header is written anew without it.
    """
    if not routing.usable(user):
        raise HandoverError("not_usable")
    conflicted = conflicts.conflicted_holder_ids(session, case)
    if user.id in conflicted:
        raise HandoverError("not_eligible")
    if session.scalar(select(Keyholder).where(Keyholder.case_id == case.id, Keyholder.user_id == user.id)):
        raise HandoverError("already")
    try:
        eligible = eligible_colleagues(session, recovery_identity, case)
    except crypto.NoIdentityError:
        # A report sent to Electronics Watch only: the partner's keys keep it, not ours.
        raise HandoverError("not_recovery") from None
    if user.id not in {u.id for u in eligible}:
        raise HandoverError("not_eligible")
    if conflicted:
        # Holders a conflict of interest bars from the case lose their stanza in the same rewrite.
        kept = [u for u in keyring.holders_of(session, case) if u.id not in conflicted]
        _rewrite_for(session, recovery_identity, case, kept + [user])
        for holder in session.scalars(select(Keyholder).where(Keyholder.case_id == case.id,
                                                              Keyholder.user_id.in_(conflicted))):
            session.delete(holder)
            audit.record(session, "conflict_key_removed", None, case.id, {"user": holder.user_id}, commit=False)
            if case.lead_user_id == holder.user_id:
                case.lead_user_id = None
    else:
        new_recipient = crypto.parse_recipient(user.recipient)
        for item in _keyholders_items(case):
            _rewrite(item, lambda blob: crypto.add_recipients(blob, recovery_identity, [new_recipient]))
    session.add(Keyholder(case_id=case.id, user_id=user.id))
    if case.lead_user_id is None or case.lead_user_id in conflicted:
        case.lead_user_id = user.id
    for alert in session.scalars(select(RoutingAlert).where(RoutingAlert.case_id == case.id,
                                                            RoutingAlert.resolved_at.is_(None))):
        alert.resolved_at = clock.now()
    notifications.queue_for(session, [user], case, base_url)
    audit.record(session, "recovery_assign", None, case.id, {"user": user.id}, commit=False)
    session.commit()


RECOVERY_ONLY_ALERT = "recovery_only"


def alert_administrators(session, base_url: str) -> int:
    """E-mail the administrators, once per case, about each case only the recovery key can open.

    The e-mail names the case and links to the Routing page, which explains the
    ceremony; it says nothing of what the case is about.
    """
    alerted = set(session.scalars(select(RoutingAlert.case_id).where(RoutingAlert.code == RECOVERY_ONLY_ALERT,
                                                                     RoutingAlert.resolved_at.is_(None))))
    new = [case for case in keyring.recovery_only_cases(session) if case.id not in alerted]
    if not new:
        return 0
    administrators = list(session.scalars(select(User).where(User.role == "administrator", User.active.is_(True))
                                          .order_by(User.id)))
    for case in new:
        routing.raise_alert(session, case.id, RECOVERY_ONLY_ALERT)
        notifications.queue_for(session, administrators, case, base_url, "/admin/routing#recovery-only")
    session.commit()
    return len(new)


def readmit(session, recovery_identity, user: User) -> int:
    """Rewrite every item of the user's cases for the current keyholders, with the
    recovery identity: a user who lost their passphrase can open them again."""
    cases = list(session.scalars(
        select(Case).join(Keyholder, Keyholder.case_id == Case.id).where(Keyholder.user_id == user.id)
    ))
    cases = [case for case in cases if keyring.custodians_of(session, case) == keyring.custodians_for(session)]
    for case in cases:
        # (A report sent to Electronics Watch only is kept by the partner's keys, not ours: left out above.)
        holders = keyring.holders_of(session, case)

        def header_for(item, holders=holders, case=case):
            recipients = keyring.item_recipients(session, case, item.kind, holders)
            return lambda blob: crypto.rewrap(blob, recovery_identity, recipients)

        _rewrite_items(case, header_for)
    if user.role in keyring.OVERSIGHT_ROLES:
        oversight = keyring.oversight_recipients(session)
        for item in session.scalars(select(CaseItem).where(CaseItem.kind.in_(keyring.OVERSIGHT_KINDS))):
            _rewrite(item, lambda blob: crypto.rewrap(blob, recovery_identity, oversight))
    user.awaiting_readmission = False
    audit.record(session, "readmit", None, None, {"user": user.id, "cases": len(cases)}, commit=False)
    session.commit()
    return len(cases)


# The audit trail's entries that put a user on a case or took them off it.
_KEY_ADDED = ("handover_add",)
_KEY_REMOVED = ("handover_remove", "conflict_key_removed")


def _taken_off(session, case: Case) -> set[int]:
    """Users whose key a holder (or the recovery key's holder) last took off ``case``."""
    last = {}
    for action, detail in session.execute(
            select(AuditEntry.action, AuditEntry.detail).where(
                AuditEntry.case_id == case.id, AuditEntry.action.in_(_KEY_ADDED + _KEY_REMOVED))
            .order_by(AuditEntry.id)):
        user_id = json.loads(detail or "{}").get("user")
        if isinstance(user_id, int):
            last[user_id] = action
    return {user_id for user_id, action in last.items() if action in _KEY_REMOVED}


@dataclass(frozen=True)
class MonitorsAdmitted:
    cases: int
    users: int
    items: int
    unopened: int


def admit_monitors(session, recovery_identity) -> MonitorsAdmitted:
    """Admit every active monitor user with a key to every case a partner forwarded here that they do
    not hold yet: the bundles' items were encrypted to the monitor users of their day and to this
    instance's recovery key, which adds a stanza for each newcomer to each item's header (the
    payload is untouched). Run again, it admits nobody twice: a holder is not added again, nor one
    a holder took off the case (a hand-over, a conflict of interest): that was a decision about
    them, not a key that came too late. An item the recovery key does not open is left as it is and
    counted apart."""
    monitors = list(session.scalars(select(User).where(
        User.role == "monitor", User.active.is_(True), User.recipient.is_not(None),
        User.activation_digest.is_(None)).order_by(User.id)))
    cases = users = items = unopened = 0
    for case in session.scalars(select(Case).where(Case.kind == "forwarded").order_by(Case.id)).all():
        held = {holder.user_id for holder in case.keyholders} | _taken_off(session, case)
        joining = [user for user in monitors if user.id not in held]
        if not joining:
            continue
        recipients = [crypto.parse_recipient(user.recipient) for user in joining]
        for item in _keyholders_items(case):
            try:
                _rewrite(item, lambda blob: crypto.add_recipients(blob, recovery_identity, recipients))
            except crypto.NoIdentityError:
                unopened += 1
                continue
            items += 1
        for user in joining:
            session.add(Keyholder(case_id=case.id, user_id=user.id))
        if case.lead_user_id is None:
            case.lead_user_id = joining[0].id
        audit.record(session, "forwards_rewrap", None, case.id, {"users": [u.id for u in joining]}, commit=False)
        cases, users = cases + 1, users + len(joining)
    session.commit()
    return MonitorsAdmitted(cases, users, items, unopened)
