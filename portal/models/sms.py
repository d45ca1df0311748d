"""What SMS intake keeps between two texts: nothing that names the worker's phone.

Both tables are keyed by keyed hashes (HMAC under ``PORTAL_SMS_SECRET``, which is
not in the database), never by a number; see docs/sms.md.
"""

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class SmsConversation(Base):
    """A report being written by text: its answers so far, sealed under a key derived from the number."""

    __tablename__ = "sms_conversations"

    sender_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # AES-GCM under a key derived from the number and the SMS secret: only a text from that number opens it.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SmsSeenWebhook(Base):
    """A webhook already handled (digest of the gateway's message id or signature): a replay is refused."""

    __tablename__ = "sms_seen_webhooks"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
