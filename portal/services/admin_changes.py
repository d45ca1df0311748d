"""An administrator's change to routing, settings or an account: never silent.

Each change is one audit entry with its before and after in words (names of
people, facilities and rules beside their ids). A change that lets someone
receive future cases they could not receive before (who they are is the
caller's set difference, ``routing.gained_readers``) is also told by e-mail to
every other active administrator; the entry names who was told, or that
nobody else could be.
"""

from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..models import Facility, User
from . import audit, notifications

# What the e-mail calls each change (the audit page has its own labels).
CHANGES = {
    "rule_created": _l("a routing rule was created"),
    "rule_changed": _l("a routing rule was changed"),
    "rule_moved": _l("a routing rule was moved"),
    "rule_deleted": _l("a routing rule was deleted"),
    "conflict_declared": _l("a conflict of interest was declared"),
    "conflict_removed": _l("a conflict of interest was removed"),
    "settings_changed": _l("the settings were changed"),
    "account_changed": _l("an account's role or \"receives new cases\" was changed"),
    "account_deactivated": _l("an account was closed"),
    "account_reactivated": _l("an account was opened again"),
}


def person(user: User | None) -> str | None:
    """A staff member as the trail names them: display name and username."""
    return None if user is None else f"{user.display_name} ({user.username})"


def facility_name(session, facility_id: int | None) -> str | None:
    facility = session.get(Facility, facility_id) if facility_id is not None else None
    if facility is None:
        return None if facility_id is None else f"#{facility_id}"
    return f"{facility.name} ({facility.country})"


def other_administrators(session, actor) -> list[User]:
    actor_id = getattr(actor, "id", actor)
    return list(session.scalars(select(User).where(User.role == "administrator", User.active.is_(True),
                                                   User.id != actor_id).order_by(User.id)))


def record(session, actor, action: str, detail: dict, new_readers: list[User] = ()) -> None:
    """Append the change's audit entry in the session's transaction (the caller commits).

    With ``new_readers``, each other active administrator who has an e-mail address is
    told who made the change and who can now receive future cases; never any case.
    """
    detail = dict(detail)
    if new_readers:
        told = [user for user in other_administrators(session, actor) if user.email]
        detail["new_readers"] = [person(user) for user in new_readers]
        detail["told"] = [person(user) for user in told]
        actor_user = session.get(User, getattr(actor, "id", actor)) if actor is not None else None
        name = detail.get("name")
        for administrator in told:
            with force_locale(administrator.language or "en"):
                subject = gettext("Someone new can receive future cases")
                change = f"{CHANGES[action]} ({name})" if name else str(CHANGES[action])
                body = gettext(
                    "%(actor)s made a change in the secure inbox: %(change)s.\n\n"
                    "From now on these people can receive new cases they could not receive before: "
                    "%(readers)s.\n\n"
                    "The audit trail shows the change with what it was before. If you did not expect it, "
                    "look into it now.\n\n"
                    "This message says nothing about any case on purpose.",
                    actor=person(actor_user) or gettext("Nobody known"), change=change,
                    readers=", ".join(detail["new_readers"]),
                )
            notifications.queue_message(session, administrator, subject, body)
    audit.record(session, action, actor, detail=detail, commit=False)
