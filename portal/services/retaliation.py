"""Retaliation claims: filed by the reporter, investigated by the retaliation
officers, followed by discipline and remedies the reporter confirms or disputes.

A claim follows the worker's choices for the report it is about: its readers
are that report's routing decision, made again on the day of the claim (the
recipient choice, the handlers the report left out, conflicts of interest as
they stand), plus the retaliation officers the same decision allows; never
anyone the claim is about. A claim on a report for the monitor only reaches
the monitor only. A claim nobody may read is refused, not stored for the
recovery key alone. See docs/retaliation.md.
What people write (the claim, the measures, who is disciplined, the remedy's
amount, escalation notes) is encrypted; codes, dates and states are not, so
deadlines and statistics work without opening anything.
"""

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import crypto

from ..models import (
    CLAIM_STATUSES,
    DISCIPLINE_KINDS,
    DISCIPLINE_STATES,
    ESCALATION_STEPS,
    MEASURE_KINDS,
    REMEDY_KINDS,
    RETALIATION_TYPES,
    RISK_LEVELS,
    Case,
    CaseCategory,
    CaseItem,
    DisciplinaryAction,
    EscalationStep,
    Keyholder,
    Partner,
    ProtectionMeasure,
    Remedy,
    User,
)
from . import (
    attachments,
    audit,
    clock,
    conflicts,
    deadlines,
    evidence,
    handover,
    intake,
    keyring,
    notifications,
    outbound,
    oversight,
    receipts,
    routing,
    suppression,
)
from .refusal import Refusal

OFFICER_ROLE = "retaliation_officer"
CLAIM_TRANSITIONS = {
    "received": ("risk_assessed",),
    "risk_assessed": ("investigating",),
    "investigating": ("substantiated", "not_substantiated"),
    "substantiated": ("closed",),
    "not_substantiated": ("closed",),
    "closed": (),
}
REMEDY_TRANSITIONS = {
    "proposed": ("agreed",),
    "agreed": ("delivered",),
    "delivered": (),  # only the reporter moves it on: confirmed or disputed
    "confirmed": (),
    "disputed": ("delivered",),
}
# A remedy in these states is still owed: past its due date it is overdue.
UNDELIVERED = ("proposed", "agreed", "disputed")
# Statistics never show a count below this: a small number can single someone out.
SUPPRESS_BELOW = suppression.SUPPRESS_BELOW


class RetaliationError(Refusal):
    """A claim, remedy or step the record cannot take."""


@dataclass
class Claim:
    """What the reporter says happened to them, all of it encrypted but the types."""

    types: list[str]
    description: str
    when: str = ""
    by_whom: str = ""
    # Only for a claim filed directly, without an earlier report: a workplace not in the registry.
    facility_other: str = ""
    # Handlers the reporter ticked on the claim form: they never receive it.
    about_user_ids: list[int] = field(default_factory=list)
    # Handlers the original report left out, copied from it when the claim is filed: kept
    # (encrypted, as in the report) so that hand-overs of the claim leave them out too.
    excluded_handlers: list[int] = field(default_factory=list)


def _item(session, case: Case, kind: str, payload: dict, recipients, author: User | None) -> CaseItem:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _stored(session, case, kind, body, recipients, author)


def _stored(session, case: Case, kind: str, body: bytes, recipients, author: User | None,
            clean: attachments.CleanFile | None = None) -> CaseItem:
    moment = clock.now()
    item = CaseItem(case_id=case.id, kind=kind, author="handler" if author else "reporter",
                    author_user_id=author.id if author else None, created_on=moment.date(),
                    created_at=moment if author else None, blob=crypto.encrypt(body, recipients), size=len(body))
    if clean is not None:
        evidence.store(item, clean, recipients)
    session.add(item)
    session.flush()
    return item


