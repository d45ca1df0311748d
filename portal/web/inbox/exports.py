"""A keyholder exports a case for a lawyer or a court: an age-encrypted ZIP to a
recipient they name (services/case_exports.py)."""

from flask import Response, g, render_template, request
from flask_babel import gettext as _

import crypto

from ...services import case_exports
from ..common.access import login_required
from ..common.database import db
from .case_page import keyholder_case
from .export_forms import ExportForm

CHUNK = 64 * 1024


def add_routes(bp, config):
    @bp.route("/cases/<int:case_id>/export", methods=["GET", "POST"])
    @login_required
    def export(case_id):
        case = keyholder_case(case_id)
        form = ExportForm()
        if request.method == "GET":
            return _page(case, form)
        if not form.validate_on_submit():
            return _page(case, form, _("This form expired. Please try again."), 400)
        text = g.user.recipient if form.to.data == "own" else form.recipient.data
        try:
            sealed = case_exports.export(db(), g.user, g.identity, case, text)
        except case_exports.ExportError:
            return _page(case, form, _("This is not an age public key. Paste one line that starts with "
                                       "age1 (or age1pq1 for a post-quantum key), or choose your own key."), 400)
        except crypto.NoIdentityError:
            return render_template("inbox/message.html", message=_(
                "Your key cannot open this case yet. The holder of the recovery key must re-admit your "
                "new key first.")), 409
        return _download(sealed)


def _page(case, form, error=None, status=200):
    return render_template("inbox/export.html", case=case, form=form, error=error), status


def _download(sealed) -> Response:
    def chunks():
        try:
            while chunk := sealed.file.read(CHUNK):
                yield chunk
        finally:
            sealed.file.close()

    response = Response(chunks(), mimetype="application/octet-stream", direct_passthrough=True)
    response.headers["Content-Length"] = str(sealed.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{sealed.filename}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
