"""What the contracting authority and administrators see of a case on the
oversight pages: the escalation record of the contract's section 4.

The authority sees only what was escalated or notified to it; nobody at the
contractor sees a case the worker sent to Electronics Watch alone."""

from sqlalchemy import exists, select

from ..models import Case, EscalationStep

AUTHORITY = "authority"


def visible_case(session, user, case_id: int) -> Case | None:
    """The case, if ``user``'s role may open its escalation record; None otherwise (the page answers 404)."""
    case = session.get(Case, case_id)
    if case is None or case.kind == "forwarded" or case.recipient_choice == "monitor":
        return None
    if user.role == AUTHORITY and not (case.mandatory_notified_on is not None or _escalated(session, case.id)):
        return None
    return case


def _escalated(session, case_id: int) -> bool:
    return bool(session.scalar(select(exists().where(EscalationStep.case_id == case_id))))
