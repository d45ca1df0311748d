from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class WebSession(Base):
    """A server-side session; the cookie holds its id and the key to ``sealed``."""

    __tablename__ = "web_sessions"

    # SHA-256 of the session id, so a database reader cannot ride a session.
    id_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    data: Mapped[str] = mapped_column(Text, default="{}")
    # Secrets sealed under a key that only the cookie carries.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    absolute_expiry: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20), default="anonymous")
