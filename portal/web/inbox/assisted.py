"""A report entered by a staff member or a monitoring partner for a worker they met, and the
receipt slip the worker takes away.

The form is the worker's own (``common.report_form``) plus the channel and the worker's
language; the case is made by the one intake service and routed as any report. The slip is
the POST's answer, rendered once from the intake result in the worker's language: the
receipt is derived from a token made for this request and dropped with it, so nothing the
staff member's session, the database or a resent form holds can show it again.
"""

import re
import secrets

from flask import current_app, g, render_template, request, url_for
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from ... import i18n
from ...services import clock, deadlines, intake, receipts, routing, work_slots
from ..common import evidence
from ..common.access import roles_only
from ..common.database import db
from ..common.labels import CHANNEL_LABELS
from ..common.report_form import ReportForm, form_choices, report_of

DRAFT_BYTES = 24
DRAFT_ID = re.compile(r"[A-Za-z0-9_-]{32}")


class EnteredReportForm(ReportForm):
    """The worker's questions, and how the staff member met the worker and in which language."""

    channel = RadioField(_l("How did you meet the worker?"),
                         choices=[SelectChoice(code, label) for code, label in CHANNEL_LABELS.items()],
                         validators=[InputRequired(_l("Choose one answer."))])
    worker_language = SelectField(_l("The worker's language (replies and the receipt slip are in it)"),
                                  validators=[InputRequired(_l("Choose one answer."))])


def add_routes(bp, config):
    @bp.route("/report-for-a-worker", methods=["GET", "POST"])
    @roles_only(*intake.ENTERING_ROLES)
    def enter_report():
        form = _form()
        if request.method == "GET":
            form.submission.data = secrets.token_urlsafe(DRAFT_BYTES)
            return _form_page(form)
        draft = request.form.get("submission", "")
        if not DRAFT_ID.fullmatch(draft):
            form.submission.data = secrets.token_urlsafe(DRAFT_BYTES)
            return _form_page(form, _("This form was open too long. Please send it again."), 400)
        form_id = f"{request.endpoint}:{draft}"
        # A fresh secret of this request only: with the form's draft id it derives the receipt, and
        # it is dropped with the response. The draft id alone finds a form sent again.
        token = f"{secrets.token_urlsafe(32)}:{draft}"
        if intake.find_submission(db(), current_app.config, token) is not None:
            # Reload or Back after the slip: the report is stored once and its slip is not shown again.
            evidence.sent(form_id)
            return render_template("inbox/message.html", message=_(
                "This report was already stored. Its receipt slip was shown once and cannot be shown again.")), 409
        chosen = evidence.gather(config, form_id, form.disguise_voice.data)
        if not form.validate_on_submit():
            message = (_("This form was open too long. Please send it again.") if form.csrf_token.errors
                       else _("Please check the fields marked below."))
            return _form_page(form, chosen.message(message), 400, chosen)
        if chosen.refused:
            return _form_page(form, chosen.message(), chosen.status, chosen)
        report = report_of(form, form.worker_language.data)
        entered = intake.EnteredBy(g.user, form.channel.data)
        try:
            submitted = intake.submit(db(), current_app.config, report, chosen.files, token, entered_by=entered)
        except (intake.IntakeError, routing.RoutingError) as error:
            db().rollback()
            return _form_page(form, *_refused(getattr(error, "reason", "")), chosen)
        except work_slots.Busy:
            return _form_page(form, _("We are busy. Please send the form again in a minute: everything is kept."),
                              503, chosen)
        evidence.sent(form_id)
        if submitted.receipt is None:
            return render_template("inbox/message.html", message=_(
                "This report was already stored. Its receipt slip was shown once and cannot be shown again.")), 409
        return _slip(submitted.receipt, report.language)

    def _refused(reason):
        """The message and status for a report the intake service refused."""
        if reason == "no_recipient":
            return _("Nobody can receive this report as chosen now. Please choose who should receive it "
                     "again, or leave out fewer people."), 409
        if reason == "monitor_without_consent":
            return _("You chose to send your report to Electronics Watch, but also not to share it with "
                     "Electronics Watch. Please change one of these answers."), 400
        return _("Please check the fields marked below."), 400

    def _form():
        form = EnteredReportForm(max_text_chars=config["MAX_TEXT_CHARS"])
        facilities, recipients, handlers = form_choices(config)
        form.facility.choices = facilities
        form.recipient_choice.choices = recipients
        form.excluded_handlers.choices = handlers
        form.worker_language.choices = [SelectChoice("", _("Choose the worker's language"))] + [
            SelectChoice(code, i18n.NATIVE_NAMES.get(code, code)) for code in config["LANGUAGES"]]
        offered = [c.value for c in recipients]
        if request.method == "GET" and form.recipient_choice.data not in offered:
            form.recipient_choice.data = offered[0] if len(offered) == 1 else None
        return form

    def _form_page(form, error=None, status=200, chosen=None):
        return render_template("inbox/enter_report.html", form=form, error=error,
                               evidence=chosen or evidence.shown(f"{request.endpoint}:{form.submission.data}")), status

    def _slip(receipt, language):
        """The worker's receipt slip, in the worker's language; the note to the staff member in theirs."""
        staff_note = _("Print this page with your browser's Print command and give the paper to the worker. "
                       "Do not copy, photograph or keep the receipt: it is the worker's alone. "
                       "Reloading or going back will not show it again.")
        today = clock.today()
        code = i18n.url_code(language)
        staff_language, g.language = g.language, language
        with force_locale(language):
            html = render_template(
                "inbox/slip.html", receipt=receipts.group(receipt), staff_note=staff_note,
                staff_lang=i18n.url_code(staff_language),
                html_lang=code, direction=i18n.direction(language),
                web_address=config["BASE_URL"].rstrip("/") + url_for("reporter.follow_up", lang=code),
                onion_address=_onion(code), sms_number=current_app.config.get("SMS_NUMBER") or "",
                ack_days=config["ACK_DAYS"], feedback_months=config["FEEDBACK_MONTHS"],
                ack_by=format_date(deadlines.acknowledge_due(today, config["ACK_DAYS"]), "long"),
                feedback_by=format_date(deadlines.feedback_due(today, config["FEEDBACK_MONTHS"]), "long"),
            )
        g.language = staff_language
        return html

    def _onion(code):
        # PORTAL_ONION_ADDRESS is kept as the bare name (portal/config.py), as the posters print it.
        onion = config.get("ONION_ADDRESS") or ""
        return f"http://{onion}" + url_for("reporter.follow_up", lang=code) if onion else ""
