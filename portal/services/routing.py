"""Routing: who receives a new case, and who must never.

The first rule (in order) whose set fields all match the report names the
receiving users; a rule with no field set catches everything. Whatever the
rules say, users with a conflict of interest for the facility or its supplier
are left out, and so is anyone the reporter asked to leave out; a rule left
with nobody passes the report to the next matching rule, and the last to the
users marked "receives new cases". If the reporter chose the independent
monitor only, no contractor user gets a key: the report goes to Electronics
Watch's own instance (and to monitor accounts here, if any). A report nobody
can receive is refused before it is stored, so the worker can choose again:
no case is ever stored for the recovery key alone.
"""

import functools
from dataclasses import dataclass, field
from itertools import product

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import selectinload

from ..models import CATEGORIES, Exclusion, Facility, Instance, Partner, RoutingAlert, RoutingRule, User
from . import admin_changes, clock, partners
from . import instance as instance_service
from .refusal import Refusal

CHOICES = ("contractor", "monitor", "both")
CONTRACTOR_ROLES = ("investigator", "retaliation_officer", "administrator")
MONITOR_ROLE = "monitor"
# The contract's due-diligence clause: these always reach Electronics Watch.
MANDATORY_CATEGORIES = frozenset({"forced_labour", "child_labour"})


class RoutingError(Refusal):
    """A rule, choice or exclusion routing cannot accept."""


@dataclass
class Sample:
    """What routing may know of a report (all of it plaintext-safe but the exclusions)."""

    categories: list[str]
    language: str
    urgent: bool = False
    facility_id: int | None = None
    recipient_choice: str = "contractor"
    excluded_user_ids: list[int] = field(default_factory=list)


@dataclass
class Decision:
    rule: RoutingRule | None
    users: list[User]
    left_out: list[tuple[User, str]]
    mandatory: bool
    # "no_recipient": nobody of the contractor's can receive it; "no_monitor": nobody at
    # Electronics Watch can. A report with an alert is refused before anything is stored.
    alert: str | None
    # Electronics Watch's own instance, which receives the report at once as a forward.
    partner: Partner | None = None

    @property
    def receivable(self) -> bool:
        return self.alert is None


def usable(user: User) -> bool:
    return bool(user.active and user.recipient and user.activation_digest is None)


def matches(rule: RoutingRule, sample: Sample, facility: Facility | None) -> bool:
    if rule.facility_id is not None and rule.facility_id != sample.facility_id:
        return False
    if rule.country is not None and (facility is None or facility.country != rule.country):
        return False
    if rule.supplier is not None and (facility is None or facility.supplier.casefold() != rule.supplier.casefold()):
        return False
    if rule.category is not None and rule.category not in sample.categories:
        return False
    if rule.language is not None and rule.language != sample.language:
        return False
    if rule.urgent is not None and rule.urgent != sample.urgent:
        return False
    return True


# Built once: every report and blank form runs them, a statement never changes, and
# SQLAlchemy keeps a statement's cache key on it instead of working it out each time.
# The rules' recipients come with them in one more statement, not one statement a rule.
_ORDERED_RULES = (select(RoutingRule).options(selectinload(RoutingRule.recipients))
                  .order_by(RoutingRule.position, RoutingRule.id))
_DEFAULT_RECIPIENTS = (select(User).where(User.default_recipient.is_(True))
                       .where(User.role.in_(CONTRACTOR_ROLES)).order_by(User.id))
_MONITOR_USERS = select(User).where(User.role == MONITOR_ROLE).order_by(User.id)
_FACILITY = select(Facility).where(Facility.id == bindparam("id"))


def ordered_rules(session, execution_options=None) -> list[RoutingRule]:
    return list(session.scalars(_ORDERED_RULES, execution_options=execution_options or {}))


def default_recipients(session, execution_options=None) -> list[User]:
    return list(session.scalars(_DEFAULT_RECIPIENTS, execution_options=execution_options or {}))