@dataclass(frozen=True)
class Audience:
    """Who reads a claim: people here, and Electronics Watch's own instance when the
    report it is about went there (then ``keeper`` holds the case if nobody here does)."""

    readers: list[User]
    partner: Partner | None = None
    keeper: Partner | None = None

    @property
    def anyone(self) -> bool:
        return bool(self.readers) or self.partner is not None


def claim_readers(session, original: Case | None, left_out, facility_id: int | None = None) -> list[User]:
    """Who reads a claim here: routing's decision for ``original`` and the officers it allows, less ``left_out``.

    ``left_out`` holds the handlers the original report excluded and those the
    claim is about. A claim without an earlier report goes to the officers
    without a conflict of interest for ``facility_id``.
    """
    return claim_audience(session, original, left_out, facility_id).readers


def claim_audience(session, original: Case | None, left_out, facility_id: int | None = None) -> Audience:
    """``claim_readers`` and, for a report the worker sent to Electronics Watch, its instance."""
    officers = list(session.scalars(select(User).where(User.role == OFFICER_ROLE).order_by(User.id)))
    if original is None:
        sample = routing.Sample(categories=[], language="", facility_id=facility_id,
                                excluded_user_ids=sorted(set(left_out)))
        return Audience(routing.admissible(session, sample, officers))
    sample = routing.Sample(categories=original.category_codes, language=original.language,
                            urgent=bool(original.urgent), facility_id=original.facility_id,
                            recipient_choice=original.recipient_choice, excluded_user_ids=sorted(set(left_out)))
    try:
        decision = routing.decide(session, sample)
    except routing.RoutingError as refusal:
        # Routing may refuse a report nobody can receive: the claim then has nobody either.
        raise RetaliationError("nobody") from refusal
    # The decision's users pass the same limits again: whatever routing decides,
    # a claim never reaches someone the worker or a conflict of interest keeps out.
    readers = routing.admissible(session, sample, decision.users + officers)
    # The claim follows the report to Electronics Watch's instance, as the report went there.
    partner = decision.partner if original.recipient_choice in ("monitor", "both") else None
    return Audience(readers, partner, partner if original.recipient_choice == "monitor" else None)


def about_choices(session, original: Case | None) -> list[User]:
    """Whom the reporter may leave out of a claim: the handlers shown on the report form
    and, for a claim about an earlier report, that report's keyholders."""
    shown = intake.handlers_shown_to_reporters(session)
    if original is None:
        return shown
    choices = {user.id: user for user in shown + keyring.holders_of(session, original)}
    return sorted(choices.values(), key=lambda user: (user.display_name, user.id))


def nobody_may_read(session, original: Case, reporter_identity) -> bool:
    """True when nobody the worker allowed could receive a claim on ``original`` today:
    the form says so before the worker writes it."""
    try:
        return not claim_audience(session, original,
                                  handover.left_out_by_reporter(original, reporter_identity)).anyone
    except RetaliationError:
        return True


def file_from_follow_up(session, config, original_case_id: int, claim: Claim, submission_token: str,
                        files: list[bytes | attachments.CleanFile] = (), *, reporter_identity) -> Case:
    """A claim by the reporter of ``original_case_id``, who is logged in with its receipt.

    It has no receipt of its own: the reporter follows it on the original case's page.
    ``reporter_identity`` (from the receipt) opens the report, where the handlers
    it left out are kept encrypted: the server alone cannot read them.
    """
    original = session.get(Case, original_case_id)
    if original is None or original.kind != "report":
        raise RetaliationError("case")
    earlier = _earlier(session, submission_token)
    if earlier is not None:
        return earlier
    _check(claim, offered=[u.id for u in about_choices(session, original)])
    claim = replace(claim, excluded_handlers=sorted(handover.left_out_by_reporter(original, reporter_identity)))
    audience = claim_audience(session, original, set(claim.excluded_handlers) | set(claim.about_user_ids))
    cleaned = attachments.cleaned(files)
    case = _new_claim(session, config, claim, cleaned, original, audience, original.reporter_recipient, None,
                      original.facility_id, original.language, submission_token,
                      consent=handover.written_by_reporter(original, reporter_identity).get("consent", ""))
    return case or _earlier(session, submission_token)


