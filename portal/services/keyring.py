"""Who can open a case: its keyholders, the recovery key, and the reporter."""

from sqlalchemy import select

from ..models import Case, Keyholder, User
from . import instance as instance_service


def default_keyholders(session) -> list[User]:
    """Until routing rules exist, new cases go to the default investigators."""
    return list(
        session.scalars(
            select(User)
            .where(User.default_recipient.is_(True), User.active.is_(True))
            .where(User.recipient.is_not(None))
            .order_by(User.id)
        )
    )


def recipients_for(session, holders: list[User], reporter_recipient) -> list:
    """The keyholders, the organisation's recovery key and the reporter."""
    recipients = [user.recipient for user in holders if user.recipient]
    recipients.append(instance_service.load(session).recovery_recipient)
    recipients.append(reporter_recipient)
    return recipients


def case_recipients(session, case: Case) -> list[str]:
    """Every recipient an item of ``case`` must be encrypted to."""
    holders = session.scalars(
        select(User).join(Keyholder, Keyholder.user_id == User.id).where(
            Keyholder.case_id == case.id
        )
    )
    return recipients_for(session, list(holders), case.reporter_recipient)
