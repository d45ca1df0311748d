from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Instance(Base):
    """The one row of settings every app node must share, made by ``portal init``."""

    __tablename__ = "instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Salt of the Argon2id receipt look-up; without it receipts cannot be tested.
    receipt_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Signs session cookies and derives submission receipts.
    secret_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    # The organisation's recovery recipient; its identity is kept offline.
    recovery_recipient: Mapped[str] = mapped_column(Text)
    organisation_name: Mapped[str] = mapped_column(String(200))
    # Who a reporter may choose to send to: any of "contractor", "monitor", "both".
    recipient_choices: Mapped[str] = mapped_column(String(60), default="contractor,monitor,both")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The Ed25519 key that signs bundles and statuses sent to partner instances.
    signing_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # Hybrid ML-KEM-768 + X25519 keys (the default), or X25519 only, chosen at ``portal init``
    # for an organisation whose people must open exported files with an age tool older than 1.3.
    post_quantum: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    # Raised with every change to a user or a routing rule: each process keeps whom routing
    # chooses among until it changes (services/routing_cache.py).
    routing_generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