def file_directly(session, config, claim: Claim, facility_id: int | None, language: str,
                  submission_token: str, files: list[bytes | attachments.CleanFile] = ()) -> intake.Submitted:
    """A claim from the start page by a worker with no earlier report: it gets its own receipt."""
    earlier = intake.find_submission(session, config, submission_token)
    if earlier is not None:
        return earlier
    _check(claim, offered=[u.id for u in about_choices(session, None)])
    intake.check_facility(session, facility_id, claim.facility_other)
    audience = claim_audience(session, None, claim.about_user_ids, facility_id)
    cleaned = attachments.cleaned(files)
    receipt, keys = intake.receipt_and_keys(session, config, submission_token)
    case = _new_claim(session, config, claim, cleaned, None, audience, str(keys.identity.recipient), keys.lookup,
                      facility_id, language, submission_token)
    if case is None:
        return intake.find_submission(session, config, submission_token)
    return intake.Submitted(receipt, case.id, False)


def _earlier(session, submission_token: str) -> Case | None:
    digest = receipts.submission_digest(submission_token)
    return session.scalar(select(Case).where(Case.submission_digest == digest))


def _new_claim(session, config, claim: Claim, cleaned, original: Case | None, audience: Audience,
               reporter_recipient: str, receipt_lookup: bytes | None, facility_id: int | None, language: str,
               submission_token: str, consent: str = "") -> Case | None:
    """Store the claim and its evidence in one transaction; None if the same form won a race.

    A claim on a report the worker sent to Electronics Watch goes to its instance as it
    is stored, like the report did, within the consent the report gave."""
    if not audience.anyone:
        # Stored anyway, only the recovery key could open it: the worker is told instead.
        raise RetaliationError("nobody")
    readers = audience.readers
    today = clock.today()
    case = Case(
        kind="retaliation", related_case_id=original.id if original else None, received_on=today,
        status="received", facility_id=facility_id, language=language, urgent=True,
        acknowledge_due=deadlines.acknowledge_due(today, config["ACK_DAYS"]),
        feedback_due=deadlines.feedback_due(today, config["FEEDBACK_MONTHS"]),
        receipt_lookup=receipt_lookup, submission_digest=receipts.submission_digest(submission_token),
        reporter_recipient=reporter_recipient,
        recipient_choice=original.recipient_choice if original else "contractor",
    )
    case.categories = [CaseCategory(code=code) for code in sorted(set(claim.types))]
    case.keyholders = [Keyholder(user_id=user.id) for user in readers]
    case.lead_user_id = readers[0].id if readers else None
    session.add(case)
    forward = None
    try:
        session.flush()
        # Electronics Watch only: the partner's keys, not the contractor's recovery key, keep the claim.
        recipients = keyring.recipients_for(session, readers, reporter_recipient,
                                            keyring.custodians_for(session, audience.keeper))
        items = [_item(session, case, "claim", asdict(claim), recipients, None)]
        items += [_stored(session, case, "attachment", clean.data, recipients, None, clean) for clean in cleaned]
        case.last_reporter_item_id = max(item.id for item in items)
        if audience.partner is not None:
            forward = outbound.forward_as_written(session, case, audience.partner, "claim",
                                                  dict(asdict(claim), consent=consent), cleaned)
        notifications.queue_for(session, readers, case, config["BASE_URL"])
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    if forward is not None:
        # Delivered at once; if the partner is down, the forwards job retries.
        outbound.deliver(session, forward, config["BASE_URL"])
    return case


def _check(claim: Claim, offered) -> None:
    if not claim.types or any(code not in RETALIATION_TYPES for code in claim.types):
        raise RetaliationError("types")
    if not claim.description.strip():
        raise RetaliationError("description")
    if not set(claim.about_user_ids) <= set(offered):
        raise RetaliationError("about")


