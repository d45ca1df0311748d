"""Statistics of cases people can read: how many came in, about what, from where, when; how
fast they were acknowledged and answered; what was forwarded to Electronics Watch.

Everything is counted by the database (GROUP BY over plaintext columns: days, codes, states),
never by opening a case. Every count passes ``suppression``: a count under five, or one that
subtraction would give, is not shown. Who sees which cases' figures follows the oversight pages:

- administrators: every case anyone at the contractor may know of (not a worker's report to
  Electronics Watch alone: counting it would let an administrator compare with the inbox);
- the contracting authority: the cases notified or escalated to it (``oversight``);
- Electronics Watch's monitors: the cases forwarded to it, or received from another instance;
- the public transparency page: what administrators see, by year only.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Integer, and_, case, cast, func, or_, select
from sqlalchemy.orm import aliased

from ..models import (
    ACTION_STATES,
    CATEGORIES,
    FORWARD_STATES,
    REMOTE_STATUSES,
    Case,
    CaseCategory,
    CorrectiveAction,
    Facility,
    FindingCase,
    Forward,
)
from . import oversight, suppression

AUDIENCES = ("administrator", "authority", "monitor", "public")
TOTAL = "total"


def _conditions(audience: str) -> tuple:
    """Which cases an audience's figures count; retaliation claims have figures of their own."""
    # Kinds by equality, not "all but claims": ix_cases_statistics then reads a range of its rows.
    if audience in ("administrator", "public"):
        return (Case.kind == "report", *oversight.contractor_may_see())
    if audience == "authority":
        return (Case.kind == "report", *oversight.authority_may_see())
    if audience == "monitor":
        # The forwarded cases' ids as one list, not a look-up for every case a query passes.
        return (Case.kind.in_(("report", "forwarded")),
                or_(Case.kind == "forwarded", Case.id.in_(select(aliased(Forward).case_id))))
    raise ValueError(audience)


def _day(value) -> date:
    """A day as the database hands it back (SQLite: text in raw SQL results)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _month_and_days(session, done) -> tuple:
    """The month a case was received and the days from then to ``done``, computed by the database:
    a year's cases would otherwise come back as tens of thousands of (day, day) pairs."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("month", Case.received_on), Integer), done - Case.received_on
    # SQLite keeps a date as its ISO text: the month is characters 6-7.
    return (cast(func.substr(Case.received_on, 6, 2), Integer),
            cast(func.julianday(done) - func.julianday(Case.received_on), Integer))


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
    where = (*_conditions(audience), Case.received_on >= date(year, 1, 1), Case.received_on <= date(year, 12, 31))
    deadlines = [(Case.acknowledged_on, Case.acknowledge_due), (Case.feedback_given_on, Case.feedback_due)]
    sums = [expression for done, due in deadlines for expression in _deadline_sums(done, due, today)]
    # Grouped by day and day acknowledged, in ix_cases_statistics' order (no sort): a year has at
    # most 366 days, each with the few days its cases were acknowledged on. The same pass gives
    # the months' counts, both deadlines' sums and the acknowledgement histograms.
    # The month and the days taken are worked out once a group, as numbers: no day to parse here.
    month, days = _month_and_days(session, Case.acknowledged_on)
    rows: dict[int, list[int]] = {}
    acknowledged: dict[int, dict[int, int]] = {}
    for number, span, *values in session.execute(
            select(month, days, func.count(), *sums).where(*where).group_by(Case.received_on, Case.acknowledged_on)):
        totals = rows.get(number)
        if totals is None:
            rows[number] = [int(value or 0) for value in values]
        else:
            rows[number] = [total + int(value or 0) for total, value in zip(totals, values)]
        if span is not None:
            histogram = acknowledged.setdefault(number, {})
            histogram[span] = histogram.get(span, 0) + values[0]
    months = {number: row[0] for number, row in rows.items()}
    total = sum(months.values())
    cells = {TOTAL: total, **{number: months.get(number, 0) for number in range(1, 13)}}
    hidden = suppression.partition(cells, [(TOTAL, range(1, 13))])
    # The cases' ids from ix_cases_statistics, their categories from (code, case_id): neither
    # query reads a (wide) case row.
    by_category = dict(session.execute(
        select(CaseCategory.code, func.count()).where(CaseCategory.case_id.in_(select(Case.id).where(*where)))
        .group_by(CaseCategory.code)).all())
    shown_months = {number: None if number in hidden else cells[number] for number in range(1, 13)}
    result = Figures(year=year, total=suppression.shown(total), by_month=shown_months,
                     by_category=suppression.table(total, {code: by_category.get(code, 0) for code in CATEGORIES}),
                     **_places(session, where, total))
    result.acknowledgement, result.feedback = (
        _timeliness({number: row[1 + 3 * n: 4 + 3 * n] for number, row in rows.items()}, shown_months, histograms)
        for n, histograms in enumerate((acknowledged, _histograms(session, where, Case.feedback_given_on))))
    _forwards(session, audience, year, result)
    return result


