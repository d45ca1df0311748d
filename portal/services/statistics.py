"""Statistics of cases people can read: how many came in, about what, from where, when; how
fast they were acknowledged and answered; what was forwarded to Electronics Watch.

Everything is counted by the database, never by opening a case: the cases' figures are sums of
the running counts it keeps (models/statistics_tally.py, services/statistics_tallies.py), a
few rows a month whatever the number of cases; forwards and corrective actions are grouped
from their own rows. Every count passes ``suppression``: a count under five, or one that
subtraction would give, is not shown. Who sees which cases' figures follows the oversight pages:

- administrators: every case anyone at the contractor may know of (not a worker's report to
  Electronics Watch alone: counting it would let an administrator compare with the inbox);
- the contracting authority: the cases notified or escalated to it (``oversight``);
- Electronics Watch's monitors: the cases forwarded to it, or received from another instance;
- the public transparency page: what administrators see, by year only.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from ..models import (
    ACTION_STATES,
    CATEGORIES,
    FORWARD_STATES,
    REMOTE_STATUSES,
    Case,
    CorrectiveAction,
    Facility,
    FindingCase,
    StatisticsAnswered,
    StatisticsCategory,
    StatisticsForward,
    StatisticsPlace,
    StatisticsWaiting,
)
from . import suppression
from .statistics_tallies import counted_by

AUDIENCES = ("administrator", "authority", "monitor", "public")
TOTAL = "total"


def _day(value) -> date:
    """A day as the database hands it back (SQLite: text in raw SQL results)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def years(session, audience: str) -> list[int]:
    """The years from the first report (or case received from another instance) to the last, newest
    first: each end is one look into ix_cases_statistics."""
    kinds = ("report", "forwarded") if audience == "monitor" else ("report",)
    ends = [_day(day) for kind in kinds for aggregate in (func.min, func.max)
            for day in [session.scalar(select(aggregate(Case.received_on)).where(Case.kind == kind))]
            if day is not None]
    if not ends:
        return []
    return list(range(max(ends).year, min(ends).year - 1, -1))


@dataclass
class Place:
    """A row of the facilities or countries table: only shown rows are listed."""

    key: int | str | None
    count: int
    name: str = ""
    country: str | None = None


@dataclass
class Timeliness:
    """How one month's cases met a deadline (acknowledgement or feedback)."""

    share_in_time: float | None
    median_days: int | None
    overdue: int | None


@dataclass
class Figures:
    year: int
    total: int | None
    by_month: dict[int, int | None]
    by_category: dict[str, int | None]
    countries: list[Place]
    other_countries: int | None
    facilities: list[Place]
    other_facilities: int | None
    acknowledgement: dict[int, Timeliness] = field(default_factory=dict)
    feedback: dict[int, Timeliness] = field(default_factory=dict)
    forwards_total: int | None = None
    forwards_by_state: dict[str, int | None] = field(default_factory=dict)
    forwards_by_status: dict[str | None, int | None] = field(default_factory=dict)


def figures(session, audience: str, year: int, today: date) -> Figures:
    """Every table of one year, for one audience, suppressed."""
    deadlines = _deadlines(session, audience, StatisticsAnswered.month.between(year * 100 + 1, year * 100 + 12),
                           StatisticsWaiting.month.between(year * 100 + 1, year * 100 + 12), today)
    months = {month % 100: count for month, count in deadlines["a"].received.items()}
    total = sum(months.values())
    cells = {TOTAL: total, **{number: months.get(number, 0) for number in range(1, 13)}}
    hidden = suppression.partition(cells, [(TOTAL, range(1, 13))])
    by_category = _sums(session, StatisticsCategory, (StatisticsCategory.code,), audience,
                       StatisticsCategory.year == year)
    shown_months = {number: None if number in hidden else cells[number] for number in range(1, 13)}
    result = Figures(year=year, total=suppression.shown(total), by_month=shown_months,
                     by_category=suppression.table(total, {code: by_category.get(code, 0) for code in CATEGORIES}),
                     **_places(session, audience, year, total))
    result.acknowledgement, result.feedback = (
        _timeliness({month % 100: sums for month, sums in deadlines[deadline].sums.items()}, shown_months,
                    {month % 100: days for month, days in deadlines[deadline].days.items()})
        for deadline in ("a", "f"))
    _forwards(session, audience, year, result)
    return result


def _sums(session, model, columns: tuple, audience: str, *where) -> dict:
    """A tally's counts of ``audience`` by ``columns`` (a key, or a tuple of keys for several),
    leaving out keys whose count fell to zero."""
    return {key[0] if len(columns) == 1 else tuple(key): int(count) for *key, count in session.execute(
        select(*columns, func.sum(model.n)).where(counted_by(model.audiences, audience), *where).group_by(*columns))
        if count}