def claims_of(session, original_case_id: int) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.related_case_id == original_case_id,
                                                   Case.kind == "retaliation").order_by(Case.id)))


def _claim(case: Case) -> Case:
    if case.kind != "retaliation":
        raise RetaliationError("not_a_claim")
    return case


def assess_risk(session, actor: User, claim: Case, level: str, measures: list[tuple[str, str]]) -> None:
    """Record the risk of further harm and the interim protection measures decided."""
    _claim(claim)
    if level not in RISK_LEVELS or any(kind not in MEASURE_KINDS for kind, _text in measures):
        raise RetaliationError("risk")
    if claim.status != "received":
        raise RetaliationError("transition")
    claim.risk_level, claim.risk_assessed_on, claim.status = level, clock.today(), "risk_assessed"
    for kind, text in measures:
        _add_measure(session, actor, claim, kind, text)
    audit.record(session, "status", actor, claim.id, {"status": "risk_assessed", "risk": level}, commit=False)
    session.commit()


def add_measure(session, actor: User, claim: Case, kind: str, text: str) -> ProtectionMeasure:
    """Another interim protection measure, decided after the risk assessment."""
    _claim(claim)
    if kind not in MEASURE_KINDS or claim.status == "closed":
        raise RetaliationError("measure")
    measure = _add_measure(session, actor, claim, kind, text)
    audit.record(session, "note", actor, claim.id, {"measure": kind}, commit=False)
    session.commit()
    return measure


def _add_measure(session, actor: User, claim: Case, kind: str, text: str) -> ProtectionMeasure:
    item = _item(session, claim, "measure", {"kind": kind, "text": text},
                 keyring.case_recipients(session, claim, reporter=False), actor)
    measure = ProtectionMeasure(case_id=claim.id, kind=kind, decided_on=clock.today(), item_id=item.id)
    session.add(measure)
    return measure


def move_claim(session, actor: User, claim: Case, status: str) -> None:
    _claim(claim)
    if status not in CLAIM_STATUSES or status not in CLAIM_TRANSITIONS.get(claim.status, ()):
        raise RetaliationError("transition")
    claim.status = status
    if status == "closed":
        claim.closed_on = clock.today()
    audit.record(session, "status", actor, claim.id, {"status": status}, commit=False)
    session.commit()


def add_discipline(session, actor: User, claim: Case, kind: str, who: str, decided_on: date | None = None,
                   state: str = "proposed") -> DisciplinaryAction:
    """Discipline for whoever threatened or retaliated; who they are is encrypted (keyholders only)."""
    _claim(claim)
    if kind not in DISCIPLINE_KINDS or state not in DISCIPLINE_STATES or not who.strip():
        raise RetaliationError("discipline")
    item = _item(session, claim, "discipline", {"who": who, "kind": kind},
                 keyring.case_recipients(session, claim, reporter=False), actor)
    action = DisciplinaryAction(case_id=claim.id, kind=kind, state=state,
                                decided_on=decided_on or clock.today(), item_id=item.id)
    session.add(action)
    audit.record(session, "note", actor, claim.id, {"discipline": kind}, commit=False)
    session.commit()
    return action


def move_discipline(session, actor: User, action: DisciplinaryAction, state: str) -> None:
    if state not in DISCIPLINE_STATES or state == action.state:
        raise RetaliationError("transition")
    action.state = state
    audit.record(session, "status", actor, action.case_id, {"discipline": action.id, "state": state},
                 commit=False)
    session.commit()