def _deadline_sums(done, due, today: date) -> tuple:
    """Of a deadline: the cases that met it, those that missed it (late or still open), those still open."""
    in_time = func.sum(case((and_(done.is_not(None), done <= due), 1), else_=0))
    late = func.sum(case((or_(done > due, and_(done.is_(None), due < today)), 1), else_=0))
    overdue = func.sum(case((and_(done.is_(None), due < today), 1), else_=0))
    return in_time, late, overdue


def _places(session, where, total: int) -> dict:
    """Facilities and countries, suppressed together: a country's count minus its shown facilities
    must not tell a small count either."""
    by_facility = dict(session.execute(select(Case.facility_id, func.count()).where(*where)
                                       .group_by(Case.facility_id)).all())
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


def _histograms(session, where, done) -> dict[int, dict[int, int]]:
    """Month received -> {days from receipt to ``done``: cases}."""
    histograms: dict[int, dict[int, int]] = {}
    month, days = _month_and_days(session, done)
    for number, span, count in session.execute(
            select(month, days, func.count()).where(*where, done.is_not(None)).group_by(month, days)):
        histograms.setdefault(number, {})[span] = count
    return histograms


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
    # The year's forwards from ix_forwards_statistics, each case looked up by its id: a few
    # thousand look-ups. As EXISTS, not a join, which SQLite would start from the audience's cases
    # of every year. (Not a scalar subquery: PostgreSQL estimates one per forward so high that it
    # compiles the query, which takes longer than running it.)
    counted = select(Case.id).where(Case.id == Forward.case_id, *_conditions(audience)).exists()
    where = (Forward.created_on >= date(year, 1, 1), Forward.created_on <= date(year, 12, 31), counted)
    states: dict[str, int] = {}
    statuses: dict[str | None, int] = {}
    for state, status, count in session.execute(select(Forward.state, Forward.remote_status, func.count())
                                                .where(*where).group_by(Forward.state, Forward.remote_status)):
        states[state] = states.get(state, 0) + count
        statuses[status] = statuses.get(status, 0) + count
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
    conditions = (*_conditions("public"), Case.received_on < date(today.year, 1, 1))
    in_time, late, _overdue = _deadline_sums(Case.acknowledged_on, Case.acknowledge_due, today)
    totals: dict[int, list[int]] = {}
    for day, count, met, missed in session.execute(
            select(Case.received_on, func.count(), in_time, late).where(*conditions).group_by(Case.received_on)):
        year = totals.setdefault(_day(day).year, [0, 0, 0])
        year[0], year[1], year[2] = year[0] + count, year[1] + int(met or 0), year[2] + int(missed or 0)
    categories: dict[int, dict[str, int]] = {}
    for number in totals:
        within = (*conditions, Case.received_on >= date(number, 1, 1), Case.received_on <= date(number, 12, 31))
        categories[number] = dict(session.execute(
            select(CaseCategory.code, func.count()).where(CaseCategory.case_id.in_(select(Case.id).where(*within)))
            .group_by(CaseCategory.code)).all())
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
    counted = CorrectiveAction.finding_id.in_(
        select(FindingCase.finding_id).join(Case, Case.id == FindingCase.case_id).where(*_conditions(audience)))
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
