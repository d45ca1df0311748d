"""The lead of a case: the keyholder who answers for it, and whom deadline reminders reach.

A case's lead is its first routed keyholder (set at intake). Any keyholder may
make another keyholder lead, or hand the case over to them with a note: the
note is an internal note of the case (encrypted to its keyholders and the
recovery key, never the reporter), and the new lead gets an e-mail that names
the case only. When the lead stops holding the case, the lead passes to
another holder. Every change is audited.
"""

from sqlalchemy import select

from ..models import Case, Keyholder, User
from . import audit, messaging, notifications
from .refusal import Refusal


class LeadError(Refusal):
    """Someone who cannot lead the case: "not_holder", or "note" (a hand-over without a note)."""


def lead_of(session, case: Case) -> User | None:
    return session.get(User, case.lead_user_id) if case.lead_user_id else None


def _holds(session, case: Case, user: User) -> bool:
    return session.scalar(select(Keyholder.id).where(Keyholder.case_id == case.id,
                                                     Keyholder.user_id == user.id)) is not None


def make_lead(session, actor: User, case: Case, colleague: User) -> None:
    """``colleague``, a keyholder of the case, leads it from now on."""
    _change(session, actor, case, colleague, handed_over=False)
    session.commit()


def hand_over(session, actor: User, case: Case, colleague: User, note: str, base_url: str) -> None:
    """Make ``colleague`` lead with a note to them, kept as an internal note of the case;
    they are told by an e-mail that says nothing of the case but its number."""
    if not note.strip():
        raise LeadError("note")
    _change(session, actor, case, colleague, handed_over=True)
    messaging.add_note(session, case, actor, note, commit=False)
    notifications.queue_for(session, [colleague], case, base_url)
    session.commit()


def _change(session, actor: User, case: Case, colleague: User, handed_over: bool) -> None:
    if not colleague.active or not _holds(session, case, colleague):
        raise LeadError("not_holder")
    before = case.lead_user_id
    case.lead_user_id = colleague.id
    audit.record(session, "lead_changed", actor, case.id,
                 {"user": colleague.id, "before": before, "handed_over": handed_over}, commit=False)


def pass_on(session, actor: User | None, case: Case, leaving_user_id: int) -> None:
    """The lead ``leaving_user_id`` no longer holds the case: the longest-standing other
    holder leads it (none if nobody else holds it). In the caller's transaction."""
    if case.lead_user_id != leaving_user_id:
        return
    successor = session.scalar(
        select(Keyholder.user_id).join(User, User.id == Keyholder.user_id)
        .where(Keyholder.case_id == case.id, Keyholder.user_id != leaving_user_id)
        .order_by(User.active.desc(), Keyholder.id).limit(1))
    case.lead_user_id = successor
    audit.record(session, "lead_changed", actor, case.id,
                 {"user": successor, "before": leaving_user_id, "handed_over": False}, commit=False)
