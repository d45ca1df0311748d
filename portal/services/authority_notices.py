"""The contract's mandatory notification of suspected forced or child labour:
Electronics Watch and the contracting authority must both be told.

Electronics Watch is told by a forward of the case (``outbound``): the day the
partner has it is the case's ``mandatory_notified_on``. At that moment every
active account of the contracting authority with an e-mail address is sent a
notice: the case's reference, the day and its categories, never what the
reporter wrote nor who they are. The day of that notice is the case's
``authority_notified_on``, and from then on the authority may open the case's
oversight view (``oversight.visible_case``).

Without such an account, nobody is told: the administrators get an alert and
an e-mail, and the notice goes as soon as an account exists (``catch_up``, run
by the notifications job before it sends). A report the worker sent to
Electronics Watch alone is not the contractor's to pass on: the authority is
not told of it by this portal.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..models import Case, RoutingAlert, User
from . import audit, clock, notifications, routing

AUTHORITY_ROLE = "authority"
NO_AUTHORITY_ALERT = "no_authority"
ADMINISTRATORS_PAGE = "/admin/users#authority-notices"


def concerns_authority(case: Case) -> bool:
    """Whether the authority is to be told of this case's mandatory notification by this portal."""
    return bool(case.mandatory_notification) and case.kind != "forwarded" and case.recipient_choice != "monitor"


def authority_readers(session) -> list[User]:
    """The contracting authority's active accounts that an e-mail can reach."""
    return list(session.scalars(select(User).where(User.role == AUTHORITY_ROLE, User.active.is_(True),
                                                   User.email.is_not(None)).order_by(User.id)))


def monitor_notified(session, case: Case, base_url: str) -> None:
    """Electronics Watch has the case's mandatory notification (today): record it and tell the authority.

    In the caller's transaction (not committed here)."""
    if case.kind == "forwarded" or not case.mandatory_notification or case.mandatory_notified_on is not None:
        # A partner's case we answer is the partner's to notify.
        return
    case.mandatory_notified_on = clock.today()
    if concerns_authority(case):
        _tell_authority(session, case, base_url, authority_readers(session))


def _tell_authority(session, case: Case, base_url: str, readers: list[User]) -> None:
    if not readers:
        _alert_administrators(session, case, base_url)
        return
    case.authority_notified_on = clock.today()
    notifications.queue_mandatory_notice(session, readers, case, base_url, f"/oversight/cases/{case.id}")
    for alert in _open_alerts(session, case.id):
        # The day only, as the alert itself: the notice may go as the worker's report arrives.
        alert.resolved_at = clock.start_of_today()
    audit.record(session, "authority_notified", None, case.id, {"accounts": len(readers)}, commit=False)


def _open_alerts(session, case_id: int) -> list[RoutingAlert]:
    return list(session.scalars(select(RoutingAlert).where(RoutingAlert.case_id == case_id,
                                                           RoutingAlert.code == NO_AUTHORITY_ALERT,
                                                           RoutingAlert.resolved_at.is_(None))))


def _alert_administrators(session, case: Case, base_url: str) -> None:
    if _open_alerts(session, case.id):
        return
    routing.raise_alert(session, case.id, NO_AUTHORITY_ALERT)
    administrators = list(session.scalars(select(User).where(User.role == "administrator", User.active.is_(True))
                                          .order_by(User.id)))
    notifications.queue_for(session, administrators, case, base_url, ADMINISTRATORS_PAGE)


def waiting(session) -> list[Case]:
    """Cases Electronics Watch was notified of whose notice has not reached the authority yet."""
    found = session.scalars(select(Case).where(Case.mandatory_notified_on.is_not(None),
                                               Case.authority_notified_on.is_(None)).order_by(Case.id))
    return [case for case in found if concerns_authority(case)]


def catch_up(session, base_url: str) -> int:
    """Tell the authority of every waiting case, once it has an account; returns how many were told."""
    readers = authority_readers(session)
    cases = waiting(session) if readers else []
    for case in cases:
        _tell_authority(session, case, base_url, readers)
    session.commit()
    return len(cases)


@dataclass(frozen=True)
class Notification:
    case: Case
    monitor_on: date
    authority_on: date | None


def notifications_for(session, user: User) -> list[Notification]:
    """The mandatory notifications the oversight pages list, newest first: the authority sees those it
    was told of; administrators also see those still waiting for an authority account."""
    query = select(Case).where(Case.mandatory_notified_on.is_not(None))
    if user.role == AUTHORITY_ROLE:
        query = query.where(Case.authority_notified_on.is_not(None))
    found = session.scalars(query.order_by(Case.mandatory_notified_on.desc(), Case.id.desc()))
    return [Notification(case, case.mandatory_notified_on, case.authority_notified_on)
            for case in found if concerns_authority(case)]
