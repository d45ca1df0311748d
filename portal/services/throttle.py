"""Shared attempt budgets that identify no one.

Per-address limits are useless (behind Tor everyone is 127.0.0.1) and would
mean keeping addresses, so receipt guessing is held back by one budget for
the whole instance, in the database every app node shares. A budget may count
more than attempts: the anonymous uploads of a day are counted in KiB.

An attempt is taken from its budget before anything is checked: a count read
first and spent after a slow check lets every parallel request pass the same
count. Each spend is one conditional UPDATE (or a Redis INCR), atomic across
processes and nodes. A budget row goes once its window has passed.
"""

import functools
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..models import Budget
from . import clock

WINDOW = timedelta(minutes=1)
REDIS_KEY_PREFIX = "portal:budget:"
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _redis(url: str):
    # Imported when first needed: Redis is optional, and its client costs ~0.17 s at start-up.
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def spend(session, name: str, per_window: int, now: datetime | None = None,
          window: timedelta = WINDOW, redis_url: str = "", amount: int = 1) -> bool:
    """Take ``amount`` (one attempt) from the budget ``name``; False, taking nothing, when not that much is left.

    With ``redis_url`` the budget lives in Redis (one counter per window, which
    expires by itself); if Redis does not answer, the database keeps the budget.
    """
    now = now or clock.now()
    if redis_url:
        import redis

        seconds = int(window.total_seconds())
        key = f"{REDIS_KEY_PREFIX}{name}:{int(now.timestamp()) // seconds}"
        try:
            client = _redis(redis_url)
            with client.pipeline() as pipe:
                used, _ = pipe.incrby(key, amount).expire(key, seconds * 2).execute()
            if used <= per_window:
                return True
            if amount > 1:
                # Given back: a large amount refused leaves the budget to smaller ones.
                client.decrby(key, amount)
            return False
        except redis.RedisError as error:
            log.warning("Redis unavailable for the %s budget, using the database: %s", name, type(error).__name__)
    return _spend_in_database(session, name, per_window, now, window, amount)


def _spend_in_database(session, name: str, per_window: int, now: datetime, window: timedelta,
                       amount: int) -> bool:
    window_floor = now - window
    # The row may appear between our UPDATE and our look for it (another node made it
    # on the first use): then the UPDATE is tried again, not read as "used up".
    for _ in range(3):
        # Open a new window atomically when the old one has passed.
        session.execute(
            update(Budget)
            .where(Budget.name == name, Budget.window_start <= window_floor)
            .values(window_start=now, expires_at=now + window, used=0)
        )
        spent = session.execute(
            update(Budget)
            .where(Budget.name == name, Budget.used + amount <= per_window)
            .values(used=Budget.used + amount)
        ).rowcount
        if spent:
            session.commit()
            return True
        budget = session.execute(select(Budget.used, Budget.window_start).where(Budget.name == name)).first()
        if budget is not None:
            used, window_start = budget
            if used + amount > per_window and clock.as_utc(window_start) > window_floor:
                session.commit()
                return False
            continue
        try:
            if amount > per_window:
                session.commit()
                return False
            # A new row (a name not tried within its window) first clears the rows whose window
            # has passed: a flood of made-up names leaves no more than one window's worth.
            forget_expired(session, now)
            session.add(Budget(name=name, window_start=now, expires_at=now + window, used=amount))
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
    session.commit()
    return False


def give_back(session, name: str, spent_at: datetime, window: timedelta = WINDOW, redis_url: str = "",
              amount: int = 1) -> None:
    """Return the ``amount`` taken at ``spent_at`` (an attempt that succeeded, or work that was never
    done), if its window is still the open one.

    A window opened after ``spent_at`` owes it nothing. With ``redis_url``, to the counter of
    ``spent_at``'s window there (and to the database's too, which kept it if Redis did not answer).
    """
    if redis_url:
        import redis

        key = f"{REDIS_KEY_PREFIX}{name}:{int(spent_at.timestamp()) // int(window.total_seconds())}"
        try:
            client = _redis(redis_url)
            if int(client.get(key) or 0) >= amount:
                client.decrby(key, amount)
        except redis.RedisError as error:
            log.warning("Redis unavailable for the %s budget, using the database: %s", name, type(error).__name__)
    session.execute(
        update(Budget)
        .where(Budget.name == name, Budget.used >= amount, Budget.window_start <= spent_at)
        .values(used=Budget.used - amount)
    )
    session.commit()


def forget_expired(session, now: datetime | None = None) -> int:
    """Delete the budgets whose window has passed (a new attempt starts a new one); how many went.

    Run before a spend makes a new row, and by the periodic clean-up (``portal retention run``).
    """
    return session.execute(delete(Budget).where(Budget.expires_at <= (now or clock.now()))).rowcount
