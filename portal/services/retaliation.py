"""Retaliation claims: filed by the reporter, investigated by the retaliation
officers, followed by discipline and remedies the reporter confirms or disputes.

Every claim reaches the users with the retaliation officer role and the
original case's keyholders, except those the reporter says the claim is about.
What people write (the claim, the measures, who is disciplined, the remedy's
amount, escalation notes) is encrypted; codes, dates and states are not, so
deadlines and statistics work without opening anything.
"""

import json
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import func, select

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
    ProtectionMeasure,
    Remedy,
    User,
)
from . import audit, clock, deadlines, keyring, receipts, routing
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
# Statistics never show a count below this: a small number can single someone out.
SUPPRESS_BELOW = 5


class RetaliationError(Refusal):
    """A claim, remedy or step the record cannot take."""


@dataclass
class Claim:
    """What the reporter says happened to them, all of it encrypted but the types."""

    types: list[str]
    description: str
    when: str = ""
    by_whom: str = ""
    # Keyholders of the original case the claim is about: they never receive it.
    about_user_ids: list[int] = field(default_factory=list)


def _item(session, case: Case, kind: str, payload: dict, recipients, author: User | None) -> CaseItem:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    moment = clock.now()
    item = CaseItem(case_id=case.id, kind=kind, author="handler" if author else "reporter",
                    author_user_id=author.id if author else None, created_on=moment.date(),
                    created_at=moment if author else None, blob=crypto.encrypt(body, recipients), size=len(body))
    session.add(item)
    session.flush()
    return item


def claim_readers(session, original: Case | None, about_user_ids) -> list[User]:
    """The retaliation officers and the original case's keyholders, less those the claim is about."""
    officers = list(session.scalars(select(User).where(User.role == OFFICER_ROLE).order_by(User.id)))
    holders = keyring.holders_of(session, original) if original is not None else []
    readers, seen = [], set(about_user_ids)
    for user in officers + holders:
        if user.id not in seen and routing.usable(user):
            seen.add(user.id)
            readers.append(user)
    return readers


def file_from_follow_up(session, config, original_case_id: int, claim: Claim, submission_token: str) -> Case:
    """A claim by the reporter of ``original_case_id``, who is logged in with its receipt."""
    original = session.get(Case, original_case_id)
    if original is None or original.kind != "report":
        raise RetaliationError("case")
    digest = receipts.submission_digest(submission_token)
    earlier = session.scalar(select(Case).where(Case.submission_digest == digest))
    if earlier is not None:
        return earlier
    _check(claim, offered=[u.id for u in keyring.holders_of(session, original)])
    today = clock.today()
    readers = claim_readers(session, original, claim.about_user_ids)
    case = Case(
        kind="retaliation", related_case_id=original.id, received_on=today, status="received",
        facility_id=original.facility_id, language=original.language, urgent=True,
        acknowledge_due=deadlines.acknowledge_due(today, config["ACK_DAYS"]),
        feedback_due=deadlines.feedback_due(today, config["FEEDBACK_MONTHS"]),
        receipt_lookup=None, submission_digest=digest, reporter_recipient=original.reporter_recipient,
        recipient_choice=original.recipient_choice,
    )
    case.categories = [CaseCategory(code=code) for code in sorted(set(claim.types))]
    case.keyholders = [Keyholder(user_id=user.id) for user in readers]
    session.add(case)
    session.flush()
    recipients = keyring.recipients_for(session, readers, case.reporter_recipient)
    item = _item(session, case, "claim", asdict(claim), recipients, None)
    case.last_reporter_item_id = item.id
    if not readers:
        routing.raise_alert(session, case.id, "no_recipient")
    session.commit()
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
    today = clock.today()
    claim.risk_level, claim.risk_assessed_on, claim.status = level, today, "risk_assessed"
    recipients = keyring.case_recipients(session, claim, reporter=False)
    for kind, text in measures:
        item = _item(session, claim, "measure", {"kind": kind, "text": text}, recipients, actor)
        session.add(ProtectionMeasure(case_id=claim.id, kind=kind, decided_on=today, item_id=item.id))
    audit.record(session, "status", actor, claim.id, {"status": "risk_assessed", "risk": level}, commit=False)
    session.commit()


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


