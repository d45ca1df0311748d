"""Administrators: the facility registry and the contractor's disclosure files."""

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from ...models import DisclosureImport, User
from ...services import clock, disclosure_files, registry_export
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
    "unmapped": lambda: _("Choose what each column of the file holds first."),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    if code == "duplicate_derived":
        return _("Line %(line)s: this facility (the same supplier, name and address) is on an earlier line "
                 "already.", line=line)
    if code == "duplicate_facility":
        return _("Line %(line)s: the facility_id %(value)s is on an earlier line already.", line=line, value=value)
    if code == "unknown_country":
        return _("Line %(line)s: %(value)s is not a country the portal knows. Write its ISO 3166-1 code (such "
                 "as MY or VN) or its name in English, French or Dutch.", line=line, value=value)
    if code == "bad_encoding" and value == "UTF-16":
        return _("The file is saved as UTF-16. Save it as \"CSV UTF-8\" and upload it again.")
    if code == "bad_encoding":
        return _("Line %(line)s: this line is not UTF-8 text (byte %(value)s). Save the file as \"CSV UTF-8\".",
                 line=line, value=value)
    if code == "bad_csv":
        return _("Line %(line)s: a quotation mark is not closed, or text follows a closing quotation mark. "
                 "The rest of the file could not be read.", line=line)
    if code == "not_text":
        return _("This file is neither a CSV text file nor an Excel workbook (XLSX). Save the disclosure as "
                 "\"CSV UTF-8\" or as XLSX and upload it again.")
    if code == "bad_workbook":
        return _("This file cannot be read as an Excel workbook (XLSX). Save it again as XLSX, or as "
                 "\"CSV UTF-8\", and upload it again.")
    if code == "old_workbook":
        return _("This workbook is in the old Excel format (XLS). Save it as XLSX, or as \"CSV UTF-8\", and "
                 "upload it again.")
    if code == "workbook_too_big":
        return _("This workbook unpacks to more than %(size)s MB, more than a disclosure needs. Nothing was "
                 "read from it.", size=disclosure_files.MAX_UNPACKED // (1024 * 1024))
    if code == "too_many_rows":
        return _("Row %(line)s: the file has more than %(limit)s rows. Nothing was imported.", line=line,
                 limit=disclosure_files.MAX_ROWS)
    if code == "too_many_columns":
        return _("Row %(line)s: the file has more than %(limit)s columns. Nothing was imported.", line=line,
                 limit=disclosure_files.MAX_COLUMNS)
    if code == "formula":
        return _("Row %(line)s: a cell holds a formula (%(value)s). The portal does not compute formulas: "
                 "copy the cells and paste their values only, then upload the file again.",
                 line=line, value=value)
    if code == "no_rows":
        return _("The file lists no facilities.")
    if code == "too_long" and line is None:
        return _("The file is larger than %(size)s MB.", size=registry_service.MAX_BYTES // (1024 * 1024))
    if code == "too_long":
        return _("Line %(line)s: the column %(column)s is longer than %(limit)s characters.", line=line,
                 column=column, limit=registry_service.MAX_LENGTHS.get(column, 0))
    return _("Line %(line)s: this line cannot be read.", line=line)


class DisclosureForm(PortalForm):
    file = FileField(_l("Disclosure file (CSV or XLSX)"), validators=[FileRequired(_l("Choose a CSV or XLSX file."))])


READ_AS = {
    "utf-8": lambda: _("Read as UTF-8."),
    "utf-8-sig": lambda: _("Read as UTF-8 (with a byte order mark)."),
    "utf-16": lambda: _("Read as UTF-16 (Excel's \"Unicode text\")."),
    "windows-1252": lambda: _("Read as Windows-1252 (Latin-1): the file is not UTF-8. Check that accented "
                              "letters below are right."),
}


def describe_reading(read_as: str) -> str:
    """How the file was read, said on its preview."""
    if read_as.startswith("xlsx:"):
        return _("Read as an Excel workbook (XLSX), sheet \"%(sheet)s\".", sheet=read_as[5:])
    return READ_AS.get(read_as, READ_AS["utf-8"])()


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
                     else _("Choose a CSV or XLSX file."))
            return list_page(form, error=error, status=400)
        data = form.file.data.read(registry_service.MAX_BYTES + 1)
        try:
            record = registry_service.preview(db(), g.user, data, form.file.data.filename or "")
        except registry_service.DisclosureError as failure:
            problems = [(p, describe_problem(p)) for p in failure.problems]
            return list_page(form, problems=problems, status=400)
        return redirect(url_for("registry.show", import_id=record.id), 303)

    def preview_page(record, error=None, status=200, problems=None, chosen=None):
        if record.awaiting_columns or chosen is not None:
            return columns_page(record, error, status, problems, chosen)
        layout = registry_service.layout_of(record)
        columns = registry_service.columns_of(record) or layout.placed
        return render_template("admin/disclosure.html", record=record, changes=registry_service.changes_of(record),
                               confirm_form=ConfirmForm(), error=error, reading=describe_reading(record.read_as),
                               header=list(zip(layout.header, columns, strict=False)),
                               header_line=layout.header_line), status

    def columns_page(record, error, status, problems, chosen):
        layout = registry_service.layout_of(record)
        placed = chosen if chosen is not None else registry_service.columns_of(record) or layout.placed
        samples = [[cells[index] if index < len(cells) else "" for _line, cells in layout.body[:3]]
                   for index in range(len(layout.header))]
        return render_template("admin/disclosure_columns.html", record=record, confirm_form=ConfirmForm(),
                               error=error, problems=problems, reading=describe_reading(record.read_as),
                               columns=list(zip(layout.header, placed, samples, strict=False)),
                               header_line=layout.header_line), status

    @bp.get("/imports/<int:import_id>")
    @administrator_only
    def show(import_id):
        return preview_page(record_or_404(import_id))

    # One rule for both methods: a number too large for the database is then a 404 for either.
    @bp.route("/imports/<int:import_id>/columns", methods=["GET", "POST"])
    @administrator_only
    def columns(import_id):
        """The columns of a preview, to place again one the importer placed by its name (GET), or
        the administrator's choice of what each holds (POST)."""
        record = record_or_404(import_id)
        if request.method == "GET":
            if record.applied_at is not None:
                return redirect(url_for("registry.show", import_id=import_id), 303)
            return columns_page(record, None, 200, None, None)
        if record.applied_at is not None:
            return preview_page(record, APPLY_ERRORS["applied"](), 409)
        count = len(registry_service.layout_of(record).header)
        chosen = [request.form.get(f"column-{index}", "") for index in range(count)]
        if not ConfirmForm().validate_on_submit():
            return preview_page(record, _("This form expired. Please try again."), 400, chosen=chosen)
        if any(choice not in registry_service.COLUMNS and choice != "ignore" for choice in chosen):
            return preview_page(record, _("Choose what each column of the file holds, or \"ignore\"."), 400,
                                chosen=[c if c in registry_service.COLUMNS or c == "ignore" else None
                                        for c in chosen])
        columns = ["" if choice == "ignore" else choice for choice in chosen]
        try:
            registry_service.choose_columns(db(), record.id, columns)
        except registry_service.DisclosureError as failure:
            db().rollback()
            problems = [(p, describe_problem(p)) for p in failure.problems]
            return preview_page(record_or_404(import_id), None if problems else _("This file cannot be imported."),
                                400, problems=problems, chosen=chosen)
        return redirect(url_for("registry.show", import_id=import_id), 303)

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

    @bp.get("/imports/<int:import_id>.csv", endpoint="download")
    @bp.get("/imports/<int:import_id>.xlsx", endpoint="download_workbook")
    @administrator_only
    def download(import_id):
        record = record_or_404(import_id)
        workbook = registry_service.is_workbook(record)
        if workbook != request.path.endswith(".xlsx"):
            abort(404)
        return send_download(registry_service.original_file(record), XLSX if workbook else "text/csv",
                             f"facility-disclosure-{record.id}", extension="xlsx" if workbook else None)

    @bp.get("/registry.<any(csv, xlsx):kind>", endpoint="export")
    @administrator_only
    def export(kind):
        """The registry and its change log: the completed document of the disclosure."""
        data = registry_export.export(db(), g.user, kind)
        return send_download(data, XLSX if kind == "xlsx" else "text/csv",
                             f"facility-registry-{clock.today().isoformat()}", extension=kind)

    return bp
