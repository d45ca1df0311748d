"""What the contracting authority and administrators see of a case on the
oversight pages: the escalation record of the contract's section 4, and the
audit entries of the cases the authority may see.

The authority sees only what was escalated or notified to it (the day its
accounts were told of a mandatory notification, ``authority_notices``); nobody
at the contractor sees a case the worker sent to Electronics Watch alone."""

from sqlalchemy import exists, or_, select

from ..models import Case, EscalationStep

AUTHORITY = "authority"


def visible_case(session, user, case_id: int) -> Case | None:
    """The case, if ``user``'s role may open its escalation record; None otherwise (the page answers 404)."""
    case = session.get(Case, case_id)
    if case is None or case.kind == "forwarded" or case.recipient_choice == "monitor":
        return None
    if user.role == AUTHORITY and not (case.authority_notified_on is not None or _escalated(session, case.id)):
        return None
    return case


def authority_case_ids(session) -> set[int]:
    """Every case the contracting authority may see: the same rule as ``visible_case``, for a list."""
    return set(session.scalars(select(Case.id).where(*authority_may_see())))


def contractor_may_see():
    """The conditions on a case that anyone at the contractor may know of: not one the worker sent
    to Electronics Watch alone, nor one another instance forwarded to this one."""
    return (Case.kind != "forwarded", Case.recipient_choice != "monitor")


def authority_may_see():
    """``visible_case``'s rule for the authority, as conditions on ``Case`` for a query.

    The escalated cases as one list (few), not a look-up for every case a query passes."""
    escalated = Case.id.in_(select(EscalationStep.case_id))
    return (*contractor_may_see(), or_(Case.authority_notified_on.is_not(None), escalated))


def _escalated(session, case_id: int) -> bool:
    return bool(session.scalar(select(exists().where(EscalationStep.case_id == case_id))))
