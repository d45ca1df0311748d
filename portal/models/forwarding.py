"""Forwarding cases between portal instances: partners, forwards sent, bundles received.

A contractor's instance forwards cases to Electronics Watch's instance as
signed bundles of age files encrypted to the partner's monitor users. The
rows below hold what delivery and the inboxes need: never a key that opens a
bundle, never what the reporter wrote.
"""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

FORWARD_STATES = ("pending", "delivered", "acknowledged")
# What the monitor tells the sender about a bundle, after "acknowledged".
REMOTE_STATUSES = ("acknowledged", "under_review", "findings_shared", "closed")


class Partner(Base):
    """Another portal instance this one sends bundles to, or receives them from, or both."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    # SHA-256 of the partner's Ed25519 signing key, as checked out of band.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    signing_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # JSON list of the age recipients of the partner's monitor users and its recovery key.
    recipients: Mapped[str] = mapped_column(Text, default="[]")
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The API token the partner issued to us: we present it when we send.
    outbound_token: Mapped[str] = mapped_column(Text, default="")
    # SHA-256 of the token we issued to the partner: it presents it when it sends.
    inbound_token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Forward(Base):
    """A bundle built from a case for a partner, and how its delivery went."""

    __tablename__ = "forwards"
    # Statistics count forwards by day, state and status from this index alone: a row holds its bundle.
    __table_args__ = (Index("ix_forwards_statistics", "created_on", "state", "remote_status", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_on: Mapped[date] = mapped_column(Date)
    # "without_identity" or "with_identity": what the reporter's consent allowed.
    scope: Mapped[str] = mapped_column(String(30))
    # JSON: the contents list and what was left out (kinds and counts, no content).
    summary: Mapped[str] = mapped_column(Text)
    # The signed bundle: age files this server cannot open, and the signed manifest.
    bundle: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The latest status the partner sent back, signed.
    remote_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    remote_status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The sequence number signed with that status: a status whose number is not greater is an old
    # one replayed (or a retry), and changes nothing.
    remote_status_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReceivedBundle(Base):
    """A bundle a partner sent us, filed as a case in the monitor users' inbox."""

    __tablename__ = "received_bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(36), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    # The first bundle of a case filed it; later ones (the worker's additions) join it.
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The signed manifest's plaintext part: reference, facility, categories, dates, scope, contents.
    manifest: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), default="received")
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Counts the statuses set for the sender; each is signed with its number.
    status_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The newest status not yet delivered to the sender (the job retries it).
    status_unsent: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    status_attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ExchangeBundle(Base):
    """One bundle of the exchange on a forwarded case, sent or received: a message, a request for
    information or a site visit, documents (services/exchange.py). Both instances hold a row per
    bundle; the content is case items, encrypted, named by ``item_ids``.

    Numbered per case, partner and direction: the receiver files them in that order, holding one
    that arrives before its predecessor (``position`` empty) until the gap is filled."""

    __tablename__ = "exchange_bundles"
    __table_args__ = (UniqueConstraint("case_id", "partner_id", "direction", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    # "sent" or "received".
    direction: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int] = mapped_column(Integer)
    # The kind of its first item (services/exchange.KINDS): a message, a request, a verdict...
    kind: Mapped[str] = mapped_column(String(40))
    # The sequence of the partner's request this bundle answers, if it answers one.
    answers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # JSON list of the case items (ids) it holds, in order.
    item_ids: Mapped[str] = mapped_column(Text, default="[]")
    # Its place in the case's thread on this instance; empty while held for an earlier one.
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Sent bundles: the signed file and its delivery, retried with back-off like a forward.
    bundle: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="filed", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