def add_remedy(session, actor: User, claim: Case, kind: str, details: str, due_on: date | None = None,
               amount: str = "", currency: str = "") -> Remedy:
    """A remedy for the reporter: the details are encrypted to the reporter too."""
    _claim(claim)
    if kind not in REMEDY_KINDS or not details.strip() or (amount and not currency):
        raise RetaliationError("remedy")
    item = _item(session, claim, "remedy", {"kind": kind, "details": details, "amount": amount,
                                            "currency": currency},
                 keyring.case_recipients(session, claim), actor)
    remedy = Remedy(case_id=claim.id, kind=kind, state="proposed", due_on=due_on,
                    state_changed_on=clock.today(), item_id=item.id)
    session.add(remedy)
    audit.record(session, "note", actor, claim.id, {"remedy": kind}, commit=False)
    session.commit()
    return remedy


def move_remedy(session, actor: User, remedy: Remedy, state: str) -> None:
    if state not in REMEDY_TRANSITIONS.get(remedy.state, ()):
        raise RetaliationError("transition")
    remedy.state, remedy.state_changed_on = state, clock.today()
    audit.record(session, "status", actor, remedy.case_id, {"remedy": remedy.id, "state": state}, commit=False)
    session.commit()


def reporter_answers_remedy(session, claim_id: int, remedy_id: int, received: bool) -> None:
    """From the follow-up page: the reporter confirms a delivered remedy, or says it was not."""
    remedy = session.get(Remedy, remedy_id)
    if remedy is None or remedy.case_id != claim_id:
        raise RetaliationError("remedy")
    if remedy.state not in ("delivered", "agreed"):
        raise RetaliationError("transition")
    remedy.state, remedy.state_changed_on = ("confirmed" if received else "disputed"), clock.today()
    session.commit()


def overdue_remedies(session, user_id: int) -> list[Remedy]:
    """Remedies past their due date and not yet delivered, in the claims ``user_id`` holds."""
    return list(session.scalars(
        select(Remedy).join(Keyholder, Keyholder.case_id == Remedy.case_id).join(Case, Case.id == Remedy.case_id)
        .where(Keyholder.user_id == user_id, Remedy.due_on < clock.today(), Remedy.state.in_(UNDELIVERED),
               *conflicts.open_to(session, user_id))
        .order_by(Remedy.due_on)))


def is_overdue(remedy: Remedy) -> bool:
    return remedy.due_on is not None and remedy.due_on < clock.today() and remedy.state in UNDELIVERED


def report_breach(session, actor: User, case: Case, day: date | None = None) -> None:
    """The contracting authority and Electronics Watch were told of this breach (the date)."""
    case.breach_reported_on = day or clock.today()
    audit.record(session, "export", actor, case.id, {"breach_reported": case.breach_reported_on.isoformat()},
                 commit=False)
    session.commit()


# The contract's section 4, step by step. Statements and meetings may repeat; a notice of default
# comes only when a request was ignored or remedial action is wanting, the special penalty only
# after a notice of default; any step may end in "resolved".
ESCALATION_NEXT = {
    None: ("breach_indicated",),
    "breach_indicated": ("cooperation_started", "resolved"),
    "cooperation_started": ("statement_requested", "meeting_held", "resolved"),
    "statement_requested": ("statement_received", "notice_of_default", "resolved"),
    "statement_received": ("statement_requested", "meeting_held", "remedial_action_required", "resolved"),
    "meeting_held": ("statement_requested", "meeting_held", "remedial_action_required", "resolved"),
    "remedial_action_required": ("statement_requested", "meeting_held", "notice_of_default", "resolved"),
    "notice_of_default": ("remedial_action_required", "penalty_applied", "resolved"),
    "penalty_applied": ("resolved",),
    "resolved": (),
}


def next_escalation_steps(session, case_id: int) -> list[str]:
    """The steps the record can take next, in the contract's order."""
    record = timeline(session, case_id)
    return list(ESCALATION_NEXT[record[-1].step if record else None])


