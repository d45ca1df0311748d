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

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from ..models import CATEGORIES, Exclusion, Facility, Partner, RoutingAlert, RoutingRule, User
from . import clock, partners
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


def ordered_rules(session) -> list[RoutingRule]:
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


def default_recipients(session) -> list[User]:
    return list(session.scalars(select(User).where(User.default_recipient.is_(True))
                                .where(User.role.in_(CONTRACTOR_ROLES)).order_by(User.id)))


def monitor_users(session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == MONITOR_ROLE).order_by(User.id)))


def decide(session, sample: Sample) -> Decision:
    if sample.recipient_choice not in CHOICES:
        raise RoutingError("choice")
    facility = session.get(Facility, sample.facility_id) if sample.facility_id else None
    conflicted = conflicted_user_ids(session, facility)
    left_out, passed_over = [], set()

    def receivers(candidates: list[User]) -> list[User]:
        chosen = []
        for user in candidates:
            reason = ("conflict" if user.id in conflicted else "reporter" if user.id in sample.excluded_user_ids
                      else None if usable(user) else "inactive")
            if reason is None:
                chosen.append(user)
            elif user.id not in passed_over:
                passed_over.add(user.id)
                left_out.append((user, reason))
        return chosen

    rule, users, alert, partner = None, [], None, None
    if sample.recipient_choice in ("contractor", "both"):
        # A rule everyone of is left out does not stop the report: the next matching
        # rule takes it, and after the last one the users marked "receives new cases".
        for candidate in ordered_rules(session):
            if matches(candidate, sample, facility):
                users = receivers([u for u in candidate.recipients if u.role in CONTRACTOR_ROLES])
                if users:
                    rule = candidate
                    break
        else:
            users = receivers(default_recipients(session))
        if not users:
            alert = "no_recipient"
    if sample.recipient_choice in ("monitor", "both"):
        monitors = receivers(monitor_users(session))
        partner = partners.receiving_partner(session)
        if not monitors and partner is None:
            alert = alert or "no_monitor"
        users += monitors
    mandatory = bool(MANDATORY_CATEGORIES & set(sample.categories))
    return Decision(rule, users, left_out, mandatory, alert, partner)


def receivable_choices(session) -> list[str]:
    """The recipient choices someone active can receive now, in a fixed order.

    The contractor's part needs a usable person named by a rule or receiving new
    cases; Electronics Watch's part a usable monitor account here or a partner
    instance that publishes monitor recipients.
    """
    named = {user.id: user for rule in ordered_rules(session) for user in rule.recipients}
    named.update({user.id: user for user in default_recipients(session)})
    contractor = any(usable(u) and u.role in CONTRACTOR_ROLES for u in named.values())
    monitor = any(usable(u) for u in monitor_users(session)) or partners.receiving_partner(session) is not None
    can = {"contractor": contractor, "monitor": monitor, "both": contractor and monitor}
    return [choice for choice in CHOICES if can[choice]]


def admissible(session, sample: Sample, users) -> list[User]:
    """Those of ``users`` that ``sample``'s routing allows to read it, in order, once each.

    The same limits as a new case's: the reporter's choice (contractor users,
    the monitor, or both), conflicts of interest as they stand today, the
    handlers the reporter left out, and only users who can receive keys. Used
    for what follows a report (a retaliation claim) rather than the report itself.
    """
    roles = set()
    if sample.recipient_choice in ("contractor", "both"):
        roles |= set(CONTRACTOR_ROLES)
    if sample.recipient_choice in ("monitor", "both"):
        roles.add(MONITOR_ROLE)
    facility = session.get(Facility, sample.facility_id) if sample.facility_id else None
    refused = conflicted_user_ids(session, facility) | set(sample.excluded_user_ids)
    allowed, seen = [], set()
    for user in users:
        if user.id not in seen and user.role in roles and user.id not in refused and usable(user):
            seen.add(user.id)
            allowed.append(user)
    return allowed


def conflicted_user_ids(session, facility: Facility | None) -> set[int]:
    if facility is None:
        return set()
    return set(session.scalars(select(Exclusion.user_id).where(or_(
        Exclusion.facility_id == facility.id,
        Exclusion.supplier.is_not(None) & (Exclusion.supplier == facility.supplier),
    ))))


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


def save_rule(session, actor, *, name: str, recipient_ids, languages=(), rule_id: int | None = None,
              **fields) -> RoutingRule:
    recipients = check_rule(session, recipient_ids=recipient_ids, languages=languages, **fields)
    rule = session.get(RoutingRule, rule_id) if rule_id else None
    if rule is None:
        last = session.scalar(select(RoutingRule.position).order_by(RoutingRule.position.desc()).limit(1))
        rule = RoutingRule(position=(last or 0) + 1)
        session.add(rule)
    rule.name = (name or "").strip() or "rule"
    for key in ("facility_id", "supplier", "country", "category", "language", "urgent"):
        setattr(rule, key, fields.get(key))
    rule.recipients = recipients
    session.commit()
    return rule


def move_rule(session, rule_id: int, step: int) -> None:
    rules = ordered_rules(session)
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        raise RoutingError("rule")
    target = index + step
    if 0 <= target < len(rules):
        rules[index], rules[target] = rules[target], rules[index]
    for position, rule in enumerate(rules, 1):
        rule.position = position
    session.commit()


def delete_rule(session, rule_id: int) -> None:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise RoutingError("rule")
    session.delete(rule)
    session.commit()


def add_exclusion(session, user_id: int, facility_id: int | None = None, supplier: str | None = None) -> None:
    if (facility_id is None) == (supplier is None):
        raise RoutingError("exclusion")
    if session.get(User, user_id) is None:
        raise RoutingError("recipient")
    if facility_id is not None and session.get(Facility, facility_id) is None:
        raise RoutingError("facility")
    session.add(Exclusion(user_id=user_id, facility_id=facility_id, supplier=supplier))
    session.commit()
