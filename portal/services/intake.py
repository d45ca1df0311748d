"""Intake: a report is stored whole, encrypted, or not at all.

The reporter is shown a receipt only after the transaction that stores the
case and every one of its files has committed.
"""

import json
from dataclasses import asdict, dataclass, field

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

import crypto

from ..models import CATEGORIES, Case, CaseCategory, CaseItem, Facility, Keyholder, User
from . import (
    admin_changes,
    attachments,
    audit,
    clock,
    deadlines,
    evidence,
    keyring,
    notifications,
    outbound,
    receipts,
    routing,
    routing_cache,
)
from . import instance as instance_service
from .refusal import Refusal

CONSENTS = ("none", "without_identity", "with_identity")
ONGOING = ("yes", "no", "unknown")
PEOPLE_AFFECTED = ("one", "few", "many", "unknown")
# How a staff member or a monitoring partner met the worker whose report they enter.
CHANNELS = ("phone", "in_person", "letter", "partner_interview")
# Who may enter a report for a worker: the organisation's handlers and partner interviewers.
ENTERING_ROLES = ("investigator", "retaliation_officer", "administrator", "intake_partner")


class IntakeError(Refusal):
    """A report that cannot be stored as given."""


@dataclass
class Report:
    """What the worker wrote; all of it is encrypted except what routing needs."""

    language: str
    categories: list[str]
    description: str
    facility_id: int | None = None
    facility_other: str = ""
    when: str = ""
    ongoing: str = "unknown"
    people_affected: str = "unknown"
    immediate_danger: bool = False
    contact: str = ""
    consent: str = "none"
    recipient_choice: str = "contractor"
    # Handlers the reporter does not want to receive the report (user ids).
    excluded_handlers: list[int] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EnteredBy:
    """A report entered for a worker: who entered it (a ``User``) and through which channel.

    The person is a witness, not a reader: routing alone decides the keyholders."""

    user: User
    channel: str


@dataclass(frozen=True)
class Submitted:
    # None for a form sent again from a session that has ended: its receipt is not shown again.
    receipt: str | None
    case_id: int
    already_received: bool


# Built once: every report runs them (see routing's statements).
_BY_SUBMISSION = (select(Case.id, Case.legacy_receipt, Case.receipt_lookup)
                  .where(Case.submission_digest == bindparam("digest")))
# A new case is written with plain statements, its categories and keyholders one statement
# each: the ORM's unit of work for these few rows cost more than all the rest of the transaction.
_CASES, _ITEMS = Case.__table__, CaseItem.__table__
_ADD_CASE, _ADD_ITEM = insert(_CASES), insert(_ITEMS)
_ADD_CATEGORIES, _ADD_KEYHOLDERS = insert(CaseCategory.__table__), insert(Keyholder.__table__)
_SET_LAST_REPORTER_ITEM = (update(_CASES).where(_CASES.c.id == bindparam("case"))
                           .values(last_reporter_item_id=bindparam("item")))
# Every report reads its workplace: a prepared statement costs less than session.get().
_SHOWN_HANDLERS = (select(User).where(User.shown_to_reporters.is_(True), User.active.is_(True))
                   .order_by(User.display_name))


def find_submission(session, config, submission_token: str) -> Submitted | None:
    """A report already stored for this form, with its receipt re-derived for the session that sent it.

    The form's own id finds the report; only the session that sent it (its token
    is in ``submission_token``) gets the receipt back. Anyone else holding the
    form (Back on a shared phone after "Finish") learns nothing more.
    """
    # A plain statement: nothing is pending in the session here (the POST's first read, or after a
    # rollback), and the ORM's handling of it cost more than the read.
    case = session.connection().execute(
        _BY_SUBMISSION, {"digest": receipts.submission_digest(submission_token)}).first()
    if case is None:
        return None
    # A form sent before receipts carried a check code and sent again after gets its old receipt.
    receipt, keys = receipt_and_keys(session, config, submission_token, legacy=case.legacy_receipt)
    if keys.lookup != case.receipt_lookup:
        return Submitted(None, case.id, True)
    return Submitted(receipt, case.id, True)


def _check(session, report: Report, among: routing.Candidates) -> Facility | None:
    """Refuse a report that cannot be stored as given; return its workplace from the registry."""
    if not report.categories or any(c not in CATEGORIES for c in report.categories):
        raise IntakeError("categories")
    if not report.description.strip():
        raise IntakeError("description")
    if report.consent not in CONSENTS:
        raise IntakeError("consent")
    if report.ongoing not in ONGOING or report.people_affected not in PEOPLE_AFFECTED:
        raise IntakeError("choice")
    facility = check_facility(session, report.facility_id, report.facility_other, among)
    if not offers(session, report.recipient_choice, among):
        raise IntakeError("recipient_choice")
    if report.recipient_choice in ("monitor", "both") and report.consent == "none":
        # Sent to Electronics Watch, yet "do not share with Electronics Watch": the worker decides which.
        raise IntakeError("monitor_without_consent")
    if report.excluded_handlers and not (set(report.excluded_handlers)
                                         <= {user.id for user in handlers_shown_to_reporters(session)}):
        raise IntakeError("excluded_handlers")
    return facility