def record_escalation(session, actor: User, case: Case, step: str, note: str = "",
                      happened_on: date | None = None, files: list[bytes] = (),
                      due_on: date | None = None) -> EscalationStep:
    """One step of the escalation procedure, in the contract's order, on or after the one before.

    The note and the documents are encrypted to the administrators and the
    contracting authority (and the recovery key), never to the reporter.
    """
    if step not in ESCALATION_STEPS:
        raise RetaliationError("step")
    if step not in next_escalation_steps(session, case.id):
        raise RetaliationError("order")
    happened_on = happened_on or clock.today()
    record = timeline(session, case.id)
    _check_dates(happened_on, record[-1].happened_on if record else None, None, due_on)
    entry = _escalation_entry(session, actor, case, step, note, happened_on, files)
    entry.due_on = due_on
    session.add(entry)
    audit.record(session, "escalation_step", actor, case.id, {"step": step}, commit=False)
    session.commit()
    return entry


def correct_escalation(session, actor: User, case: Case, entry_id: int, happened_on: date | None, note: str = "",
                       withdrawn: bool = False) -> EscalationStep:
    """A correction: a new entry pointing at the one it corrects, which stays in the record.

    It may move the date (still between its neighbours) and replace the note; or say that the
    step did not happen, which only the latest step may say, so the order stays the contract's.
    """
    record = timeline(session, case.id)
    position = next((i for i, entry in enumerate(record) if entry.id == entry_id), None)
    if position is None:
        raise RetaliationError("correction")
    corrected = record[position]
    if withdrawn and position != len(record) - 1:
        raise RetaliationError("withdraw_latest")
    happened_on = happened_on or corrected.happened_on
    before = record[position - 1].happened_on if position else None
    after = record[position + 1].happened_on if position + 1 < len(record) else None
    _check_dates(happened_on, before, after, corrected.due_on)
    entry = _escalation_entry(session, actor, case, corrected.step, note, happened_on, ())
    entry.corrects_id, entry.withdrawn, entry.due_on = corrected.id, withdrawn, corrected.due_on
    session.add(entry)
    audit.record(session, "escalation_corrected", actor, case.id,
                 {"step": corrected.step, "corrects": corrected.id, "withdrawn": withdrawn}, commit=False)
    session.commit()
    return entry


def set_escalation_due(session, actor: User, case: Case, due_on: date) -> EscalationStep:
    """The contracting authority's due date for the step after the latest one."""
    record = timeline(session, case.id)
    if not record or record[-1].step == "resolved":
        raise RetaliationError("due")
    latest = record[-1]
    if due_on < latest.happened_on:
        raise RetaliationError("date_order")
    before = latest.due_on.isoformat() if latest.due_on else None
    latest.due_on = due_on
    audit.record(session, "escalation_due", actor, case.id,
                 {"step": latest.step, "before": before, "after": due_on.isoformat()}, commit=False)
    session.commit()
    return latest


def escalation_overdue(record: list[EscalationStep]) -> bool:
    """The next step was due before today and has not come."""
    latest = record[-1] if record else None
    return bool(latest and latest.step != "resolved" and latest.due_on and latest.due_on < clock.today())


def _check_dates(happened_on: date, not_before: date | None, not_after: date | None, due_on: date | None) -> None:
    if happened_on > clock.today():
        raise RetaliationError("date")
    if (not_before and happened_on < not_before) or (not_after and happened_on > not_after):
        raise RetaliationError("date_order")
    if due_on is not None and due_on < happened_on:
        raise RetaliationError("date_order")


def _escalation_entry(session, actor, case, step, note, happened_on, files) -> EscalationStep:
    cleaned = attachments.cleaned(files)
    recipients = keyring.oversight_recipients(session)
    documents = [_stored(session, case, "escalation_file", clean.data, recipients, actor, clean).id
                 for clean in cleaned]
    item = _item(session, case, "escalation", {"step": step, "note": note, "documents": documents},
                 recipients, actor)
    return EscalationStep(case_id=case.id, step=step, happened_on=happened_on, item_id=item.id)


def _all_entries(session, case_id: int) -> list[EscalationStep]:
    return list(session.scalars(select(EscalationStep).where(EscalationStep.case_id == case_id)
                                .order_by(EscalationStep.id)))


