from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

# intake_partner: a monitoring partner's interviewer who enters reports for workers and can do
# nothing else (no case, not even those they entered: web/common/staff.py confines them).
ROLES = ("investigator", "retaliation_officer", "administrator", "monitor", "authority", "intake_partner")


class User(Base):
    """A person of the secure inbox, with an age identity sealed to their passphrase."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    passphrase_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recipient: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An age file encrypted to the user's passphrase (scrypt): the identity string.
    sealed_identity: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Until routing rules exist, these investigators receive every new case.
    default_recipient: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    # Until activation the user has no passphrase, no key and no TOTP.
    activation_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True, unique=True)
    activation_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    # Listed on the report form, so a reporter can keep the report from this person.
    shown_to_reporters: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a new identity was issued and the recovery key has not re-admitted it yet.
    awaiting_readmission: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sessions carry the epoch of their log-in: raising it ends every session of the account at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Deadline reminders as one e-mail a day listing them, instead of one e-mail each.
    reminder_digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RecoveryCode(Base):
    """A one-time code that stands in for a lost TOTP device."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
