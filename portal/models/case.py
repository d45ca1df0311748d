"""Cases and the encrypted items they hold.

Plaintext columns are only what routing, deadlines and statistics need; all
that a reporter or handler wrote is in ``CaseItem.blob``, an age file.
"""

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base

STATUSES = ("received", "acknowledged", "investigating", "feedback_given", "closed")
OUTCOMES = ("substantiated", "partly_substantiated", "not_substantiated", "out_of_scope")
CATEGORIES = (
    "forced_labour",
    "recruitment_fees",
    "child_labour",
    "wages",
    "working_hours",
    "health_safety",
    "freedom_of_association",
    "discrimination",
    "harassment",
    "contracts_dismissal",
    "environment",
    "other",
)
ITEM_KINDS = ("report", "message", "attachment", "note")
AUTHORS = ("reporter", "handler", "system")
# Statuses in which the reporter still waits for feedback: a report's, and a retaliation claim's.
OPEN_STATUSES = ("received", "acknowledged", "investigating", "risk_assessed")
# An open case's next deadline: its acknowledgement while "received", then its feedback. Written
# as SQL once, because the inbox's ordering must be this very expression for the database to
# walk the index below instead of sorting every open case (services/inbox.py).
NEXT_DUE_SQL = "(CASE WHEN status = 'received' THEN acknowledge_due ELSE feedback_due END)"
OPEN_SQL = "status IN (%s)" % ", ".join(f"'{status}'" for status in OPEN_STATUSES)