def add_remedy(session, actor: User, claim: Case, kind: str, details: str, due_on: date | None = None,
               amount: str = "", currency: str = "") -> Remedy:
    """A remedy for the reporter: the details are encrypted to the reporter too."""
    _claim(claim)
    if kind not in REMEDY_KINDS:
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
        select(Remedy).join(Keyholder, Keyholder.case_id == Remedy.case_id)
        .where(Keyholder.user_id == user_id, Remedy.due_on < clock.today(),
               Remedy.state.in_(("proposed", "agreed", "disputed")))
        .order_by(Remedy.due_on)))


def report_breach(session, actor: User, case: Case, day: date | None = None) -> None:
    """The contracting authority and Electronics Watch were told of this breach (the date)."""
    case.breach_reported_on = day or clock.today()
    audit.record(session, "export", actor, case.id, {"breach_reported": case.breach_reported_on.isoformat()},
                 commit=False)
    session.commit()


def record_escalation(session, actor: User, case: Case, step: str, note: str = "",
                      happened_on: date | None = None) -> EscalationStep:
    """One step of the escalation procedure, in the contract's order; the note is encrypted."""
    if step not in ESCALATION_STEPS:
        raise RetaliationError("step")
    done = [s.step for s in timeline(session, case.id)]
    if step in done or (done and ESCALATION_STEPS.index(step) < ESCALATION_STEPS.index(done[-1])):
        raise RetaliationError("order")
    if not done and step != "breach_indicated":
        raise RetaliationError("order")
    item = _item(session, case, "escalation", {"step": step, "note": note},
                 keyring.case_recipients(session, case, reporter=False), actor)
    entry = EscalationStep(case_id=case.id, step=step, happened_on=happened_on or clock.today(), item_id=item.id)
    session.add(entry)
    audit.record(session, "status", actor, case.id, {"escalation": step}, commit=False)
    session.commit()
    return entry


def timeline(session, case_id: int) -> list[EscalationStep]:
    return list(session.scalars(select(EscalationStep).where(EscalationStep.case_id == case_id)
                                .order_by(EscalationStep.id)))


def statistics(session) -> dict:
    """Aggregate figures for the authority and monitor roles; counts under 5 are suppressed."""
    def shown(count):
        return count if count >= SUPPRESS_BELOW else None

    claims = session.scalars(select(Case).where(Case.kind == "retaliation")).all()
    by_type = dict(session.execute(
        select(CaseCategory.code, func.count()).join(Case, Case.id == CaseCategory.case_id)
        .where(Case.kind == "retaliation").group_by(CaseCategory.code)).all())
    decided = [c for c in claims if c.status in ("substantiated", "not_substantiated", "closed")]
    substantiated = [c for c in claims if c.status == "substantiated"]
    assessed = [(c.risk_assessed_on - c.received_on).days for c in claims if c.risk_assessed_on]
    remedies = dict(session.execute(select(Remedy.state, func.count()).group_by(Remedy.state)).all())
    return {
        "claims": shown(len(claims)),
        "by_type": {code: shown(by_type.get(code, 0)) for code in RETALIATION_TYPES},
        "share_substantiated": (len(substantiated) / len(decided)) if len(decided) >= SUPPRESS_BELOW else None,
        "median_days_to_assess": sorted(assessed)[len(assessed) // 2] if len(assessed) >= SUPPRESS_BELOW else None,
        "remedies_delivered": shown(remedies.get("delivered", 0) + remedies.get("confirmed", 0)
                                    + remedies.get("disputed", 0)),
        "remedies_confirmed": shown(remedies.get("confirmed", 0)),
    }
