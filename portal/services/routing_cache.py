"""Whom routing chooses among, kept by each process until someone changes it.

Every report reads the routing rules with their recipients, the users receiving
new cases, the monitor accounts and the instance's settings (the choices offered,
the recovery key): rows that change when an administrator
edits them, and otherwise stay the same for days. Each process keeps them as
plain, read-only views, valid for one value of the instance row's routing
generation; any change to a user, a rule, a workplace, a conflict or the settings, through the ORM or a statement,
raises the generation in the same transaction, so every process of every node
reads them again on its next report. A report reads the generation alone, then
routes from these views as if it had read the rows it stands for.

The registry's workplaces (what routing reads of them: active, country,
supplier) and the conflicts of interest are kept the same way. Electronics
Watch's instance is read for each report that goes to it, as before.
"""

import threading
import weakref
from dataclasses import dataclass

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ..models import Exclusion, Facility, Instance, RoutingRule, User
from . import instance as instance_service
from . import routing

# What routing reads of a user, a rule, a workplace and the instance's settings; the views carry nothing else.
_WATCHED = (User, RoutingRule, Facility, Instance, Exclusion)
_WATCHED_TABLES = frozenset(model.__table__.name for model in _WATCHED) | {"routing_rule_recipients"}


@dataclass(frozen=True)
class UserView:
    id: int
    role: str
    active: bool
    recipient: str | None
    activation_digest: bytes | None
    default_recipient: bool
    email: str | None
    language: str


@dataclass(frozen=True)
class RuleView:
    id: int
    facility_id: int | None
    supplier: str | None
    country: str | None
    category: str | None
    language: str | None
    urgent: bool | None
    recipients: tuple[UserView, ...]


@dataclass(frozen=True)
class FacilityView:
    id: int
    active: bool
    country: str
    supplier: str


@dataclass(frozen=True)
class SettingsView:
    """The instance's settings a report reads: the choices offered, the recovery key and its kind."""

    recipient_choices: str
    recovery_recipient: str
    post_quantum: bool


@dataclass(frozen=True)
class _Views:
    settings: SettingsView
    rules: tuple[RuleView, ...]
    default_recipients: tuple[UserView, ...]
    monitors: tuple[UserView, ...]
    facilities: dict
    # (user id, facility id, supplier) of every conflict of interest.
    exclusions: tuple


_GENERATION = select(Instance.created_at, Instance.routing_generation).where(Instance.id == 1)
_EXCLUSIONS = select(Exclusion.user_id, Exclusion.facility_id, Exclusion.supplier)
_FACILITIES = select(Facility.id, Facility.active, Facility.country, Facility.supplier)
_SETTINGS = select(Instance.recipient_choices, Instance.recovery_recipient, Instance.post_quantum).where(Instance.id == 1)
# The views must be the rows as they are now, not objects this session loaded earlier in its
# transaction (the instance it holds, a user it still refers to): those may predate the generation.
_FRESH = {"populate_existing": True}
# Per database engine: (its key, the views).
_kept = weakref.WeakKeyDictionary()
_lock = threading.Lock()
# Set in a transaction that changed a user or a rule: it routes from the rows, not the views.
_CHANGED = "portal.routing_changed"


def candidates(session) -> routing.Candidates:
    """Routing's candidates for one report, from this process's views when they are current."""
    return _CachedCandidates(session, _views(session))


class _CachedCandidates(routing.Candidates):
    def __init__(self, session, views: _Views):
        super().__init__(session)
        self.rules = list(views.rules)
        self.default_recipients = list(views.default_recipients)
        self.monitors = list(views.monitors)
        self.settings = views.settings
        self._facilities = views.facilities
        self._exclusions = views.exclusions

    def facility(self, facility_id: int) -> FacilityView | None:
        return self._facilities.get(facility_id)

    def conflicted(self, facility) -> set[int]:
        if facility is None:
            return set()
        return {user_id for user_id, facility_id, supplier in self._exclusions
                if facility_id == facility.id or (supplier is not None and supplier == facility.supplier)}


def _views(session) -> _Views:
    if session.info.get(_CHANGED):
        return _read(session)
    generation = session.connection().execute(_GENERATION).first()
    if generation is None:
        instance_service.load(session)  # raises NotInitialised
    # The instance's creation time tells one database from another restored in its place.
    key = (session.get_bind(), *generation)
    found = _kept.get(key[0])
    if found is not None and found[0] == key:
        return found[1]
    # Read after the generation: rows newer than it are read again at the next report, never
    # rows older than it kept as current.
    views = _read(session)
    with _lock:
        _kept[key[0]] = (key, views)
    return views


def _read(session) -> _Views:
    users = {}

    def view_of(user: User) -> UserView:
        if user.id not in users:
            users[user.id] = UserView(user.id, user.role, user.active, user.recipient, user.activation_digest,
                                      user.default_recipient, user.email, user.language)
        return users[user.id]

    settings = session.execute(_SETTINGS).one()
    views = _Views(
        settings=SettingsView(settings.recipient_choices, settings.recovery_recipient, settings.post_quantum),
        rules=tuple(RuleView(rule.id, rule.facility_id, rule.supplier, rule.country, rule.category, rule.language,
                             rule.urgent, tuple(view_of(u) for u in rule.recipients))
                    for rule in routing.ordered_rules(session, _FRESH)),
        default_recipients=tuple(view_of(u) for u in routing.default_recipients(session, _FRESH)),
        monitors=tuple(view_of(u) for u in routing.monitor_users(session, _FRESH)),
        facilities={row.id: FacilityView(row.id, row.active, row.country, row.supplier)
                    for row in session.execute(_FACILITIES)},
        exclusions=tuple(tuple(row) for row in session.execute(_EXCLUSIONS)),
    )
    return views


def _raise_generation(session) -> None:
    session.info[_CHANGED] = True
    session.connection().execute(
        update(Instance.__table__).values(routing_generation=Instance.__table__.c.routing_generation + 1))


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context) -> None:
    changed = session.new | session.dirty | session.deleted
    if any(isinstance(obj, _WATCHED) for obj in changed):
        _raise_generation(session)


@event.listens_for(Session, "do_orm_execute")
def _after_statement(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED_TABLES:
        _raise_generation(state.session)


@event.listens_for(Session, "after_transaction_end")
def _forget_changes(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)
