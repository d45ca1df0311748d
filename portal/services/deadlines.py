"""Due dates: acknowledge within 7 days, feedback within 3 months (EU 2019/1937 Art. 9)."""

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def acknowledge_due(received: date, days: int) -> date:
    return received + timedelta(days=days)


def feedback_due(received: date, months: int) -> date:
    return add_months(received, months)
