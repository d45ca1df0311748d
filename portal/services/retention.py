"""Retention: closed cases are deleted, with every encrypted item, once the
configured period after closing has passed. An audit entry without content
records each deletion.

A report is kept while a retaliation claim about it is still kept: the claim
points at it.
"""

from datetime import timedelta

from sqlalchemy import select

from ..models import Case
from . import audit, clock


def expired_cases(session, retention_days: int) -> list[Case]:
    """Closed cases whose retention period has passed, claims before the reports they point at."""
    if retention_days <= 0:
        return []
    cutoff = clock.today() - timedelta(days=retention_days)
    closed = list(session.scalars(select(Case).where(Case.status == "closed", Case.closed_on < cutoff)
                                  .order_by(Case.id)))
    if not closed:
        return []
    leaving = {case.id for case in closed}
    kept_for_claims = set(session.scalars(select(Case.related_case_id).where(
        Case.related_case_id.is_not(None), Case.id.not_in(leaving))))
    expired = [case for case in closed if case.id not in kept_for_claims]
    return sorted(expired, key=lambda case: (case.related_case_id is None, case.id))


def purge(session, retention_days: int) -> int:
    """Delete the expired closed cases; return how many went."""
    expired = expired_cases(session, retention_days)
    for case in expired:
        audit.record(session, "retention", None, case.id,
                     {"reference": case.reference, "kind": case.kind, "items": len(case.items)}, commit=False)
        session.delete(case)
        session.flush()
    session.commit()
    return len(expired)