@dataclass
class Deadline:
    """One deadline's cases by month received (yyyymm): how many, their sums of (met, missed, still
    open past the deadline today), and the days those answered took."""

    received: dict[int, int] = field(default_factory=dict)
    sums: dict[int, list[int]] = field(default_factory=dict)
    days: dict[int, dict[int, int]] = field(default_factory=dict)

    def add(self, month: int, count: int, in_time: int = 0, late: int = 0, overdue: int = 0) -> None:
        self.received[month] = self.received.get(month, 0) + count
        sums = self.sums.setdefault(month, [0, 0, 0])
        sums[0], sums[1], sums[2] = sums[0] + in_time, sums[1] + late, sums[2] + overdue


def _deadlines(session, audience: str, answered_when, waiting_when, today: date) -> dict[str, Deadline]:
    """Both deadlines, from the answered and waiting counts: a few rows a month, whatever the cases."""
    found = {"a": Deadline(), "f": Deadline()}
    answered, waiting = StatisticsAnswered, StatisticsWaiting
    for deadline, month, days, late, count in session.execute(
            select(answered.deadline, answered.month, answered.days, answered.late, func.sum(answered.n))
            .where(counted_by(answered.audiences, audience), answered_when)
            .group_by(answered.deadline, answered.month, answered.days, answered.late)):
        if not count:
            continue
        found[deadline].add(month, count, in_time=0 if late else count, late=count if late else 0)
        histogram = found[deadline].days.setdefault(month, {})
        histogram[days] = histogram.get(days, 0) + count
    for deadline, month, due_on, count in session.execute(
            select(waiting.deadline, waiting.month, waiting.due_on, func.sum(waiting.n))
            .where(counted_by(waiting.audiences, audience), waiting_when)
            .group_by(waiting.deadline, waiting.month, waiting.due_on)):
        if count:
            past = _day(due_on) < today
            found[deadline].add(month, count, late=count if past else 0, overdue=count if past else 0)
    return found


def _places(session, audience: str, year: int, total: int) -> dict:
    """Facilities and countries, suppressed together: a country's count minus its shown facilities
    must not tell a small count either."""
    by_facility = {key or None: count for key, count in _sums(
        session, StatisticsPlace, (StatisticsPlace.facility_id,), audience, StatisticsPlace.year == year).items()}
    known = {row.id: row for row in session.execute(
        select(Facility.id, Facility.name, Facility.country).where(Facility.id.in_(
            [key for key in by_facility if key is not None])))} if by_facility else {}
    country_of = {key: (known[key].country if key in known else None) for key in by_facility}
    cells = {TOTAL: total}
    members: dict = {}
    for key, count in by_facility.items():
        cells[("facility", key)] = count
        country = ("country", country_of[key])
        cells[country] = cells.get(country, 0) + count
        members.setdefault(country, []).append(("facility", key))
    groups = [(TOTAL, list(members)), (TOTAL, [("facility", key) for key in by_facility]), *members.items()]
    hidden = suppression.partition(cells, groups)
    if total < suppression.SUPPRESS_BELOW:
        hidden |= set(cells)
    countries = sorted((Place(key[1], count) for key, count in cells.items()
                        if key in members and key not in hidden), key=lambda p: (-p.count, p.key or ""))
    facilities = sorted((Place(key[1], count, known[key[1]].name if key[1] in known else "",
                               country_of[key[1]])
                         for key, count in cells.items()
                         if isinstance(key, tuple) and key[0] == "facility" and key not in hidden),
                        key=lambda p: (-p.count, p.name))

    def rest(shown_rows) -> int | None:
        left = total - sum(row.count for row in shown_rows)
        return left if total >= suppression.SUPPRESS_BELOW and left >= suppression.SUPPRESS_BELOW else None

    return dict(countries=countries, other_countries=rest(countries), facilities=facilities,
                other_facilities=rest(facilities))


def _timeliness(sums: dict, received: dict, histograms: dict) -> dict[int, Timeliness]:
    """One deadline, month by month: the share in time of the cases whose deadline has come
    (met, missed, or open past it), the median days it took, and how many are overdue today."""
    per_month = {}
    for number in range(1, 13):
        on_time, late, overdue = sums.get(number, (0, 0, 0))
        # Overdue is shown only if neither the rest of the month's cases, nor the late ones
        # answered since, would be a count from 1 to 4.
        safe = (overdue >= suppression.SUPPRESS_BELOW and received.get(number) is not None
                and not suppression.small(received[number] - overdue) and not suppression.small(late - overdue))
        per_month[number] = Timeliness(share_in_time=suppression.share(on_time, on_time + late),
                                       median_days=suppression.median(histograms.get(number, {})),
                                       overdue=overdue if safe else None)
    return per_month