def check_facility(session, facility_id: int | None, facility_other: str,
                   among: routing.Candidates | None = None) -> Facility | None:
    """A workplace from the registry (returned), or one the reporter names (None)."""
    if facility_id is None:
        if not facility_other.strip():
            raise IntakeError("facility")
        return None
    facility = (among or routing.Candidates(session)).facility(facility_id)
    if facility is None or not facility.active:
        raise IntakeError("facility")
    return facility


def receipt_and_keys(session, config, submission_token: str,
                     legacy: bool = False) -> tuple[str, receipts.ReceiptKeys]:
    """The receipt of a new submission and the keys it opens (the Argon2id look-up).

    ``legacy``: the receipt as it was derived before receipts carried a check code.
    """
    instance = instance_service.secrets(session)
    derive = receipts.legacy_receipt_for_submission if legacy else receipts.receipt_for_submission
    receipt = derive(instance.secret_key, submission_token)
    return receipt, receipts.derive_keys(
        receipt,
        instance.receipt_salt,
        config["RECEIPT_ARGON2_TIME_COST"],
        config["RECEIPT_ARGON2_MEMORY_KIB"],
        instance.post_quantum,
    )


def offered_choices(session) -> list[str]:
    """The recipient choices reporters are offered, in a fixed order: those the
    administrators chose that someone active can receive now."""
    among = routing.Candidates(session)
    return [choice for choice in routing.CHOICES if offers(session, choice, among)]


def offers(session, choice: str, among: routing.Candidates) -> bool:
    """Whether reporters are offered ``choice`` now (``among``: routing's candidates)."""
    setting = among.settings.recipient_choices.split(",")
    return choice in setting and routing.can_receive(among, choice)


def handlers_shown_to_reporters(session) -> list[User]:
    return list(session.scalars(_SHOWN_HANDLERS))


def offerable_handlers(session) -> list[User]:
    """The handlers an administrator may show to reporters by name."""
    return list(session.scalars(select(User).where(User.role.in_(routing.CONTRACTOR_ROLES))
                                .order_by(User.display_name)))


def save_offer(session, actor, recipient_choices: list[str], shown_user_ids) -> None:
    """The settings of what reporters are offered: the recipient choices and the
    handlers named on the form. Audited with each changed setting's old and new value."""
    instance = instance_service.load(session)
    handlers = offerable_handlers(session)
    readers_before = routing.readers(session)
    before = {"recipient_choices": instance.recipient_choices.split(","),
              "shown_to_reporters": [admin_changes.person(u) for u in handlers if u.shown_to_reporters]}
    instance.recipient_choices = ",".join(c for c in routing.CHOICES if c in recipient_choices)
    chosen = set(shown_user_ids)
    for user in handlers:
        user.shown_to_reporters = user.id in chosen
    after = {"recipient_choices": instance.recipient_choices.split(","),
             "shown_to_reporters": [admin_changes.person(u) for u in handlers if u.shown_to_reporters]}
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        session.flush()
        admin_changes.record(session, actor, "settings_changed", {
            "before": {key: before[key] for key in changed}, "after": {key: after[key] for key in changed}},
            routing.gained_readers(session, readers_before))
    session.commit()


