"""Shared attempt budgets that identify no one.

Per-address limits are useless (behind Tor everyone is 127.0.0.1) and would
mean keeping addresses, so receipt guessing is held back by one budget for
the whole instance, in the database every app node shares.
"""

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..models import Budget
from . import clock

WINDOW = timedelta(minutes=1)


def spend(session, name: str, per_window: int, now: datetime | None = None,
          window: timedelta = WINDOW) -> bool:
    """Take one attempt from the budget ``name``; False when it is used up."""
    now = now or clock.now()
    window_floor = now - window
    # Open a new window atomically when the old one has passed.
    session.execute(
        update(Budget)
        .where(Budget.name == name, Budget.window_start <= window_floor)
        .values(window_start=now, used=0)
    )
    spent = session.execute(
        update(Budget)
        .where(Budget.name == name, Budget.used < per_window)
        .values(used=Budget.used + 1)
    ).rowcount
    if spent:
        session.commit()
        return True
    exists = session.scalar(select(Budget.name).where(Budget.name == name))
    if exists is None:
        try:
            session.add(Budget(name=name, window_start=now, used=1))
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
            return spend(session, name, per_window, now, window)
    session.commit()
    return False


def used_up(session, name: str, per_window: int, window: timedelta = WINDOW) -> bool:
    """Whether ``name`` has no attempt left in its current window (spends nothing)."""
    budget = session.get(Budget, name)
    if budget is None:
        return False
    return clock.as_utc(budget.window_start) > clock.now() - window and budget.used >= per_window
