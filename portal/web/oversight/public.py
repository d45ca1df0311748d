"""The public transparency page: yearly figures anyone may read, without logging in.

Off unless ``PORTAL_PUBLIC_STATISTICS`` is true (then a 404, as for a page that does not exist).
It reads no session and sets no cookie, runs no script and loads nothing from another host;
its language is the browser's. Only years, never months: the fewer cuts, the fewer subtractions.
"""

from flask import Blueprint, abort, current_app, render_template
from flask_babel import gettext as _

from ...models import CATEGORIES
from ...services import clock, statistics, suppression
from ..common import layout
from ..common.database import db
from ..common.labels import CATEGORY_LABELS
from .statistics import Table, count, share


def year_table(year: statistics.Year) -> Table:
    table = Table(f"year-{year.year}", _("Cases by category, %(year)s", year=year.year),
                  [_("Category"), _("Cases")],
                  footer=[_("All cases (a case may have several categories)"), count(year.total)])
    for code in CATEGORIES:
        table.rows.append([str(CATEGORY_LABELS[code]), count(year.by_category[code])])
        table.charted.append(year.by_category[code])
    return table


def make_blueprint(config):
    bp = Blueprint("transparency", __name__)

    @bp.get("/transparency")
    def page():
        if not current_app.config["PUBLIC_STATISTICS"]:
            abort(404)
        years = statistics.public_years(db(), clock.today())
        return render_template("oversight/public.html", years=[
            (year, year_table(year), share(year.acknowledged_in_time)) for year in years],
            minimum=suppression.SUPPRESS_BELOW, **layout.context(config))

    return bp
