"""Who can open a case: its keyholders, the recovery key, and the reporter."""

from sqlalchemy import select

from ..models import Case, Keyholder, User
from . import instance as instance_service


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
    return recipients_for(session, holders_of(session, case), case.reporter_recipient if reporter else None)


def item_recipients(session, case: Case, kind: str, holders: list[User]) -> list:
    """The recipients of one item of ``case`` given its keyholders: notes are not the reporter's."""
    return recipients_for(session, holders, None if kind == "note" else case.reporter_recipient)