def monitor_users(session, execution_options=None) -> list[User]:
    return list(session.scalars(_MONITOR_USERS, execution_options=execution_options or {}))


class Candidates:
    """Whom routing chooses among, read once for all the questions one report asks (which
    choices can be received, then who receives it): the rules in order, the users receiving
    new cases, the monitor accounts and Electronics Watch's receiving instance. Each is read
    when first asked for: a report for the contractor alone needs no monitor."""

    def __init__(self, session):
        self._session = session

    @functools.cached_property
    def rules(self) -> list[RoutingRule]:
        return ordered_rules(self._session)

    @functools.cached_property
    def default_recipients(self) -> list[User]:
        return default_recipients(self._session)

    @functools.cached_property
    def monitors(self) -> list[User]:
        return monitor_users(self._session)

    @functools.cached_property
    def partner(self) -> Partner | None:
        return partners.receiving_partner(self._session)

    @functools.cached_property
    def settings(self) -> Instance:
        """The instance's settings: ``recipient_choices``, ``recovery_recipient``, ``post_quantum``."""
        return instance_service.load(self._session)

    def conflicted(self, facility: Facility | None) -> set[int]:
        """The users a conflict of interest bars from reports about ``facility``."""
        return conflicted_user_ids(self._session, facility)

    def facility(self, facility_id: int) -> Facility | None:
        """A workplace of the registry, active or not."""
        return self._session.scalar(_FACILITY, {"id": facility_id})


def decide(session, sample: Sample, among: Candidates | None = None, facility: Facility | None = None) -> Decision:
    """Who receives a report like ``sample``; ``among`` and ``facility`` (the sample's): if already read."""
    if sample.recipient_choice not in CHOICES:
        raise RoutingError("choice")
    among = among or Candidates(session)
    if facility is None and sample.facility_id:
        facility = session.get(Facility, sample.facility_id)
    conflicted = among.conflicted(facility)
    left_out = []

    def receivers(users: list[User]) -> list[User]:
        return admissible(session, sample, users, left_out, conflicted)

    rule, users, alert, partner = None, [], None, None
    if sample.recipient_choice in ("contractor", "both"):
        # A rule everyone of is left out does not stop the report: the next matching
        # rule takes it, and after the last one the users marked "receives new cases".
        for candidate in among.rules:
            if matches(candidate, sample, facility):
                users = receivers([u for u in candidate.recipients if u.role in CONTRACTOR_ROLES])
                if users:
                    rule = candidate
                    break
        else:
            users = receivers(among.default_recipients)
        if not users:
            alert = "no_recipient"
    if sample.recipient_choice in ("monitor", "both"):
        monitors = receivers(among.monitors)
        partner = among.partner
        if not monitors and partner is None:
            alert = alert or "no_monitor"
        users += monitors
    mandatory = bool(MANDATORY_CATEGORIES & set(sample.categories))
    return Decision(rule, users, left_out, mandatory, alert, partner)


def receivable_choices(session, among: Candidates | None = None) -> list[str]:
    """The recipient choices someone active can receive now, in a fixed order."""
    among = among or Candidates(session)
    return [choice for choice in CHOICES if can_receive(among, choice)]


def can_receive(among: Candidates, choice: str) -> bool:
    """Whether someone active can receive a report for ``choice`` now.

    The contractor's part needs a usable person named by a rule or receiving new
    cases; Electronics Watch's part a usable monitor account here or a partner
    instance that publishes monitor recipients.
    """
    if choice == "both":
        return can_receive(among, "contractor") and can_receive(among, "monitor")
    if choice == "contractor":
        named = {user.id: user for rule in among.rules for user in rule.recipients}
        named.update({user.id: user for user in among.default_recipients})
        return any(usable(u) and u.role in CONTRACTOR_ROLES for u in named.values())
    if choice == "monitor":
        return any(usable(u) for u in among.monitors) or among.partner is not None
    return False


