"""Oversight: the escalation procedure of section 4 of the contract, and the
statistics (``statistics``).

The escalation record of a case is kept by the contractor's administrators and
read by the contracting authority; both see the case's reference, facility and
dates, never the reporter's identity or what the reporter wrote. Statistics
are for the authority and the monitor, with small counts suppressed.
"""

from flask import abort, g, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

import crypto

from ...models import Facility
from ...services import attachments, authority_notices, cases, oversight, retaliation
from ..common.access import roles_only
from ..common.audit_trail import audit_page
from ..common.database import db
from ..common.staff import send_download, staff_blueprint
from ..common.uploads import uploaded_files
from . import statistics
from .forms import ESCALATION_LABELS, CorrectionForm, DueForm, EscalationForm, ReferenceForm

ESCALATION_ROLES = ("administrator", "authority")
ESCALATION_ERRORS = {
    "order": lambda: _("The escalation procedure goes step by step: choose the next step."),
    "step": lambda: _("Choose a step from the list."),
    "date": lambda: _("A date cannot be in the future."),
    "date_order": lambda: _("Dates move forward: a step cannot come before the step it follows, nor be due before "
                            "it happened."),
    "withdraw_latest": lambda: _("Only the latest step can be marked as not having happened."),
    "correction": lambda: _("Choose a step of this record."),
    "due": lambda: _("A due date belongs to the latest step of a record that is not resolved."),
}


def make_blueprint(config):
    bp = staff_blueprint("oversight", url_prefix="/oversight")
    bp.context_processor(lambda: {"escalation_labels": ESCALATION_LABELS})

    @bp.route("/", methods=["GET", "POST"])
    @roles_only(*ESCALATION_ROLES)
    def index():
        form = ReferenceForm()
        error, status = None, 200
        if g.user.role == "administrator" and form.is_submitted():
            case = cases.by_reference(db(), form.reference.data) if form.validate_on_submit() else None
            if case is not None and oversight.visible_case(db(), g.user, case.id) is not None:
                return redirect(url_for("oversight.escalation", case_id=case.id), 303)
            error, status = _("No case has this reference."), 400
        return render_template("oversight/index.html", form=form, error=error,
                               escalated=[row for row in retaliation.escalated_cases(db())
                                          if oversight.visible_case(db(), g.user, row[0].id) is not None],
                               notified=authority_notices.notifications_for(db(), g.user)), status

    @bp.get("/audit")
    @roles_only("authority")
    def audit_trail():
        return audit_page("oversight/audit.html", "oversight.audit_trail", oversight.authority_case_ids(db()))

    @bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
    @roles_only(*ESCALATION_ROLES)
    def escalation(case_id):
        case = oversight.visible_case(db(), g.user, case_id)
        if case is None:
            abort(404)
        form = EscalationForm()
        error, status = None, 200
        if g.user.role == "administrator" and form.is_submitted():
            form.step.choices = list(retaliation.next_escalation_steps(db(), case.id))
            error, status = _record_step(case, form)
            if error is None:
                return redirect(url_for("oversight.escalation", case_id=case.id) + "#timeline", 303)
        return _record_page(case, form, error, status)

    def _record_page(case, form=None, error=None, status=200):
        form = form or EscalationForm()
        form.step.choices = [SelectChoice(s, ESCALATION_LABELS[s])
                             for s in retaliation.next_escalation_steps(db(), case.id)]
        facility = db().get(Facility, case.facility_id) if case.facility_id else None
        record = retaliation.timeline(db(), case.id)
        return render_template("oversight/escalation.html", case=case, facility=facility, form=form,
                               error=error, timeline=retaliation.read_timeline(db(), case.id, g.identity),
                               overdue=retaliation.escalation_overdue(record), correction_form=CorrectionForm(),
                               due_form=DueForm()), status

    def _visible_or_404(case_id):
        case = oversight.visible_case(db(), g.user, case_id)
        if case is None:
            abort(404)
        return case

    @bp.post("/cases/<int:case_id>/steps/<int:entry_id>/correct")
    @roles_only("administrator")
    def correct(case_id, entry_id):
        case = _visible_or_404(case_id)
        form = CorrectionForm()
        if not form.validate_on_submit():
            return _record_page(case, error=_("Give the corrected date, or say that the step did not happen."),
                                status=400)
        try:
            retaliation.correct_escalation(db(), g.user, case, entry_id, form.happened_on.data,
                                           form.note.data or "", form.withdrawn.data)
        except retaliation.RetaliationError as failure:
            return _record_page(case, error=ESCALATION_ERRORS.get(failure.reason, ESCALATION_ERRORS["step"])(),
                                status=400)
        return redirect(url_for("oversight.escalation", case_id=case.id) + "#timeline", 303)

    @bp.post("/cases/<int:case_id>/due")
    @roles_only(*ESCALATION_ROLES)
    def due(case_id):
        case = _visible_or_404(case_id)
        form = DueForm()
        if not form.validate_on_submit():
            return _record_page(case, error=_("Give the date by which the next step is due."), status=400)
        try:
            retaliation.set_escalation_due(db(), g.user, case, form.due_on.data)
        except retaliation.RetaliationError as failure:
            return _record_page(case, error=ESCALATION_ERRORS.get(failure.reason, ESCALATION_ERRORS["step"])(),
                                status=400)
        return redirect(url_for("oversight.escalation", case_id=case.id) + "#timeline", 303)

    def _record_step(case, form):
        if not form.validate_on_submit():
            return _("Choose the next step, and a date that is not in the future."), 400
        files, problem = uploaded_files(("documents",), config)
        if problem:
            return problem
        try:
            retaliation.record_escalation(db(), g.user, case, form.step.data, form.note.data or "",
                                          form.happened_on.data, files, form.due_on.data)
        except attachments.AttachmentError:
            return _("Documents must be PDF files or photos."), 400
        except retaliation.RetaliationError as failure:
            return ESCALATION_ERRORS.get(failure.reason, ESCALATION_ERRORS["step"])(), 400
        return None, 200

    @bp.get("/cases/<int:case_id>/documents/<int:item_id>")
    @roles_only(*ESCALATION_ROLES)
    def document(case_id, item_id):
        if oversight.visible_case(db(), g.user, case_id) is None:
            abort(404)
        try:
            found = retaliation.escalation_document(db(), case_id, item_id, g.identity)
        except crypto.NoIdentityError:
            found = None
        if found is None:
            abort(404)
        item, data = found
        return send_download(data, item.content_type, f"escalation-{case_id}-{item.id}")

    statistics.add_routes(bp)
    return bp