def timeline(session, case_id: int) -> list[EscalationStep]:
    """The record as it stands: each step as last corrected, without the steps that did not happen."""
    return _effective(_all_entries(session, case_id))


def _effective(entries: list[EscalationStep]) -> list[EscalationStep]:
    latest = {}
    for entry in entries:  # in id order: a later correction wins
        latest[_original_id(entry, entries)] = entry
    return [entry for entry in sorted(latest.values(), key=lambda e: (e.happened_on, _original_id(e, entries)))
            if not entry.withdrawn]


def _original_id(entry: EscalationStep, entries: list[EscalationStep]) -> int:
    by_id = {e.id: e for e in entries}
    while entry.corrects_id is not None and entry.corrects_id in by_id:
        entry = by_id[entry.corrects_id]
    return entry.id


@dataclass(frozen=True)
class TimelineEntry:
    step: EscalationStep
    note: str | None  # None: this reader's key cannot open it
    documents: list[CaseItem]
    corrections: list[EscalationStep] = field(default_factory=list)  # earlier versions, oldest first


def read_timeline(session, case_id: int, identity) -> list[TimelineEntry]:
    """The escalation record as a timeline, with the notes this reader's key opens and each
    step's earlier versions, which corrections never erase."""
    entries = _all_entries(session, case_id)
    read = []
    for step in _effective(entries):
        item = session.get(CaseItem, step.item_id) if step.item_id else None
        payload = _open(item, identity) if item is not None else {}
        documents = [session.get(CaseItem, i) for i in (payload or {}).get("documents", [])]
        original = _original_id(step, entries)
        earlier = [e for e in entries if _original_id(e, entries) == original and e.id != step.id]
        read.append(TimelineEntry(step, None if payload is None else payload.get("note", ""),
                                  [d for d in documents if d is not None], earlier))
    return read


def escalation_document(session, case_id: int, item_id: int, identity) -> tuple[CaseItem, bytes] | None:
    item = session.scalar(select(CaseItem).where(CaseItem.id == item_id, CaseItem.case_id == case_id,
                                                 CaseItem.kind == "escalation_file"))
    if item is None:
        return None
    return item, crypto.decrypt(item.blob, identity)


def escalated_cases(session) -> list[tuple[Case, EscalationStep, bool]]:
    """Every case with an escalation record, its latest step, and whether the next one is overdue."""
    case_ids = session.scalars(select(EscalationStep.case_id).distinct()).all()
    found = []
    for case_id in sorted(case_ids, reverse=True):
        record = timeline(session, case_id)
        if record:
            found.append((session.get(Case, case_id), record[-1], escalation_overdue(record)))
    return found


def _open(item: CaseItem, identity) -> dict | None:
    try:
        return json.loads(crypto.decrypt(item.blob, identity))
    except crypto.NoIdentityError:
        return None


@dataclass(frozen=True)
class Record:
    """A claim's own record, decrypted for one of its keyholders."""

    claim: dict
    original: Case | None
    measures: list[tuple[ProtectionMeasure, dict]]
    discipline: list[tuple[DisciplinaryAction, dict]]
    remedies: list[tuple[Remedy, dict]]


def _with_items(session, model, case_id: int, identity) -> list:
    rows = session.scalars(select(model).where(model.case_id == case_id).order_by(model.id))
    return [(row, (_open(session.get(CaseItem, row.item_id), identity) or {}) if row.item_id else {})
            for row in rows]


def record(session, claim: Case, identity) -> Record:
    """What the officers read on a claim's page, besides its messages, notes and files."""
    _claim(claim)
    item = session.scalar(select(CaseItem).where(CaseItem.case_id == claim.id, CaseItem.kind == "claim"))
    return Record(
        claim=(_open(item, identity) or {}) if item is not None else {},
        original=session.get(Case, claim.related_case_id) if claim.related_case_id else None,
        measures=_with_items(session, ProtectionMeasure, claim.id, identity),
        discipline=_with_items(session, DisciplinaryAction, claim.id, identity),
        remedies=_with_items(session, Remedy, claim.id, identity),
    )


