from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

ROLES = ("investigator", "retaliation_officer", "administrator", "monitor", "authority")


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
