from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class TranslationOverride(Base):
    """One administrator's change to one catalogue string in one language.

    Rows are only ever added: the newest row of a (language, context, msgid) is in force, one
    without ``text`` clears it, and the rows together are the history (old and new, who, when).
    The highest id is the overrides' generation each process compares with its own copy.
    """

    __tablename__ = "translation_overrides"
    __table_args__ = (Index("ix_translation_overrides_language", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(16))
    # The pgettext context, empty for none.
    context: Mapped[str] = mapped_column(String(100), default="")
    msgid: Mapped[str] = mapped_column(Text)
    # None: the catalogue's own translation is back in force.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