def admissible(session, sample: Sample, users, left_out: list | None = None,
               conflicted: set[int] | None = None) -> list[User]:
    """Those of ``users`` that ``sample``'s routing allows to read it, in order, once each.

    The same limits as a new case's: the reporter's choice (contractor users,
    the monitor, or both), conflicts of interest as they stand today, the
    handlers the reporter left out, and only users who can receive keys. Used
    for a new case (``decide``) and for what follows a report (a retaliation
    claim). With ``left_out``, each user refused for a conflict ("conflict"), the
    reporter's wish ("reporter") or no usable key ("inactive") is added to it
    once, with the reason. ``conflicted``: the users with a conflict for the
    sample's facility, if already read.
    """
    roles = set()
    if sample.recipient_choice in ("contractor", "both"):
        roles |= set(CONTRACTOR_ROLES)
    if sample.recipient_choice in ("monitor", "both"):
        roles.add(MONITOR_ROLE)
    if conflicted is None:
        facility = session.get(Facility, sample.facility_id) if sample.facility_id else None
        conflicted = conflicted_user_ids(session, facility)
    allowed, seen = [], set()
    for user in users:
        if user.id in seen or user.role not in roles:
            continue
        seen.add(user.id)
        reason = ("conflict" if user.id in conflicted else "reporter" if user.id in sample.excluded_user_ids
                  else None if usable(user) else "inactive")
        if reason is None:
            allowed.append(user)
        elif left_out is not None and all(other.id != user.id for other, _ in left_out):
            left_out.append((user, reason))
    return allowed


_CONFLICTED = select(Exclusion.user_id).where(or_(
    Exclusion.facility_id == bindparam("facility_id"),
    Exclusion.supplier.is_not(None) & (Exclusion.supplier == bindparam("supplier")),
))


def conflicted_user_ids(session, facility: Facility | None) -> set[int]:
    if facility is None:
        return set()
    return set(session.scalars(_CONFLICTED, {"facility_id": facility.id, "supplier": facility.supplier}))


def raise_alert(session, case_id: int | None, code: str, detail: str = "") -> None:
    # The day only: the alert is written as the case arrives, and must not tell its hour.
    session.add(RoutingAlert(case_id=case_id, code=code, created_at=clock.start_of_today(), detail=detail))


def open_alerts(session) -> list[RoutingAlert]:
    return list(session.scalars(select(RoutingAlert).where(RoutingAlert.resolved_at.is_(None))
                                .order_by(RoutingAlert.id.desc())))


def check_rule(session, *, facility_id=None, supplier=None, country=None, category=None, language=None,
               urgent=None, recipient_ids=(), languages=()) -> list[User]:
    """Refuse a rule that can never match or names no usable recipient; return its users."""
    facility = None
    if facility_id is not None:
        facility = session.get(Facility, facility_id)
        if facility is None or not facility.active:
            raise RoutingError("facility")
        if country is not None and facility.country != country:
            raise RoutingError("never_matches")
        if supplier is not None and facility.supplier.casefold() != supplier.casefold():
            raise RoutingError("never_matches")
    if supplier is not None and country is not None and facility is None:
        if session.scalar(select(Facility.id).where(Facility.active.is_(True), Facility.country == country,
                                                    Facility.supplier == supplier).limit(1)) is None:
            raise RoutingError("never_matches")
    if supplier is not None and facility is None and session.scalar(
            select(Facility.id).where(Facility.active.is_(True), Facility.supplier == supplier).limit(1)) is None:
        raise RoutingError("supplier")
    if category is not None and category not in CATEGORIES:
        raise RoutingError("category")
    if language is not None and languages and language not in languages:
        raise RoutingError("language")
    if not recipient_ids:
        raise RoutingError("no_recipients")
    recipients = list(session.scalars(select(User).where(User.id.in_(list(recipient_ids)))))
    if len(recipients) != len(set(recipient_ids)) or not all(usable(u) for u in recipients):
        raise RoutingError("recipient")
    if any(u.role not in CONTRACTOR_ROLES for u in recipients):
        raise RoutingError("recipient_role")
    return recipients