def submit(session, config, report: Report, files: list[bytes | attachments.CleanFile], submission_token: str,
           *, channel: str = "web", contact: bytes | None = None,
           entered_by: EnteredBy | None = None) -> Submitted:
    """Store ``report`` and ``files`` as one new case, or return the earlier one.

    ``channel``: how it came ("web", "sms"). ``contact``: how to reach the worker (a report by text:
    their number), stored as a "contact_sms" item for the keyholders and custodians, never the worker.

    The caller has looked for the earlier one (``find_submission``, as the form's POST does
    first): a form sent again is not checked, routed and encrypted again for nothing. One that
    arrives twice at once, or that was not looked for, is stored once all the same: the
    submission's digest is unique, and the second finds the first's case.
    """
    # Read once: what the report may choose and who receives it are answered from the same rows.
    among = routing_cache.candidates(session)
    if entered_by is not None and (entered_by.channel not in CHANNELS
                                   or entered_by.user.role not in ENTERING_ROLES or not entered_by.user.active):
        raise IntakeError("entered_by")
    workplace = _check(session, report, among)
    decision = routing.decide(session, routing.Sample(
        categories=sorted(set(report.categories)), language=report.language,
        urgent=bool(report.immediate_danger), facility_id=report.facility_id,
        recipient_choice=report.recipient_choice, excluded_user_ids=list(report.excluded_handlers),
    ), among, workplace)
    if not decision.receivable:
        # Told before anything is stored: the worker can choose other recipients.
        raise IntakeError("no_recipient")
    cleaned = attachments.cleaned(files)

    receipt, keys = receipt_and_keys(session, config, submission_token)
    holders = decision.users
    reporter_recipient = str(keys.identity.recipient)
    # Electronics Watch only: the partner's keys, not the contractor's recovery key, keep the case.
    keeper = decision.partner if report.recipient_choice == "monitor" else None
    recipients = keyring.recipients_for(session, holders, keys.identity.recipient,
                                        keyring.custodians_for(session, keeper, among.settings))

    today = clock.today()
    case = Case(
        received_on=today,
        status="received",
        facility_id=report.facility_id,
        language=report.language,
        urgent=bool(report.immediate_danger),
        acknowledge_due=deadlines.acknowledge_due(today, config["ACK_DAYS"]),
        feedback_due=deadlines.feedback_due(today, config["FEEDBACK_MONTHS"]),
        receipt_lookup=keys.lookup,
        submission_digest=receipts.submission_digest(submission_token),
        reporter_recipient=reporter_recipient,
        recipient_choice=report.recipient_choice,
        routing_rule_id=decision.rule.id if decision.rule else None,
        mandatory_notification=decision.mandatory,
        # The first routed keyholder leads the case (services/lead.py).
        lead_user_id=holders[0].id if holders else None,
        channel=entered_by.channel if entered_by is not None else channel,
    )
    body = json.dumps(asdict(report), ensure_ascii=False).encode("utf-8")
    items = [_item("report", "reporter", crypto.encrypt(body, recipients), today, len(body))]
    for clean in cleaned:
        item = _item("attachment", "reporter", crypto.encrypt(clean.data, recipients), today, len(clean.data))
        items.append(evidence.store(item, clean, recipients))
    if contact is not None:
        staff = keyring.recipients_for(session, holders, None,
                                       keyring.custodians_for(session, keeper, among.settings))
        items.append(_item("contact_sms", "reporter", crypto.encrypt(contact, staff), today, 0))
    try:
        _store(session, case, items, sorted(set(report.categories)), holders)
        if entered_by is not None:
            # In the case's own transaction: no case entered for a worker without its audit entry.
            audit.record(session, "report_entered", entered_by.user, case.id,
                         {"channel": entered_by.channel}, commit=False)
        forward = (outbound.forward_as_written(session, case, decision.partner, "report", asdict(report), cleaned)
                   if decision.partner is not None else None)
        notifications.queue_for(session, holders, case, config["BASE_URL"])
        session.commit()
    except IntegrityError:
        # The same form arrived twice at once: the other request stored it.
        session.rollback()
        earlier = find_submission(session, config, submission_token)
        if earlier is None:
            raise
        return earlier
    if forward is not None:
        # Delivered at once; if the partner is down, the forwards job retries.
        outbound.deliver(session, forward, config["BASE_URL"])
    return Submitted(receipt, case.id, False)


def _store(session, case: Case, items: list[CaseItem], codes: list[str], holders: list[User]) -> None:
    """Write the new ``case`` with its ``items``, categories and keyholders (plain statements, in the
    session's transaction); ``case`` is then in the session as if loaded, its unset columns to be read."""
    connection = session.connection()
    case.id = connection.execute(_ADD_CASE, _columns(case, _CASES)).inserted_primary_key[0]
    for item in items:
        item.case_id = case.id
        item.id = connection.execute(_ADD_ITEM, _columns(item, _ITEMS)).inserted_primary_key[0]
    connection.execute(_ADD_CATEGORIES, [{"case_id": case.id, "code": code} for code in codes])
    if holders:
        connection.execute(_ADD_KEYHOLDERS, [{"case_id": case.id, "user_id": user.id} for user in holders])
    case.last_reporter_item_id = max(item.id for item in items)
    connection.execute(_SET_LAST_REPORTER_ITEM, {"case": case.id, "item": case.last_reporter_item_id})
    make_transient_to_detached(case)
    session.add(case)


def _columns(new, table) -> dict:
    """The columns set on the new (transient) ``new``; the table's defaults fill in the rest."""
    return {key: value for key, value in vars(new).items() if key in table.c}


def _item(kind, author, blob, day, size) -> CaseItem:
    return CaseItem(kind=kind, author=author, created_on=day, blob=blob, size=size)