@dataclass(frozen=True)
class ReporterClaim:
    """A claim as its reporter sees it: the state, the remedies, the officers' messages."""

    case: Case
    claim: dict
    remedies: list[tuple[Remedy, dict]]
    messages: list[tuple[CaseItem, str]]


def for_reporter(session, case: Case, identity) -> list[ReporterClaim]:
    """The reporter's claims: those filed from the follow-up page of ``case``, or ``case`` itself."""
    claims = [case] if case.kind == "retaliation" else claims_of(session, case.id)
    seen = []
    for claim in claims:
        payload, messages = {}, []
        for item in claim.items:
            if item.kind == "claim":
                payload = _open(item, identity) or {}
            elif item.kind == "message":
                messages.append((item, crypto.decrypt(item.blob, identity).decode("utf-8")))
        seen.append(ReporterClaim(claim, payload, _with_items(session, Remedy, claim.id, identity), messages))
    return seen


def reporter_claim(session, case_id: int, claim_id: int) -> Case | None:
    """A claim the reporter logged in to ``case_id`` may act on (None: not theirs)."""
    claim = session.get(Case, claim_id)
    if claim is None or claim.kind != "retaliation":
        return None
    return claim if claim.id == case_id or claim.related_case_id == case_id else None


def statistics(session, contractor_only: bool = False) -> dict:
    """Aggregate figures for the authority and monitor roles; ``contractor_only`` (administrators):
    not the claims a worker sent to Electronics Watch alone, as for reports (``statistics``).

    A count under 5 is never shown, nor can it be found by subtracting shown figures from one
    another (complementary suppression): not a type's claims from all claims, not the shown types
    from all claims, not the confirmed remedies from the delivered ones, not the substantiated
    claims from the decided ones behind a share."""
    counted = (Case.kind == "retaliation", *(oversight.contractor_may_see() if contractor_only else ()))
    # Three columns of each claim, not the claim (a case row carries a ~2 kB key, and more).
    claims = session.execute(select(Case.status, Case.received_on, Case.risk_assessed_on).where(*counted)).all()
    by_type = dict(session.execute(
        select(CaseCategory.code, func.count()).join(Case, Case.id == CaseCategory.case_id)
        .where(*counted).group_by(CaseCategory.code)).all())
    decided = [c for c in claims if c.status in ("substantiated", "not_substantiated", "closed")]
    substantiated = [c for c in claims if c.status == "substantiated"]
    assessed = [(c.risk_assessed_on - c.received_on).days for c in claims if c.risk_assessed_on]
    remedies = dict(session.execute(select(Remedy.state, func.count()).join(Case, Case.id == Remedy.case_id)
                                    .where(*counted).group_by(Remedy.state)).all())
    delivered = remedies.get("delivered", 0) + remedies.get("confirmed", 0) + remedies.get("disputed", 0)
    confirmed = remedies.get("confirmed", 0)
    share_safe = len(substantiated) >= SUPPRESS_BELOW and len(decided) - len(substantiated) >= SUPPRESS_BELOW
    return {
        "claims": suppression.shown(len(claims)),
        "by_type": suppression.table(len(claims), {code: by_type.get(code, 0) for code in RETALIATION_TYPES}),
        "share_substantiated": len(substantiated) / len(decided) if share_safe else None,
        "median_days_to_assess": sorted(assessed)[len(assessed) // 2] if len(assessed) >= SUPPRESS_BELOW else None,
        "remedies_delivered": suppression.shown(delivered),
        # Delivered minus confirmed would tell the small number delivered but not (yet) confirmed.
        "remedies_confirmed": suppression.shown(confirmed) if not 0 < delivered - confirmed < SUPPRESS_BELOW else None,
    }
