"""A case's findings and corrective actions: keyholders write them, move actions along and add
evidence; a monitor who holds the case gives Electronics Watch's verdict. A facility's finding,
shared by several cases, has a page of its own reachable from each of them."""

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...services import attachments, findings
from ..common.access import login_required
from ..common.database import db
from ..common.evidence import refusal_message
from ..common.fields import ConfirmForm
from ..common.staff import send_download
from ..common.uploads import uploaded_files
from .case_page import case_page, finding_context, keyholder_case
from .finding_forms import ActionForm, ActionStateForm, FindingForm, VerdictForm

ERRORS = {
    "empty": lambda: _("Write the text before saving."),
    "too_long": lambda: _("This text is too long."),
    "cases": lambda: _("Link only reports of this case's facility that you hold."),
    "consent": lambda: _("A finding of several reports is shown to their workers only when every one of them "
                         "agreed to share their report. Leave “Show these two texts to the worker” unticked."),
    "not_all_held": lambda: _("Only someone who holds every linked case can show this finding to the workers."),
    "state": lambda: _("This action cannot move to this state."),
    "verdict": lambda: _("Electronics Watch can verify only an action that is done, and not give the same "
                         "verdict twice."),
}


def form_errors(form) -> str:
    """Every error of the form, each after its field's label."""
    return " ".join(f"{form[name].label.text}: {message}" for name, messages in form.errors.items()
                    if name != "csrf_token" for message in messages) or _("This form expired. Please try again.")


