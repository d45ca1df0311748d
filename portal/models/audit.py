from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class AuditEntry(Base):
    """One line of the append-only audit trail, chained to the one before.

    ``digest`` is SHA-256 over the previous digest and this entry's fields, so
    editing or deleting any entry breaks every digest after it.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # Codes and ids only: never content, never anything about a reporter.
    detail: Mapped[str] = mapped_column(Text, default="")
    # Unique: two entries can never follow the same one.
    previous_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)


class AuditHead(Base):
    """The newest digest and the number of entries: writers queue on this row,
    and ``verify`` notices entries cut from the end of the trail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    entries: Mapped[int] = mapped_column(Integer, default=0)
