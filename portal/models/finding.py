"""Findings of an investigation and the corrective actions that follow them.

A finding belongs to one case, or to a facility when several of its cases share
a root cause (``Finding.facility_id`` set): it is then linked to each of those
cases. Plaintext is only what deadlines and statistics need: states, due dates,
days, the facility. Everything a person wrote (the finding, the summary for the
worker, an action's description and owner, the monitor's comments, evidence
files) is an encrypted item of each linked case (``FindingItem``), so it follows
that case's keyholders through hand-overs, exports and retention like a note.
"""

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

ACTION_STATES = ("planned", "in_progress", "done", "verified", "not_done")
# What an item of a case holds for a finding: its text, the summary the worker may read, an
# action's description and owner, a file of evidence for an action, a monitor's verdict.
FINDING_ITEM_ROLES = ("finding", "worker", "action", "evidence", "verdict")


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A stable public name (a UUID): a remote monitor names the finding by it.
    reference: Mapped[str] = mapped_column(String(36), unique=True)
    # Set for a finding shared by several cases of one facility; None for one case's.
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), nullable=True, index=True)
    # The investigator marked the summary for the worker as shareable (and consent allowed it).
    shared_with_worker: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_on: Mapped[date] = mapped_column(Date)
    updated_on: Mapped[date] = mapped_column(Date)


class FindingCase(Base):
    """A case the finding is about (one for a case's finding, several for a facility's)."""

    __tablename__ = "finding_cases"
    __table_args__ = (UniqueConstraint("finding_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)


class CorrectiveAction(Base):
    __tablename__ = "corrective_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A stable public name (a UUID): Electronics Watch verifies or rejects the action by it.
    reference: Mapped[str] = mapped_column(String(36), unique=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(20), default="planned")
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    created_on: Mapped[date] = mapped_column(Date)
    updated_on: Mapped[date] = mapped_column(Date)


class ActionStateChange(Base):
    """One state an action took: by whom (a keyholder, or the monitor) and the day."""

    __tablename__ = "corrective_action_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    changed_on: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    by_monitor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class FindingItem(Base):
    """Which encrypted item of a linked case holds what for a finding or one of its actions."""

    __tablename__ = "finding_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_actions.id", ondelete="CASCADE"),
                                                  nullable=True, index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("case_items.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