def _rule_view(session, rule: RoutingRule) -> dict:
    """A rule as the audit trail tells it: its name, position, the fields set and who receives."""
    view = {"name": rule.name, "position": rule.position}
    if rule.facility_id is not None:
        view["facility"] = admin_changes.facility_name(session, rule.facility_id)
    for key in ("supplier", "country", "category", "language", "urgent"):
        if getattr(rule, key) is not None:
            view[key] = getattr(rule, key)
    view["recipients"] = sorted(admin_changes.person(u) for u in rule.recipients)
    return view


def save_rule(session, actor, *, name: str, recipient_ids, languages=(), rule_id: int | None = None,
              **fields) -> RoutingRule:
    """Create or change a rule, audited with its before and after."""
    recipients = check_rule(session, recipient_ids=recipient_ids, languages=languages, **fields)
    readers_before = readers(session)
    rule = session.get(RoutingRule, rule_id) if rule_id else None
    before = None if rule is None else _rule_view(session, rule)
    if rule is None:
        last = session.scalar(select(RoutingRule.position).order_by(RoutingRule.position.desc()).limit(1))
        rule = RoutingRule(position=(last or 0) + 1)
        session.add(rule)
    rule.name = (name or "").strip() or "rule"
    for key in ("facility_id", "supplier", "country", "category", "language", "urgent"):
        setattr(rule, key, fields.get(key))
    rule.recipients = recipients
    session.flush()
    after = _rule_view(session, rule)
    if before != after:
        detail = {"rule": rule.id, "name": rule.name, "after": after}
        if before is not None:
            detail["before"] = before
        admin_changes.record(session, actor, "rule_created" if before is None else "rule_changed", detail,
                             gained_readers(session, readers_before))
    session.commit()
    return rule


def move_rule(session, actor, rule_id: int, step: int) -> None:
    """One place up (``step`` -1) or down (1), audited with the order before and after."""
    rules = ordered_rules(session)
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        raise RoutingError("rule")
    target = index + step
    if not 0 <= target < len(rules):
        return  # the first rule up, or the last down: nothing changes
    readers_before = readers(session)
    order_before = [r.name for r in rules]
    rules[index], rules[target] = rules[target], rules[index]
    for position, rule in enumerate(rules, 1):
        rule.position = position
    session.flush()
    moved, passed = rules[target], rules[index]
    admin_changes.record(session, actor, "rule_moved", {
        "rule": moved.id, "name": moved.name,
        "before": {"position": index + 1, "order": order_before},
        "after": {"position": target + 1, "order": [r.name for r in rules]},
        "above" if step < 0 else "below": passed.name,
    }, gained_readers(session, readers_before))
    session.commit()


def delete_rule(session, actor, rule_id: int) -> None:
    """Delete a rule, audited with what it was."""
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise RoutingError("rule")
    readers_before = readers(session)
    detail = {"rule": rule.id, "name": rule.name, "before": _rule_view(session, rule)}
    session.delete(rule)
    session.flush()
    admin_changes.record(session, actor, "rule_deleted", detail, gained_readers(session, readers_before))
    session.commit()


def _conflict_view(session, exclusion: Exclusion) -> dict:
    view = {"user": admin_changes.person(session.get(User, exclusion.user_id))}
    if exclusion.facility_id is not None:
        view["facility"] = admin_changes.facility_name(session, exclusion.facility_id)
    if exclusion.supplier is not None:
        view["supplier"] = exclusion.supplier
    return view


def add_exclusion(session, user_id: int, facility_id: int | None = None, supplier: str | None = None,
                  *, actor=None, commit: bool = True) -> Exclusion:
    """Declare a conflict of interest, audited (``conflicts.declare`` also bars the cases held)."""
    if (facility_id is None) == (supplier is None):
        raise RoutingError("exclusion")
    if session.get(User, user_id) is None:
        raise RoutingError("recipient")
    if facility_id is not None and session.get(Facility, facility_id) is None:
        raise RoutingError("facility")
    readers_before = readers(session)
    exclusion = Exclusion(user_id=user_id, facility_id=facility_id, supplier=supplier)
    session.add(exclusion)
    session.flush()
    view = _conflict_view(session, exclusion)
    admin_changes.record(session, actor, "conflict_declared", {
        "conflict": exclusion.id, "user_id": user_id, "name": view["user"], "after": view},
        gained_readers(session, readers_before))
    if commit:
        session.commit()
    return exclusion