def add_routes(bp, config):
    def back(case, anchor="#findings"):
        return redirect(url_for("inbox.case", case_id=case.id) + anchor, 303)

    def refused(case, message):
        return case_page(case, message, 400)

    def held_finding(case, finding_id):
        finding = findings.of_case(db(), case, finding_id)
        if finding is None:
            abort(404)
        return finding

    def held_action(case, action_id):
        action = findings.action_of_case(db(), case, action_id)
        if action is None:
            abort(404)
        return action

    @bp.post("/cases/<int:case_id>/findings")
    @login_required
    def write_finding(case_id):
        case = keyholder_case(case_id)
        form = FindingForm()
        form.cases.choices = [(str(c.id), c.reference) for c in findings.same_facility_cases(db(), g.user, case)]
        if not form.validate_on_submit():
            return refused(case, form_errors(form))
        try:
            finding = findings.write_finding(db(), g.user, g.identity, case, form.text.data, form.found.data or "",
                                             form.will_change.data or "", form.shared.data,
                                             [int(value) for value in form.cases.data or []])
        except findings.FindingError as error:
            return refused(case, ERRORS.get(error.reason, ERRORS["cases"])())
        return back(case, f"#finding-{finding.id}")

    @bp.get("/cases/<int:case_id>/findings/<int:finding_id>")
    @login_required
    def finding(case_id, finding_id):
        """A finding on a page of its own: a facility's, with every case it is linked to."""
        case = keyholder_case(case_id)
        held_finding(case, finding_id)
        context = finding_context(case)
        view = next(v for v in context["findings"] if v.finding.id == finding_id)
        held = {case.id} | {other.id for other in context["same_facility"]}
        return render_template("inbox/finding.html", case=case, view=view, held=held, **context)

    @bp.post("/cases/<int:case_id>/findings/<int:finding_id>/edit")
    @login_required
    def edit_finding(case_id, finding_id):
        case = keyholder_case(case_id)
        finding = held_finding(case, finding_id)
        form = FindingForm()
        form.cases.choices = []
        if not form.validate_on_submit():
            return refused(case, form_errors(form))
        try:
            findings.edit_finding(db(), g.user, g.identity, finding, form.text.data, form.found.data or "",
                                  form.will_change.data or "", form.shared.data)
        except findings.FindingError as error:
            return refused(case, ERRORS.get(error.reason, ERRORS["cases"])())
        return back(case, f"#finding-{finding.id}")

    @bp.post("/cases/<int:case_id>/findings/<int:finding_id>/actions")
    @login_required
    def add_action(case_id, finding_id):
        case = keyholder_case(case_id)
        finding = held_finding(case, finding_id)
        form = ActionForm()
        if not form.validate_on_submit():
            return refused(case, form_errors(form))
        try:
            action = findings.add_action(db(), g.user, finding, form.description.data, form.owner.data or "",
                                         form.due_on.data)
        except findings.FindingError as error:
            return refused(case, ERRORS.get(error.reason, ERRORS["empty"])())
        return back(case, f"#action-{action.id}")

    @bp.post("/cases/<int:case_id>/actions/<int:action_id>/edit")
    @login_required
    def edit_action(case_id, action_id):
        case = keyholder_case(case_id)
        action = held_action(case, action_id)
        form = ActionForm()
        if not form.validate_on_submit():
            return refused(case, form_errors(form))
        try:
            findings.edit_action(db(), g.user, action, form.description.data, form.owner.data or "",
                                 form.due_on.data)
        except findings.FindingError as error:
            return refused(case, ERRORS.get(error.reason, ERRORS["empty"])())
        return back(case, f"#action-{action.id}")

    @bp.post("/cases/<int:case_id>/actions/<int:action_id>/state")
    @login_required
    def action_state(case_id, action_id):
        case = keyholder_case(case_id)
        action = held_action(case, action_id)
        form = ActionStateForm()
        if not form.validate_on_submit():
            return refused(case, ERRORS["state"]() if not form.csrf_token.errors else form_errors(form))
        try:
            findings.move_action(db(), g.user, action, form.state.data)
        except findings.FindingError as error:
            return refused(case, ERRORS.get(error.reason, ERRORS["state"])())
        return back(case, f"#action-{action.id}")

    @bp.post("/cases/<int:case_id>/actions/<int:action_id>/evidence")
    @login_required
    def action_evidence(case_id, action_id):
        case = keyholder_case(case_id)
        action = held_action(case, action_id)
        if not ConfirmForm().validate_on_submit():
            return refused(case, _("This form expired. Please try again."))
        names = [storage.filename or "" for storage in request.files.getlist("files")]
        files, problem = uploaded_files(["files"], current_app.config)
        if problem is not None:
            message, status = problem
            return case_page(case, message, status)
        if not files:
            return refused(case, _("Choose a file to add."))
        try:
            findings.attach_evidence(db(), g.user, action, files)
        except attachments.AttachmentError as error:
            return refused(case, refusal_message(error.reason, names[0] if names else "", current_app.config))
        return back(case, f"#action-{action.id}")

    @bp.get("/cases/<int:case_id>/actions/<int:action_id>/files/<int:item_id>")
    @login_required
    def action_file(case_id, action_id, item_id):
        case = keyholder_case(case_id)
        held_action(case, action_id)
        found = findings.evidence_file(db(), g.user, g.identity, case, action_id, item_id)
        if found is None:
            abort(404)
        item, data = found
        return send_download(data, item.content_type, f"case-{case.reference}-action-{action_id}-file-{item.id}")

    @bp.post("/cases/<int:case_id>/actions/<int:action_id>/verdict")
    @login_required
    def action_verdict(case_id, action_id):
        """Electronics Watch's verdict, given by a monitor who holds the case on this instance."""
        case = keyholder_case(case_id)
        action = held_action(case, action_id)
        if g.user.role != findings.MONITOR_ROLE:
            abort(403)
        form = VerdictForm()
        if not form.validate_on_submit():
            return refused(case, form_errors(form))
        try:
            findings.record_monitor_verdict(db(), action.reference, form.verdict.data, form.comment.data or "",
                                            monitor=g.user)
        except findings.FindingError as error:
            return refused(case, ERRORS.get(error.reason, ERRORS["verdict"])())
        return back(case, f"#action-{action.id}")
