from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

# Which deadline a reminder is about, and whether it comes before it or once it has passed.
DEADLINES = ("acknowledge", "feedback")
STAGES = ("before", "passed")


class SentReminder(Base):
    """A deadline reminder already queued for a case: each is sent once (services/reminders.py).

    The deadline's day is part of the key, so a deadline moved later is reminded of again;
    no time finer than that day is kept."""

    __tablename__ = "sent_reminders"
    __table_args__ = (UniqueConstraint("case_id", "deadline", "stage", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    deadline: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(10))
    due_on: Mapped[date] = mapped_column(Date)
