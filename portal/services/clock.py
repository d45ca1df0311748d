"""The one place that reads the time, so dates stay UTC everywhere."""

from datetime import date, datetime, time, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return now().date()


def start_of_today() -> datetime:
    """Midnight UTC today: for what may say the day of an event but never its hour."""
    return datetime.combine(today(), time(), tzinfo=timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Databases hand back naive (SQLite) or aware (PostgreSQL) times: make them aware."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