def remove_exclusion(session, exclusion_id: int, *, actor=None, commit: bool = True) -> None:
    """Take back a conflict of interest, audited; its user may receive those cases again."""
    exclusion = session.get(Exclusion, exclusion_id)
    if exclusion is None:
        raise RoutingError("exclusion")
    readers_before = readers(session)
    detail = {"conflict": exclusion.id, "user_id": exclusion.user_id, "before": _conflict_view(session, exclusion)}
    detail["name"] = detail["before"]["user"]
    session.delete(exclusion)
    session.flush()
    admin_changes.record(session, actor, "conflict_removed", detail, gained_readers(session, readers_before))
    if commit:
        session.commit()


# A category or language no rule names: it stands for all of them.
_UNNAMED = ""


@dataclass(frozen=True)
class Readers:
    """Who would receive a new report that leaves nobody out, for each kind of report
    the rules and conflicts tell apart (facility, category, language, urgency)."""

    by_kind: dict
    categories: frozenset
    languages: frozenset
    facilities: frozenset
    # Facilities no rule or conflict names behave as the first of their country and supplier.
    stands_for: dict

    def of(self, kind) -> frozenset:
        facility_id, category, language, urgent = kind
        if facility_id not in self.facilities:
            facility_id = self.stands_for.get(facility_id)
        return self.by_kind.get((facility_id, category if category in self.categories else _UNNAMED,
                                 language if language in self.languages else _UNNAMED, urgent), frozenset())


def readers(session) -> Readers:
    """Every user who could receive a new report now, by kind of report (``decide`` says who)."""
    rules = ordered_rules(session)
    conflicts = session.scalars(select(Exclusion)).all()
    countries = {r.country for r in rules if r.country}
    suppliers = {s.casefold() for s in [r.supplier for r in rules] + [e.supplier for e in conflicts] if s}
    named = {r.facility_id for r in rules if r.facility_id} | {e.facility_id for e in conflicts if e.facility_id}
    # A facility no rule or conflict names stands for all of its kind: the same country and
    # supplier as far as rules and conflicts name them.
    stands_for, first_of_kind = {}, {}
    for facility in session.scalars(select(Facility).order_by(Facility.id)):
        kind = (facility.country if facility.country in countries else None,
                facility.supplier if facility.supplier.casefold() in suppliers else None)
        stands_for[facility.id] = facility.id if facility.id in named else first_of_kind.setdefault(kind, facility.id)
    facilities = frozenset({None} | set(stands_for.values()))
    categories = frozenset({r.category for r in rules if r.category} | {_UNNAMED})
    languages = frozenset({r.language for r in rules if r.language} | {_UNNAMED})
    by_kind, among = {}, Candidates(session)
    for facility_id, category, language, urgent in product(facilities, categories, languages, (False, True)):
        decision = decide(session, Sample(categories=[category], language=language, urgent=urgent,
                                          facility_id=facility_id, recipient_choice="both"), among)
        by_kind[(facility_id, category, language, urgent)] = frozenset(u.id for u in decision.users)
    return Readers(by_kind, categories, languages, facilities, stands_for)


def gained_readers(session, before: Readers) -> list[User]:
    """The users who can now receive some kind of new report they could not receive at ``before``."""
    after = readers(session)
    kinds = set(after.by_kind) | set(before.by_kind)
    gained = set()
    for kind in kinds:
        gained |= after.of(kind) - before.of(kind)
    if not gained:
        return []
    return list(session.scalars(select(User).where(User.id.in_(gained)).order_by(User.display_name)))
