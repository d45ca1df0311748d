from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class ReplyTemplate(Base):
    """An administrator's own reply template in one language: one row per (name, language).

    Every name has an English version, which the investigator reads beside the reporter's.
    """

    __tablename__ = "reply_templates"
    __table_args__ = (UniqueConstraint("name", "language", name="uq_reply_templates_name_language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    language: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
