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

from sqlalchemy import Integer, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased

from ..models import CATEGORIES, FORWARD_STATES, REMOTE_STATUSES, Case, CaseCategory, Facility, Forward
from . import oversight, suppression

AUDIENCES = ("administrator", "authority", "monitor", "public")
TOTAL = "total"


def _conditions(audience: str) -> tuple:
    """Which cases an audience's figures count; retaliation claims have figures of their own."""
    cases = Case.kind != "retaliation"
    if audience in ("administrator", "public"):
        return (cases, *oversight.contractor_may_see())
    if audience == "authority":
        return (cases, *oversight.authority_may_see())
    if audience == "monitor":
        forward = aliased(Forward)
        return (cases, or_(Case.kind == "forwarded", exists().where(forward.case_id == Case.id).correlate(Case)))
    raise ValueError(audience)


def _year_expression(session, column):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("year", column), Integer)
    return cast(func.strftime("%Y", column), Integer)


def _month_expression(session, column):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("month", column), Integer)
    return cast(func.strftime("%m", column), Integer)


def _days_between(session, earlier, later):
    if session.get_bind().dialect.name == "postgresql":
        return later - earlier  # date - date is a whole number of days
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def years(session, audience: str) -> list[int]:
    """The years in which the audience's cases were received, newest first."""
    year = _year_expression(session, Case.received_on)
    return list(session.scalars(select(year).where(*_conditions(audience)).distinct().order_by(year.desc())))


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
    month = _month_expression(session, Case.received_on)
    months = dict(session.execute(select(month, func.count()).where(*where).group_by(month)).all())
    total = sum(months.values())
    cells = {TOTAL: total, **{number: months.get(number, 0) for number in range(1, 13)}}
    hidden = suppression.partition(cells, [(TOTAL, range(1, 13))])
    by_category = dict(session.execute(
        select(CaseCategory.code, func.count())
        .join(Case, Case.id == CaseCategory.case_id).where(*where).group_by(CaseCategory.code)).all())
    shown_months = {number: None if number in hidden else cells[number] for number in range(1, 13)}
    result = Figures(year=year, total=suppression.shown(total), by_month=shown_months,
                     by_category=suppression.table(total, {code: by_category.get(code, 0) for code in CATEGORIES}),
                     **_places(session, where, total))
    result.acknowledgement, result.feedback = _timeliness(session, where, month, shown_months, today)
    _forwards(session, audience, year, result)
    return result


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


def _timeliness(session, where, month, received: dict, today: date):
    """Acknowledgement and feedback, month by month: the share in time of the cases whose deadline
    has come (acknowledged, answered, or overdue), the median days it took, and how many are overdue."""
    sums = []
    for done, due in ((Case.acknowledged_on, Case.acknowledge_due), (Case.feedback_given_on, Case.feedback_due)):
        in_time = func.sum(case((and_(done.is_not(None), done <= due), 1), else_=0))
        late = func.sum(case((or_(done > due, and_(done.is_(None), due < today)), 1), else_=0))
        overdue = func.sum(case((and_(done.is_(None), due < today), 1), else_=0))
        rows = {row[0]: row[1:] for row in session.execute(
            select(month, in_time, late, overdue).where(*where).group_by(month))}
        days = _days_between(session, Case.received_on, done)
        histograms: dict[int, dict[int, int]] = {}
        for number, span, count in session.execute(
                select(month, days, func.count()).where(*where, done.is_not(None)).group_by(month, days)):
            histograms.setdefault(number, {})[span] = count
        per_month = {}
        for number in range(1, 13):
            on_time, late_count, overdue_count = (int(value or 0) for value in rows.get(number, (0, 0, 0)))
            all_cases = received.get(number) or 0
            # Overdue is shown only if neither the rest of the month's cases, nor the late ones
            # answered since, would be a count from 1 to 4.
            overdue_safe = (overdue_count >= suppression.SUPPRESS_BELOW and received.get(number) is not None
                            and not suppression.small(all_cases - overdue_count)
                            and not suppression.small(late_count - overdue_count))
            per_month[number] = Timeliness(
                share_in_time=suppression.share(on_time, on_time + late_count),
                median_days=suppression.median(histograms.get(number, {})),
                overdue=overdue_count if overdue_safe else None)
        sums.append(per_month)
    return sums[0], sums[1]


def _forwards(session, audience: str, year: int, result: Figures) -> None:
    """Forwards made this year of the audience's cases, by delivery state and by the monitor's status."""
    where = (Forward.case_id == Case.id, *_conditions(audience),
             Forward.created_on >= date(year, 1, 1), Forward.created_on <= date(year, 12, 31))
    states = dict(session.execute(select(Forward.state, func.count()).where(*where).group_by(Forward.state)).all())
    statuses = dict(session.execute(select(Forward.remote_status, func.count()).where(*where)
                                    .group_by(Forward.remote_status)).all())
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
    """Yearly figures only, suppressed, of every case anyone at the contractor may know of."""
    conditions = _conditions("public")
    year = _year_expression(session, Case.received_on)
    totals = dict(session.execute(select(year, func.count()).where(*conditions).group_by(year)).all())
    categories: dict[int, dict[str, int]] = {}
    for number, code, count in session.execute(
            select(year, CaseCategory.code, func.count())
            .join(Case, Case.id == CaseCategory.case_id).where(*conditions).group_by(year, CaseCategory.code)):
        categories.setdefault(number, {})[code] = count
    done, due = Case.acknowledged_on, Case.acknowledge_due
    in_time = func.sum(case((and_(done.is_not(None), done <= due), 1), else_=0))
    late = func.sum(case((or_(done > due, and_(done.is_(None), due < today)), 1), else_=0))
    timely = {row[0]: (int(row[1] or 0), int(row[2] or 0))
              for row in session.execute(select(year, in_time, late).where(*conditions).group_by(year))}
    return [Year(number, suppression.shown(total),
                 suppression.table(total, {code: categories.get(number, {}).get(code, 0) for code in CATEGORIES}),
                 suppression.share(timely[number][0], sum(timely[number])))
            for number, total in sorted(totals.items(), reverse=True)]
