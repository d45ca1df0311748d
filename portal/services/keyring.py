"""Who can open a case: its keyholders, the recovery key, and the reporter.

Two kinds of items follow other rules. What the keyholders write for each
other (notes, protection measures, who is disciplined) is never the
reporter's. The escalation record of a case is kept by the administrators for
the contracting authority: it is encrypted to those two roles, not to the
keyholders, and hand-overs of the case leave it alone.
"""

from sqlalchemy import select

from ..models import Case, Keyholder, User
from . import instance as instance_service

NOT_FOR_REPORTER = ("note", "measure", "discipline")
OVERSIGHT_KINDS = ("escalation", "escalation_file")
OVERSIGHT_ROLES = ("administrator", "authority")


def recipients_for(session, holders: list[User], reporter_recipient=None) -> list:
    """The keyholders, the organisation's recovery key and (unless None) the reporter."""
    recipients = [user.recipient for user in holders if user.recipient]
    recipients.append(instance_service.load(session).recovery_recipient)
    if reporter_recipient is not None:
        recipients.append(reporter_recipient)
    return recipients


def holders_of(session, case: Case) -> list[User]:
    return list(session.scalars(
        select(User).join(Keyholder, Keyholder.user_id == User.id).where(Keyholder.case_id == case.id)
    ))


def case_recipients(session, case: Case, *, reporter: bool = True) -> list:
    """Every recipient an item of ``case`` must be encrypted to; notes leave out the reporter."""
    # A case forwarded by a partner has no reporter key here ("").
    return recipients_for(session, holders_of(session, case), (case.reporter_recipient or None) if reporter else None)


def item_recipients(session, case: Case, kind: str, holders: list[User]) -> list:
    """The recipients of one keyholders' item of ``case`` given its keyholders."""
    return recipients_for(session, holders, None if kind in NOT_FOR_REPORTER else case.reporter_recipient or None)


def oversight_readers(session) -> list[User]:
    """The administrators and the contracting authority's users who have a key."""
    return list(session.scalars(select(User).where(User.role.in_(OVERSIGHT_ROLES), User.active.is_(True),
                                                   User.recipient.is_not(None)).order_by(User.id)))


def oversight_recipients(session) -> list:
    return recipients_for(session, oversight_readers(session))
