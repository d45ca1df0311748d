"""Retaliation claims and what follows them: protection, discipline, remedies,
and the contract's escalation procedure.

A claim is a case of its own (``Case.kind == "retaliation"``), so it has the
reporter's receipt, keyholders, encrypted items, messages and deadlines of any
case; ``Case.related_case_id`` links it to the report it retaliates against.
The records below hold codes, dates and states in plaintext (for deadlines and
statistics); everything a person wrote is an encrypted item of the case.
"""

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

# Article 19 of EU Directive 2019/1937: the forms retaliation takes.
RETALIATION_TYPES = (
    "dismissal", "demotion", "transfer_pay_hours", "withheld_training", "negative_appraisal",
    "disciplinary_measure", "coercion_harassment", "discrimination", "contract_not_renewed",
    "harm_financial_loss", "blacklisting", "early_termination", "licence_cancelled",
    "medical_referral", "threats",
)
CLAIM_STATUSES = ("received", "risk_assessed", "investigating", "substantiated", "not_substantiated", "closed")
RISK_LEVELS = ("high", "medium", "low")
MEASURE_KINDS = ("dismissal_suspended", "paid_leave", "transfer_reversed", "other")
DISCIPLINE_KINDS = ("warning", "training", "suspension", "dismissal", "other")
DISCIPLINE_STATES = ("proposed", "taken", "withdrawn")
REMEDY_KINDS = (
    "reinstatement", "back_pay", "compensation", "restored_position_hours_contract", "apology",
    "medical_psychological_support", "legal_costs", "other",
)
REMEDY_STATES = ("proposed", "agreed", "delivered", "confirmed", "disputed")
ESCALATION_STEPS = (
    "breach_indicated", "cooperation_started", "statement_requested", "statement_received",
    "meeting_held", "remedial_action_required", "notice_of_default", "penalty_applied", "resolved",
)


class ProtectionMeasure(Base):
    """An interim measure that shields the reporter while the claim is investigated."""

    __tablename__ = "protection_measures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    decided_on: Mapped[date] = mapped_column(Date)
    # The details, encrypted: an item of the claim.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("case_items.id", ondelete="SET NULL"), nullable=True)


class DisciplinaryAction(Base):
    """An action against someone who threatened or retaliated; who it is stays encrypted."""

    __tablename__ = "disciplinary_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20), default="proposed")
    decided_on: Mapped[date] = mapped_column(Date)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("case_items.id", ondelete="SET NULL"), nullable=True)


class Remedy(Base):
    """A remedy owed to the reporter; the reporter confirms or disputes it."""

    __tablename__ = "remedies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="proposed")
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    state_changed_on: Mapped[date] = mapped_column(Date)
    # Amount, currency and description, encrypted to the claim's readers and the reporter.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("case_items.id", ondelete="SET NULL"), nullable=True)


class EscalationStep(Base):
    """One step of the contract's escalation procedure for a case, with its date."""

    __tablename__ = "escalation_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    happened_on: Mapped[date] = mapped_column(Date)
    # The note and any documents, encrypted to the case's keyholders (never the reporter).
    item_id: Mapped[int | None] = mapped_column(ForeignKey("case_items.id", ondelete="SET NULL"), nullable=True)
    # The date by which the contracting authority expects the next step.
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # A correction is a new entry that points at the one it corrects: nothing is edited away.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_steps.id"), nullable=True)
    # A correction saying the corrected step did not happen.
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
