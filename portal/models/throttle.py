from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Budget(Base):
    """A shared attempt budget (a fixed window), the same for every app node."""

    __tablename__ = "budgets"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[int] = mapped_column(Integer, default=0)
    # When the window ends: the row may be deleted then, whatever name made it.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