class Case(Base):
    __tablename__ = "cases"
    # The inbox filters on status, facility and language and sorts by the dates.
    # Each filter column leads an index that also holds every sort key and the
    # other filters, so the inbox counts and pages from indexes alone and reads
    # only the case rows it shows (wide rows: the reporter's post-quantum key
    # is ~2 kB). See services/inbox.py.
    __table_args__ = (
        Index("ix_cases_inbox_status", "status",
              "acknowledge_due", "feedback_due", "received_on", "facility_id", "language"),
        Index("ix_cases_inbox_facility_id", "facility_id",
              "acknowledge_due", "feedback_due", "received_on", "status", "language"),
        Index("ix_cases_inbox_language", "language",
              "acknowledge_due", "feedback_due", "received_on", "status", "facility_id"),
        # Statistics count by these columns alone, from this index (services/statistics.py); a
        # year's cases come in (day received, day acknowledged) order, grouped without a sort.
        Index("ix_cases_statistics", "kind", "received_on", "acknowledged_on", "recipient_choice", "facility_id",
              "acknowledge_due", "feedback_given_on", "feedback_due", "authority_notified_on", "id"),
        # The "need" order ranks every case a user holds: found by id from their keyholder
        # rows, each case's rank is read from this index, not from its wide row.
        Index("ix_cases_inbox_need", "id", "status", "urgent", "risk_level", "acknowledge_due", "feedback_due",
              "last_reporter_item_id", "facility_id", "language"),
        # The open cases by their next deadline, with what the "need" order and the filters
        # read: the inbox's first pages come from the start of this index (services/inbox.py).
        Index("ix_cases_open_by_due", text(NEXT_DUE_SQL), "id", "urgent", "risk_level", "feedback_due",
              "status", "facility_id", "language",
              sqlite_where=text(OPEN_SQL), postgresql_where=text(OPEN_SQL)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "report", or "retaliation": a claim of adverse treatment for reporting.
    kind: Mapped[str] = mapped_column(String(20), default="report")
    # A retaliation claim's original report, when there is one.
    related_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    risk_level: Mapped[str | None] = mapped_column(String(10), nullable=True)
    risk_assessed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The day the contracting authority and Electronics Watch were told of a breach.
    breach_reported_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The day only: a precise time could tell who was on shift.
    received_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="received")
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), nullable=True)
    language: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledge_due: Mapped[date] = mapped_column(Date, index=True)
    feedback_due: Mapped[date] = mapped_column(Date, index=True)
    # Argon2id of the receipt with the instance salt; the receipt is never stored.
    # A claim filed from a report's follow-up page has none: its report's receipt opens it.
    receipt_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True, nullable=True)
    # Its receipt was issued before receipts carried a check code: it is opened without the
    # check, under a budget of its own, for as long as any such case is kept.
    legacy_receipt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    # SHA-256 of the form's one-time token: a resent form finds its case.
    submission_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The reporter's public key; the identity is re-derived from the receipt.
    reporter_recipient: Mapped[str] = mapped_column(Text)
    # Who the reporter chose: the contractor, the independent monitor only, or both.
    recipient_choice: Mapped[str] = mapped_column(String(20), default="contractor")
    routing_rule_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Forced or child labour: Electronics Watch and the contracting authority must be told.
    mandatory_notification: Mapped[bool] = mapped_column(Boolean, default=False)
    # The day Electronics Watch had the mandatory notification (a forward of the case delivered to it).
    mandatory_notified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The day the contracting authority's accounts were e-mailed about it (services/authority_notices.py).
    authority_notified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    acknowledged_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    feedback_given_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # The newest item from the reporter, so the inbox counts unread ones cheaply.
    last_reporter_item_id: Mapped[int] = mapped_column(Integer, default=0)
    # The keyholder who answers for the case: deadline reminders go to them (services/lead.py).
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # How the report came, plaintext for statistics: "web" (the form), "sms" (docs/sms.md), or the
    # channel through which staff or a partner entered it for the worker (services/intake.py
    # CHANNELS: "phone", "in_person", "letter", "partner_interview"; docs/assisted-intake.md).
    channel: Mapped[str] = mapped_column(String(20), default="web", server_default="web")
    # Whose statistics count the case, one bit each (services/statistics_tallies.py). The database
    # keeps it, from the case, its escalation steps and its forwards (migration 0027's triggers),
    # and keeps the running counts of models/statistics_tally.py from it.
    audiences: Mapped[int] = mapped_column(Integer, server_default="0")

    categories: Mapped[list["CaseCategory"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseCategory.code"
    )
    items: Mapped[list["CaseItem"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseItem.id"
    )
    keyholders: Mapped[list["Keyholder"]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )

    @property
    def reference(self) -> str:
        return f"{self.received_on.year}-{self.id:05d}"

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]


class CaseCategory(Base):
    __tablename__ = "case_categories"
    # (code, case_id): the cases of a category from the index alone.
    __table_args__ = (
        UniqueConstraint("case_id", "code"),
        Index("ix_case_categories_code_case_id", "code", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    case: Mapped[Case] = relationship(back_populates="categories")


class Keyholder(Base):
    """A user whose recipient stanza is in every item of the case."""

    __tablename__ = "keyholders"
    # (user_id, case_id, seen_item_id): the inbox's "what needs me" order reads a user's
    # cases and what they have seen from this index alone (services/inbox.py).
    __table_args__ = (UniqueConstraint("user_id", "case_id"),
                      Index("ix_keyholders_user_case_seen", "user_id", "case_id", "seen_item_id"),
                      Index("ix_keyholders_user_unread", "user_id", "case_id",
                            sqlite_where=text("unread"), postgresql_where=text("unread")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The newest reporter item this keyholder has seen: the rest are unread.
    seen_item_id: Mapped[int] = mapped_column(Integer, default=0)
    # Whether the case holds a reporter item newer than ``seen_item_id``. Kept by the database
    # itself (triggers of migration 0021, on every write of either side), never by the code:
    # the inbox finds a user's unread cases from this row's index, not by reading every case.
    unread: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    case: Mapped[Case] = relationship(back_populates="keyholders")


class CaseItem(Base):
    """One encrypted thing of a case: the report, a message, a file or a note."""

    __tablename__ = "case_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(20))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_on: Mapped[date] = mapped_column(Date)
    # Handlers' items keep a precise time; a reporter's never do.
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # A stored file's evidence record (services/evidence.py): an age file for the item's recipients.
    evidence_record: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    read_by_reporter: Mapped[bool] = mapped_column(Boolean, default=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    case: Mapped[Case] = relationship(back_populates="items")
