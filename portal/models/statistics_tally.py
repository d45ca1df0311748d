"""Running counts of cases that the statistics pages read instead of the cases themselves.

The database keeps them, with triggers on cases, their categories, escalation steps and forwards
(migration 0027): whatever path of the code writes a case, the counts follow in the same
transaction. Each count is of the cases of one ``audiences`` value (``cases.audiences``: the
audiences whose statistics count the case, one bit each, see services/statistics_tallies.py),
so a page sums the few rows whose value holds its audience's bit. A count that falls to zero
stays as a row of zero.
"""

from datetime import date

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class StatisticsPlace(Base):
    """Cases of a year received from one facility (0: none named)."""

    __tablename__ = "statistics_places"

    audiences: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatisticsCategory(Base):
    """Cases of a year in one category (a case may be in several)."""

    __tablename__ = "statistics_categories"

    audiences: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatisticsAnswered(Base):
    """Cases of a month (yyyymm) whose deadline ("a": acknowledgement, "f": feedback) was met or
    missed, by the days it took: a month's median and share in time, at any later date."""

    __tablename__ = "statistics_answered"

    audiences: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline: Mapped[str] = mapped_column(String(1), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    late: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatisticsWaiting(Base):
    """Cases of a month still waiting for a deadline's answer, by the day it is due: whether they
    are overdue depends on the day the page is read."""

    __tablename__ = "statistics_waiting"

    audiences: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline: Mapped[str] = mapped_column(String(1), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatisticsForward(Base):
    """Forwards made in a year of the cases of one ``audiences``, by delivery state and the status
    Electronics Watch sent back ("": none yet)."""

    __tablename__ = "statistics_forwards"

    audiences: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    remote_status: Mapped[str] = mapped_column(String(30), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
