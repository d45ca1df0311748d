"""The keyholder's cases: the list, a case, its messages, notes, status,
keyholders and files."""

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ... import i18n
from ...models import CATEGORIES, Facility, User
from ...services import cases, findings, handover, inbox, lead, messaging, previews, retaliation
from ..common.access import login_required
from ..common.database import db
from ..common.fields import ConfirmForm
from ..common.labels import REMEDY_LABELS, STATUS_LABELS
from ..common.staff import send_download, send_preview
from .case_page import case_page, colleague_choices, keyholder_case, lead_choices
from .forms import ConflictedKeyForm, KeyholderForm, LeadForm, MessageForm, NoteForm, StatusForm


def _text_not_sent() -> str:
    return _("The message is saved, but the text message to the worker could not be sent. "
             "The worker can read it with their receipt on the follow-up page.")


def add_routes(bp, config):
    @bp.get("/")
    @login_required
    def index():
        args = request.args
        try:
            page = int(args.get("page", "1"))
            facility_id = int(args["facility"]) if args.get("facility") else None
        except ValueError:
            abort(400)
        filters = inbox.Filters(
            status=args.get("status", "") if args.get("status", "") in STATUS_LABELS else "",
            overdue=args.get("overdue") == "1",
            facility_id=facility_id,
            category=args.get("category", "") if args.get("category", "") in CATEGORIES else "",
            language=args.get("language", "") if args.get("language", "") in config["LANGUAGES"] else "",
            sort=args.get("sort") if args.get("sort") in inbox.SORTS else inbox.DEFAULT_SORT,
            page=page,
        )
        if g.user.role == "authority":
            # The contracting authority holds no case: its pages are the oversight ones.
            return redirect(url_for("oversight.index"), 303)
        result = inbox.list_cases(db(), g.user.id, filters)
        facilities = db().scalars(select(Facility).order_by(Facility.name)).all()
        return render_template("inbox/list.html", result=result, filters=filters, facilities=facilities,
                               statuses=list(STATUS_LABELS), categories=CATEGORIES, languages=config["LANGUAGES"],
                               native_names=i18n.NATIVE_NAMES, sorts=list(inbox.SORTS),
                               overdue_remedies=retaliation.overdue_remedies(db(), g.user.id),
                               overdue_actions=findings.overdue_for(db(), g.user.id),
                               remedy_labels=REMEDY_LABELS)

    @bp.get("/cases/<int:case_id>")
    @login_required
    def case(case_id):
        return case_page(keyholder_case(case_id))

    @bp.post("/cases/<int:case_id>/messages")
    @login_required
    def message(case_id):
        case = keyholder_case(case_id)
        form = MessageForm()
        if not form.validate_on_submit():
            return case_page(case, _("Write a message before sending."), 400)
        if messaging.send_to_reporter(db(), current_app.config, case, g.user, g.identity, form.text.data) is False:
            return case_page(case, _text_not_sent(), 502)
        return redirect(url_for("inbox.case", case_id=case.id) + "#thread", 303)

    @bp.post("/cases/<int:case_id>/notes")
    @login_required
    def note(case_id):
        case = keyholder_case(case_id)
        form = NoteForm()
        if not form.validate_on_submit():
            return case_page(case, _("Write a note before saving."), 400)
        messaging.add_note(db(), case, g.user, form.text.data)
        return redirect(url_for("inbox.case", case_id=case.id) + "#notes", 303)

    @bp.post("/cases/<int:case_id>/status")
    @login_required
    def status(case_id):
        case = keyholder_case(case_id)
        form = StatusForm()
        form.status.choices = [SelectChoice(s, s) for s in cases.TRANSITIONS[case.status]]
        if not form.validate_on_submit():
            return case_page(case, _("Choose a status this case can move to."), 400)
        try:
            texted = cases.change_status(
                db(), g.user, case, form.status.data, form.outcome.data or None,
                form.message.data if form.status.data in ("acknowledged", "closed") else None,
                config=current_app.config, identity=g.identity)
        except cases.CaseError as error:
            message = (_("Choose the outcome before closing the case.") if error.reason == "outcome"
                       else _("Choose a status this case can move to."))
            return case_page(case, message, 400)
        if texted is False:
            return case_page(case, _text_not_sent(), 502)
        return redirect(url_for("inbox.case", case_id=case.id), 303)

    @bp.post("/cases/<int:case_id>/reopen")
    @login_required
    def reopen(case_id):
        case = keyholder_case(case_id)
        if not ConfirmForm().validate_on_submit():
            return case_page(case, _("This form expired. Please try again."), 400)
        try:
            cases.reopen(db(), g.user, case)
        except cases.CaseError:
            return case_page(case, _("Only a closed case can be opened again."), 400)
        db().commit()
        return redirect(url_for("inbox.case", case_id=case.id), 303)

    @bp.post("/cases/<int:case_id>/keyholders")
    @login_required
    def add_keyholder(case_id):
        case = keyholder_case(case_id)
        form = KeyholderForm()
        form.user.choices = colleague_choices(case)
        if not form.validate_on_submit():
            return case_page(case, _("Choose a colleague."), 400)
        colleague = db().get(User, int(form.user.data))
        try:
            handover.add_keyholder(db(), g.user, g.identity, case, colleague, current_app.config["BASE_URL"])
        except handover.HandoverError:
            return case_page(case, _("This colleague cannot receive the case."), 400)
        return redirect(url_for("inbox.case", case_id=case.id) + "#keyholders", 303)

    @bp.post("/cases/<int:case_id>/lead")
    @login_required
    def change_lead(case_id):
        case = keyholder_case(case_id)
        form = LeadForm()
        form.user.choices = lead_choices(case)
        if not form.validate_on_submit():
            return case_page(case, _("Choose a colleague who holds this case."), 400)
        colleague = db().get(User, int(form.user.data))
        note = (form.note.data or "").strip()
        try:
            if note:
                lead.hand_over(db(), g.user, case, colleague, note, current_app.config["BASE_URL"])
            else:
                lead.make_lead(db(), g.user, case, colleague)
        except lead.LeadError:
            return case_page(case, _("Only a colleague who holds this case can lead it."), 400)
        return redirect(url_for("inbox.case", case_id=case.id) + "#keyholders", 303)

    @bp.post("/cases/<int:case_id>/keyholders/<int:user_id>/remove")
    @login_required
    def remove_keyholder(case_id, user_id):
        case = keyholder_case(case_id)
        colleague = db().get(User, user_id)
        if not ConfirmForm().validate_on_submit() or colleague is None:
            return case_page(case, _("This form expired. Please try again."), 400)
        try:
            handover.remove_keyholder(db(), g.user, g.identity, case, colleague)
        except handover.HandoverError as error:
            message = (_("A case needs at least one keyholder.") if error.reason == "last_holder"
                       else _("This colleague does not hold this case."))
            return case_page(case, message, 400)
        if colleague.id == g.user.id:
            return redirect(url_for("inbox.index"), 303)
        return redirect(url_for("inbox.case", case_id=case.id) + "#keyholders", 303)

    @bp.post("/cases/<int:case_id>/keyholders/<int:user_id>/remove-conflicted")
    @login_required
    def remove_conflicted_keyholder(case_id, user_id):
        case = keyholder_case(case_id)
        colleague = db().get(User, user_id)
        if colleague is None:
            abort(404)
        if not ConflictedKeyForm().validate_on_submit():
            return case_page(case, _("Tick the box to confirm that the key is removed from every item."), 400)
        try:
            handover.remove_conflicted(db(), g.user, g.identity, case, colleague)
        except handover.HandoverError:
            return case_page(case, _("This colleague has no conflict of interest with this case."), 400)
        return redirect(url_for("inbox.case", case_id=case.id) + "#keyholders", 303)

    @bp.get("/cases/<int:case_id>/files/<int:item_id>")
    @login_required
    def download(case_id, item_id):
        case = keyholder_case(case_id)
        found = cases.attachment(db(), g.user, g.identity, case, item_id)
        if found is None:
            abort(404)
        item, data = found
        return send_download(data, item.content_type, f"case-{case.reference}-file-{item.id}")

    @bp.get("/cases/<int:case_id>/files/<int:item_id>/preview")
    @login_required
    def preview(case_id, item_id):
        case = keyholder_case(case_id)
        found = previews.image(db(), g.user, g.identity, case, item_id)
        if found is None:
            abort(404)
        return send_preview(found.data, found.content_type, f"case-{case.reference}-file-{item_id}")

    @bp.get("/cases/<int:case_id>/files/<int:item_id>/pages/<int:page>")
    @login_required
    def preview_page(case_id, item_id, page):
        case = keyholder_case(case_id)
        found = previews.pdf_page(db(), g.user, g.identity, case, item_id, page)
        if found is None:
            abort(404)
        return send_preview(found.data, found.content_type, f"case-{case.reference}-file-{item_id}-page-{page}")