def _forwards(session, audience: str, year: int, result: Figures) -> None:
    """Forwards made this year of the audience's cases, by delivery state and by the monitor's status."""
    states: dict[str, int] = {}
    statuses: dict[str | None, int] = {}
    for (state, status), count in _sums(session, StatisticsForward, (StatisticsForward.state,
                                        StatisticsForward.remote_status), audience,
                                        StatisticsForward.year == year).items():
        states[state] = states.get(state, 0) + count
        statuses[status or None] = statuses.get(status or None, 0) + count
    total = sum(states.values())
    state_cells = {TOTAL: total, **{state: states.get(state, 0) for state in FORWARD_STATES}}
    status_cells = {TOTAL: total, **{status: statuses.get(status, 0) for status in (None, *REMOTE_STATUSES)}}
    hidden_states = suppression.partition(state_cells, [(TOTAL, FORWARD_STATES)])
    hidden_statuses = suppression.partition(status_cells, [(TOTAL, (None, *REMOTE_STATUSES))])
    result.forwards_total = suppression.shown(total)
    result.forwards_by_state = {state: None if state in hidden_states else state_cells[state]
                                for state in FORWARD_STATES}
    result.forwards_by_status = {status: None if status in hidden_statuses else status_cells[status]
                                 for status in (None, *REMOTE_STATUSES)}


@dataclass
class Year:
    """One year of the public transparency page."""

    year: int
    total: int | None
    by_category: dict[str, int | None]
    acknowledged_in_time: float | None


def public_years(session, today: date) -> list[Year]:
    """Yearly figures only, suppressed, of every case anyone at the contractor may know of, for the
    years that are over: anyone may read the page every day, and a count of the year under way
    that moves from one day to the next tells on which day a report came in, and about what."""
    this_year = today.year * 100 + 1
    acknowledgement = _deadlines(session, "public", StatisticsAnswered.month < this_year,
                                 StatisticsWaiting.month < this_year, today)["a"]
    totals: dict[int, list[int]] = {}
    for month, count in acknowledgement.received.items():
        year = totals.setdefault(month // 100, [0, 0, 0])
        met, missed, _overdue = acknowledgement.sums[month]
        year[0], year[1], year[2] = year[0] + count, year[1] + met, year[2] + missed
    categories: dict[int, dict[str, int]] = {}
    for (number, code), count in _sums(
            session, StatisticsCategory, (StatisticsCategory.year, StatisticsCategory.code), "public",
            StatisticsCategory.year < today.year).items():
        categories.setdefault(number, {})[code] = count
    return [Year(number, suppression.shown(total),
                 suppression.table(total, {code: categories.get(number, {}).get(code, 0) for code in CATEGORIES}),
                 suppression.share(met, met + missed))
            for number, (total, met, missed) in sorted(totals.items(), reverse=True)]


def corrective_actions(session, audience: str, today: date) -> dict:
    """Corrective actions of every year by state, and those overdue today (past their due date, not
    done or verified), suppressed. An action counts once when any case its finding is linked to is
    one the audience's figures count (a facility's finding may be linked to several).

    The states partition the total (``suppression.table``); the overdue count is shown only when
    neither it, nor the unfinished actions that are not overdue, nor the others, is from 1 to 4."""
    # From the actions (few), each looking up its finding's cases: not from every case counted.
    counted = select(FindingCase.finding_id).join(Case, Case.id == FindingCase.case_id).where(
        FindingCase.finding_id == CorrectiveAction.finding_id, counted_by(Case.audiences, audience)).exists()
    by_state = dict(session.execute(select(CorrectiveAction.state, func.count()).where(counted)
                                    .group_by(CorrectiveAction.state)).all())
    overdue = session.scalar(select(func.count()).select_from(CorrectiveAction).where(
        counted, CorrectiveAction.due_on < today, CorrectiveAction.state.not_in(("done", "verified")))) or 0
    total = sum(by_state.values())
    unfinished = total - by_state.get("done", 0) - by_state.get("verified", 0)
    overdue_safe = not any(suppression.small(value) for value in (overdue, unfinished - overdue, total - overdue))
    return {
        "total": suppression.shown(total),
        "by_state": suppression.table(total, {state: by_state.get(state, 0) for state in ACTION_STATES}),
        "overdue": suppression.shown(overdue) if overdue_safe else None,
    }
