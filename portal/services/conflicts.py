"""Conflicts of interest with cases a user already holds.

Routing keeps a user with a conflict of interest (``routing``: a facility, or
a supplier's facilities) away from new cases. A conflict declared later bars
the user from the cases of that facility or supplier they already hold keys
to, from that moment: the inbox leaves them out and every case page refuses
them (``open_to`` is the one rule that the inbox list and ``cases.for_keyholder``
apply). Their stanza stays in the items until another holder removes it
(``handover.remove_conflicted``) or, when nobody else can open the case, the
recovery key ceremony gives the case to someone and removes it; such a case
raises an alert for administrators. Removing the conflict lifts the bar; a
stanza already removed stays removed.
"""

from dataclasses import dataclass

from sqlalchemy import or_, select

from ..models import Case, Exclusion, Facility, Keyholder, RoutingAlert, User
from . import audit, clock, routing

ALERT = "conflicted_holder"


@dataclass(frozen=True)
class HeldCase:
    """A case the conflicted user holds a key to, and whether anyone else can open it."""

    case: Case
    others_can_open: bool


def barred_facility_ids(session, user_id: int) -> set[int]:
    """The facilities whose cases ``user_id`` may not open: a conflict with them or with their supplier."""
    rows = session.execute(select(Exclusion.facility_id, Exclusion.supplier)
                           .where(Exclusion.user_id == user_id)).all()
    barred = {facility_id for facility_id, _supplier in rows if facility_id is not None}
    suppliers = {supplier for _facility_id, supplier in rows if supplier is not None}
    if suppliers:
        barred |= set(session.scalars(select(Facility.id).where(Facility.supplier.in_(suppliers))))
    return barred


def open_to(session, user_id: int) -> list:
    """Conditions on ``Case`` that leave out the cases ``user_id`` is barred from (none if no conflict)."""
    barred = barred_facility_ids(session, user_id)
    if not barred:
        return []
    return [or_(Case.facility_id.is_(None), Case.facility_id.not_in(sorted(barred)))]


def bars(session, user_id: int, case_id: int) -> bool:
    """Whether ``user_id`` holds a key to the case but a conflict of interest bars them from it."""
    case = session.scalar(select(Case).join(Keyholder, Keyholder.case_id == Case.id)
                          .where(Case.id == case_id, Keyholder.user_id == user_id))
    return case is not None and case.facility_id in barred_facility_ids(session, user_id)


def holder_conflicted():
    """A SQL condition, correlated on ``Keyholder`` and ``Case``: the holder has a conflict with the case."""
    supplier = select(Facility.supplier).where(Facility.id == Case.facility_id).scalar_subquery()
    return select(Exclusion.id).where(Exclusion.user_id == Keyholder.user_id, or_(
        Exclusion.facility_id == Case.facility_id,
        Exclusion.supplier.is_not(None) & (Exclusion.supplier == supplier),
    )).exists()


def conflicted_holder_ids(session, case: Case) -> set[int]:
    """The holders of ``case`` who have a conflict of interest with it."""
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    conflicted = routing.conflicted_user_ids(session, facility)
    if not conflicted:
        return set()
    return set(session.scalars(select(Keyholder.user_id).where(Keyholder.case_id == case.id,
                                                               Keyholder.user_id.in_(conflicted))))


def _barred_held_cases(session, user_id: int) -> list[Case]:
    barred = barred_facility_ids(session, user_id)
    if not barred:
        return []
    return list(session.scalars(select(Case).join(Keyholder, Keyholder.case_id == Case.id)
                                .where(Keyholder.user_id == user_id, Case.facility_id.in_(sorted(barred)))
                                .order_by(Case.id)))


def _others_can_open(session, case: Case) -> bool:
    """Whether a holder of ``case`` without a conflict can open it (an active account with a key)."""
    conflicted = conflicted_holder_ids(session, case)
    holders = session.scalars(select(User).join(Keyholder, Keyholder.user_id == User.id)
                              .where(Keyholder.case_id == case.id))
    return any(routing.usable(user) and user.id not in conflicted for user in holders)


def held_cases(session, exclusion: Exclusion) -> list[HeldCase]:
    """The cases the conflict's user holds a key to and that it covers, in order."""
    if exclusion.facility_id is not None:
        covered = Case.facility_id == exclusion.facility_id
    else:
        covered = Case.facility_id.in_(select(Facility.id).where(Facility.supplier == exclusion.supplier))
    found = session.scalars(select(Case).join(Keyholder, Keyholder.case_id == Case.id)
                            .where(Keyholder.user_id == exclusion.user_id, covered).order_by(Case.id))
    return [HeldCase(case, _others_can_open(session, case)) for case in found]


def declare(session, actor: User | None, user_id: int, facility_id: int | None = None,
            supplier: str | None = None) -> Exclusion:
    """Record a conflict of interest and bar its user from the cases it covers that they hold.

    Each case newly barred is in the audit trail; one that nobody else can open
    raises an alert, for the recovery key ceremony."""
    before = {case.id for case in _barred_held_cases(session, user_id)}
    exclusion = routing.add_exclusion(session, user_id, facility_id=facility_id, supplier=supplier, actor=actor,
                                      commit=False)
    for case in _barred_held_cases(session, user_id):
        if case.id in before:
            continue
        audit.record(session, "conflict_block", actor, case.id, {"user": user_id}, commit=False)
        if not _others_can_open(session, case):
            routing.raise_alert(session, case.id, ALERT, detail=str(user_id))
    session.commit()
    return exclusion


def withdraw(session, actor: User | None, exclusion: Exclusion) -> None:
    """Remove a conflict of interest: the cases it alone barred open again for their holder
    (with the key they still hold: a stanza removed meanwhile stays removed)."""
    user_id = exclusion.user_id
    before = {case.id for case in _barred_held_cases(session, user_id)}
    routing.remove_exclusion(session, exclusion.id, actor=actor, commit=False)
    after = {case.id for case in _barred_held_cases(session, user_id)}
    for case_id in sorted(before - after):
        audit.record(session, "conflict_unblock", actor, case_id, {"user": user_id}, commit=False)
        resolve_alerts(session, case_id, user_id)
    session.commit()


def resolve_alerts(session, case_id: int, user_id: int | None = None) -> None:
    """Close the open conflict alerts of a case (of one conflicted user, or all of them)."""
    query = select(RoutingAlert).where(RoutingAlert.case_id == case_id, RoutingAlert.code == ALERT,
                                       RoutingAlert.resolved_at.is_(None))
    if user_id is not None:
        query = query.where(RoutingAlert.detail == str(user_id))
    for alert in session.scalars(query):
        alert.resolved_at = clock.now()
