"""Statistics pages: each table drawn as an SVG bar chart made here (no script), the same
numbers in an accessible table beside it, and each table as a CSV file.

Every number is already suppressed by ``services.statistics``; this module only words them in
the reader's language. A withheld count reads the same whether it is small or hides another
one: telling the two apart would give bounds to subtract with.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from flask import abort, g, render_template, request
from flask_babel import format_date, format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...models import ACTION_STATES, CATEGORIES, FORWARD_STATES, REMOTE_STATUSES, RETALIATION_TYPES
from ...services import clock, retaliation, statistics, suppression
from ..common.access import roles_only
from ..common.bidi import EMBEDDINGS, ISOLATES, PDF, PDI
from ..common.database import db
from ..common.labels import ACTION_STATE_LABELS, CATEGORY_LABELS, RETALIATION_LABELS
from ..common.staff import send_download

STATISTICS_ROLES = ("administrator", "authority", "monitor")
# A cell that starts with one of these is a formula to a spreadsheet: it gets a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DIRECTION_CONTROLS = frozenset(EMBEDDINGS | ISOLATES | {PDF, PDI, "\u200e", "\u200f", "\u061c"})
FORWARD_STATE_LABELS = {
    "pending": _l("Waiting to be delivered"),
    "delivered": _l("Delivered"),
    "acknowledged": _l("Acknowledged by Electronics Watch"),
}
REMOTE_STATUS_LABELS = {
    None: _l("No status from Electronics Watch yet"),
    "acknowledged": _l("Acknowledged"),
    "under_review": _l("Under review"),
    "findings_shared": _l("Findings shared"),
    "closed": _l("Closed"),
}
CHART_WIDTH, LABEL_WIDTH, BAR_WIDTH, ROW_HEIGHT = 640, 230, 260, 26


@dataclass
class Bar:
    label: str
    width: int
    text: str
    withheld: bool


@dataclass
class Table:
    """One table of the page, its chart and its CSV: the same words and numbers in all three."""

    name: str
    caption: str
    headings: list[str]
    rows: list[list[str]] = field(default_factory=list)
    # The column the chart draws, and the rows' values in it (None: withheld).
    charted: list[float | None] = field(default_factory=list)
    scale: str = "count"  # "count" or "share"
    footer: list[str] | None = None
    column: int = 0

    @property
    def bars(self) -> list[Bar]:
        largest = 1.0 if self.scale == "share" else max([v for v in self.charted if v is not None] or [1])
        return [Bar(label=_svg_text(row[0]), withheld=value is None, text=_svg_text(row[1 + self.column]),
                    width=0 if value is None else max(1, round(BAR_WIDTH * value / largest)))
                for row, value in zip(self.rows, self.charted, strict=True)]

    @property
    def chart_height(self) -> int:
        return ROW_HEIGHT * len(self.rows) + 8


def _svg_text(text: str, limit: int = 34) -> str:
    """A label as SVG text: without direction controls (SVG has no <bdi>), cut to fit."""
    text = "".join(char for char in text if char not in DIRECTION_CONTROLS)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def withheld() -> str:
    return _("fewer than %(number)s or withheld", number=suppression.SUPPRESS_BELOW)


def count(value: int | None) -> str:
    return withheld() if value is None else format_decimal(value)


def share(value: float | None) -> str:
    return _("not shown") if value is None else format_percent(value)


def days(value: int | None) -> str:
    return _("not shown") if value is None else format_decimal(value)


def month_name(year: int, month: int) -> str:
    """The month and year as the reader's language writes them (CLDR's yMMMM)."""
    skeletons = get_locale().datetime_skeletons
    pattern = skeletons.get("yMMMM") or skeletons.get("yMMM")
    return format_date(date(year, month, 1), pattern.pattern if pattern is not None else "MMMM y")


def country_name(code: str | None) -> str:
    if not code:
        return _("Not known")
    return get_locale().territories.get(code.upper(), code.upper())


def tables(figures: statistics.Figures, today: date) -> list[Table]:
    year = figures.year
    months = [number for number in range(1, 13) if date(year, number, 1) <= today]
    made = []
    by_month = Table("months", _("Cases received by month, %(year)s", year=year), [_("Month"), _("Cases")],
                     footer=[_("All months"), count(figures.total)])
    for number in months:
        by_month.rows.append([month_name(year, number), count(figures.by_month[number])])
        by_month.charted.append(figures.by_month[number])
    made.append(by_month)

    categories = Table("categories", _("Cases by category, %(year)s", year=year), [_("Category"), _("Cases")],
                       footer=[_("All cases (a case may have several categories)"), count(figures.total)])
    for code in CATEGORIES:
        categories.rows.append([str(CATEGORY_LABELS[code]), count(figures.by_category[code])])
        categories.charted.append(figures.by_category[code])
    made.append(categories)

    countries = Table("countries", _("Cases by country, %(year)s", year=year), [_("Country"), _("Cases")],
                      footer=[_("All countries"), count(figures.total)])
    for place in figures.countries:
        countries.rows.append([country_name(place.key), count(place.count)])
        countries.charted.append(place.count)
    countries.rows.append([_("Other countries"), count(figures.other_countries)])
    countries.charted.append(figures.other_countries)
    made.append(countries)

    facilities = Table("facilities", _("Cases by facility, %(year)s", year=year),
                       [_("Facility"), _("Cases"), _("Country")],
                       footer=[_("All facilities"), count(figures.total), ""])
    for place in figures.facilities:
        name = place.name if place.key is not None else _("Not in the registry")
        facilities.rows.append([name, count(place.count), country_name(place.country)])
        facilities.charted.append(place.count)
    facilities.rows.append([_("Other facilities"), count(figures.other_facilities), ""])
    facilities.charted.append(figures.other_facilities)
    made.append(facilities)

    for name, caption, timeliness in (
            ("acknowledgement", _("Acknowledgement within the deadline, by month received, %(year)s", year=year),
             figures.acknowledgement),
            ("feedback", _("Feedback within the deadline, by month received, %(year)s", year=year),
             figures.feedback)):
        table = Table(name, caption, [_("Month"), _("Share in time"), _("Median days"), _("Overdue today")],
                      scale="share")
        for number in months:
            row = timeliness[number]
            table.rows.append([month_name(year, number), share(row.share_in_time), days(row.median_days),
                               count(row.overdue)])
            table.charted.append(row.share_in_time)
        made.append(table)

    states = Table("forwards", _("Forwards to Electronics Watch by delivery state, %(year)s", year=year),
                   [_("State"), _("Forwards")], footer=[_("All forwards"), count(figures.forwards_total)])
    for state in FORWARD_STATES:
        states.rows.append([str(FORWARD_STATE_LABELS[state]), count(figures.forwards_by_state[state])])
        states.charted.append(figures.forwards_by_state[state])
    made.append(states)
    statuses = Table("forward-statuses", _("Forwards by Electronics Watch's status, %(year)s", year=year),
                     [_("Status"), _("Forwards")], footer=[_("All forwards"), count(figures.forwards_total)])
    for status in (None, *REMOTE_STATUSES):
        statuses.rows.append([str(REMOTE_STATUS_LABELS[status]), count(figures.forwards_by_status[status])])
        statuses.charted.append(figures.forwards_by_status[status])
    made.append(statuses)
    return made


def retaliation_table(figures: dict) -> Table:
    """The retaliation claims by form of retaliation (all years: there are few)."""
    table = Table("retaliation", _("Claims by form of retaliation, all years"),
                  [_("Form of retaliation"), _("Claims")],
                  footer=[_("Retaliation claims"), count(figures["claims"])])
    for code in RETALIATION_TYPES:
        table.rows.append([str(RETALIATION_LABELS[code]), count(figures["by_type"][code])])
        table.charted.append(figures["by_type"][code])
    return table


def corrective_table(figures: dict) -> Table:
    """Corrective actions by state, and those overdue today (all years, like retaliation)."""
    table = Table("corrective-actions", _("Corrective actions by state, all years"), [_("State"), _("Actions")],
                  footer=[_("All corrective actions"), count(figures["total"])])
    for state in ACTION_STATES:
        table.rows.append([str(ACTION_STATE_LABELS[state]), count(figures["by_state"][state])])
        table.charted.append(figures["by_state"][state])
    table.rows.append([_("Overdue today (past the due date, not done)"), count(figures["overdue"])])
    table.charted.append(figures["overdue"])
    return table


def csv_safe(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def as_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in [table.headings, *table.rows, *([table.footer] if table.footer else [])]:
        writer.writerow([csv_safe(cell) for cell in row])
    # A byte-order mark, so that spreadsheets open the file as UTF-8 in every language.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _year(audience: str) -> tuple[int, list[int]]:
    today = clock.today()
    years = sorted(set(statistics.years(db(), audience)) | {today.year}, reverse=True)
    asked = request.args.get("year", "")
    if not asked:
        return today.year, years
    if not asked.isdigit() or int(asked) not in years:
        abort(404)
    return int(asked), years


def add_routes(bp) -> None:
    @bp.get("/statistics", endpoint="statistics")
    @roles_only(*STATISTICS_ROLES)
    def statistics_page():
        audience = g.user.role
        year, years = _year(audience)
        today = clock.today()
        figures = statistics.figures(db(), audience, year, today)
        claims = retaliation.statistics(db(), contractor_only=g.user.role == "administrator")
        return render_template("oversight/statistics.html", year=year, years=years,
                               tables=tables(figures, today), retaliation=retaliation_table(claims),
                               corrective=corrective_table(statistics.corrective_actions(db(), audience, today)),
                               figures=claims, types=RETALIATION_TYPES, retaliation_labels=RETALIATION_LABELS,
                               minimum=suppression.SUPPRESS_BELOW, withheld=withheld())

    @bp.get("/statistics/<name>.csv")
    @roles_only(*STATISTICS_ROLES)
    def statistics_csv(name):
        year, _years = _year(g.user.role)
        today = clock.today()
        found = {table.name: table for table in tables(statistics.figures(db(), g.user.role, year, today), today)}
        found["retaliation"] = retaliation_table(retaliation.statistics(db(), contractor_only=g.user.role == "administrator"))
        found["corrective-actions"] = corrective_table(statistics.corrective_actions(db(), g.user.role, today))
        if name not in found:
            abort(404)
        every_year = name in ("retaliation", "corrective-actions")
        stem = f"statistics-{name}" if every_year else f"statistics-{name}-{year}"
        return send_download(as_csv(found[name]), "text/csv", stem)
