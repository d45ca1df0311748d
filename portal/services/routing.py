"""Routing: who receives a new case, and who must never.

The first rule (in order) whose set fields all match the report names the
receiving users; a rule with no field set catches everything. Then, whatever
the rules say: users with a conflict of interest for the facility or its
supplier are left out, and so is anyone the reporter asked to leave out. If
the reporter chose the independent monitor only, no contractor user gets a key.
The recovery recipient is always added by the key ring, so a case is never
stored unreadable; a case nobody else can read raises an alert.
"""

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from ..models import CATEGORIES, Exclusion, Facility, RoutingAlert, RoutingRule, User
from . import clock
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
    alert: str | None


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


def decide(session, sample: Sample) -> Decision:
    if sample.recipient_choice not in CHOICES:
        raise RoutingError("choice")
    facility = session.get(Facility, sample.facility_id) if sample.facility_id else None
    rule, candidates = None, []
    if sample.recipient_choice in ("contractor", "both"):
        rule = next((r for r in ordered_rules(session) if matches(r, sample, facility)), None)
        if rule is not None:
            candidates = [u for u in rule.recipients if u.role in CONTRACTOR_ROLES]
        else:
            # No rule at all catches the report: the users marked "receives new cases".
            candidates = list(session.scalars(select(User).where(User.default_recipient.is_(True))
                                              .where(User.role.in_(CONTRACTOR_ROLES)).order_by(User.id)))
    if sample.recipient_choice in ("monitor", "both"):
        candidates += list(session.scalars(select(User).where(User.role == MONITOR_ROLE).order_by(User.id)))

    conflicted = conflicted_user_ids(session, facility)
    users, left_out, seen = [], [], set()
    for user in candidates:
        if user.id in seen:
            continue
        seen.add(user.id)
        if user.id in conflicted:
            left_out.append((user, "conflict"))
        elif user.id in sample.excluded_user_ids:
            left_out.append((user, "reporter"))
        elif not usable(user):
            left_out.append((user, "inactive"))
        else:
            users.append(user)
    alert = None if users else ("no_monitor" if sample.recipient_choice == "monitor" else "no_recipient")
    mandatory = bool(MANDATORY_CATEGORIES & set(sample.categories))
    return Decision(rule, users, left_out, mandatory, alert)


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
