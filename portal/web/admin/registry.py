"""Administrators: the facility registry and the contractor's disclosure files."""

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from ...models import DisclosureImport, User
from ...services import clock
from ...services import registry as registry_service
from ..common.access import administrator_only
from ..common.database import db
from ..common.fields import ConfirmForm, PortalForm
from ..common.staff import send_download, staff_blueprint

FIELD_LABELS = {
    "facility_id": _l("Facility ID"),
    "supplier": _l("Supplier"),
    "supplier_registered_office": _l("Registered office of the supplier"),
    "facility_name": _l("Company name"),
    "facility_local_name": _l("Name in the local script"),
    "address": _l("Business address"),
    "country": _l("Country"),
    "products": _l("Products or components"),
}
APPLY_ERRORS = {
    "applied": lambda: _("This disclosure was imported already."),
    "stale": lambda: _("The registry changed since this preview was made. Nothing was imported: upload the file "
                       "again to see its changes against the registry as it is now."),
}


def describe_problem(problem: registry_service.Problem) -> str:
    """A problem of a disclosure file, for the person who has to correct the file."""
    line, column, value = problem.line, problem.column, problem.value
    code = problem.code
    if code == "missing_column":
        return _("Line %(line)s: the column %(column)s is missing.", line=line, column=column)
    if code == "unknown_column" and column is None and line != 1:
        return _("Line %(line)s: this line has more values than there are columns: %(value)s.",
                 line=line, value=value)
    if code == "unknown_column":
        return _("Line %(line)s: the column \"%(column)s\" is not a column of the disclosure file.",
                 line=line, column=value or "")
    if code == "duplicate_column":
        return _("Line %(line)s: the column %(column)s is there twice.", line=line, column=column)
    if code == "empty_value":
        return _("Line %(line)s: the column %(column)s is empty.", line=line, column=column)
    if code == "duplicate_facility":
        return _("Line %(line)s: the facility_id %(value)s is on an earlier line already.", line=line, value=value)
    if code == "unknown_country":
        return _("Line %(line)s: %(value)s is not a two-letter country code (ISO 3166-1, such as MY or VN).",
                 line=line, value=value)
    if code == "bad_encoding" and value == "UTF-16":
        return _("The file is saved as UTF-16. Save it as \"CSV UTF-8\" and upload it again.")
    if code == "bad_encoding":
        return _("Line %(line)s: this line is not UTF-8 text (byte %(value)s). Save the file as \"CSV UTF-8\".",
                 line=line, value=value)
    if code == "bad_csv":
        return _("Line %(line)s: a quotation mark is not closed, or text follows a closing quotation mark. "
                 "The rest of the file could not be read.", line=line)
    if code == "no_rows":
        return _("The file lists no facilities.")
    if code == "too_long" and line is None:
        return _("The file is larger than %(size)s MB.", size=registry_service.MAX_BYTES // (1024 * 1024))
    if code == "too_long":
        return _("Line %(line)s: the column %(column)s is longer than %(limit)s characters.", line=line,
                 column=column, limit=registry_service.MAX_LENGTHS.get(column, 0))
    return _("Line %(line)s: this line cannot be read.", line=line)


class DisclosureForm(PortalForm):
    file = FileField(_l("Disclosure file (CSV, UTF-8)"), validators=[FileRequired(_l("Choose a CSV file."))])


def _format_moment(moment):
    return format_datetime(clock.as_utc(moment), "medium") + " UTC" if moment else ""


def make_blueprint(config):
    bp = staff_blueprint("registry", url_prefix="/admin/facilities")

    @bp.context_processor
    def registry_context():
        return {"field_labels": FIELD_LABELS, "format_moment": _format_moment}

    def record_or_404(import_id) -> DisclosureImport:
        record = db().get(DisclosureImport, import_id)
        if record is None:
            abort(404)
        return record

    def list_page(form=None, problems=None, error=None, status=200, imported=None):
        imports = registry_service.history(db())
        names = dict(db().execute(select(User.id, User.display_name)
                                  .where(User.id.in_({i.uploaded_by for i in imports if i.uploaded_by}))).all())
        history = [(record, registry_service.changes_of(record), names.get(record.uploaded_by, ""))
                   for record in imports]
        return render_template("admin/facilities.html", facilities=registry_service.registry(db()),
                               history=history, form=form or DisclosureForm(), problems=problems, error=error,
                               imported=imported), status

    @bp.get("", endpoint="index")
    @administrator_only
    def index():
        imported = None
        if request.args.get("imported", "").isdigit():
            record = db().get(DisclosureImport, int(request.args["imported"]))
            if record is not None and record.applied_at is not None:
                imported = registry_service.changes_of(record)
        return list_page(imported=imported)

    @bp.post("/imports")
    @administrator_only
    def upload():
        form = DisclosureForm()
        if not form.validate_on_submit():
            error = (_("This form expired. Please try again.") if form.csrf_token.errors
                     else _("Choose a CSV file."))
            return list_page(form, error=error, status=400)
        data = form.file.data.read(registry_service.MAX_BYTES + 1)
        try:
            record = registry_service.preview(db(), g.user, data)
        except registry_service.DisclosureError as failure:
            problems = [(p, describe_problem(p)) for p in failure.problems]
            return list_page(form, problems=problems, status=400)
        return redirect(url_for("registry.show", import_id=record.id), 303)

    def preview_page(record, error=None, status=200):
        return render_template("admin/disclosure.html", record=record, changes=registry_service.changes_of(record),
                               confirm_form=ConfirmForm(), error=error), status

    @bp.get("/imports/<int:import_id>")
    @administrator_only
    def show(import_id):
        return preview_page(record_or_404(import_id))

    @bp.post("/imports/<int:import_id>/apply")
    @administrator_only
    def apply(import_id):
        record = record_or_404(import_id)
        if not ConfirmForm().validate_on_submit():
            return preview_page(record, _("This form expired. Please try again."), 400)
        try:
            registry_service.apply(db(), g.user, record.id)
        except registry_service.DisclosureError as failure:
            status = 409 if failure.reason in APPLY_ERRORS else 400
            message = APPLY_ERRORS[failure.reason]() if failure.reason in APPLY_ERRORS else _(
                "This file cannot be imported.")
            return preview_page(record_or_404(import_id), message, status)
        return redirect(url_for("registry.index", imported=import_id), 303)

    @bp.get("/imports/<int:import_id>.csv")
    @administrator_only
    def download(import_id):
        record = record_or_404(import_id)
        return send_download(registry_service.original_file(record), "text/csv",
                             f"facility-disclosure-{record.id}")

    return bp
