"""The reporter's pages: start, report, receipt, follow-up. No JavaScript anywhere."""

import re
import secrets
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from wtforms.fields.choices import SelectChoice

import crypto

from ... import i18n
from ...models import Case
from ...services import findings, followup, forwarding, intake, receipts, retaliation, routing, typed_text, work_slots
from ..common import evidence, layout
from ..common.database import db
from ..common.fields import ConfirmForm
from ..common.labels import (
    ACTION_STATE_WORDS_FOR_WORKERS,
    CATEGORY_LABELS,
    REMEDY_LABELS,
    RETALIATION_LABELS,
    month_and_year,
)
from ..common.report_form import facility_choices, form_choices, report_of
from .forms import (
    CLAIM_STATE_LABELS,
    REMEDY_STATE_LABELS,
    ClaimForm,
    DirectClaimForm,
    ReceiptForm,
    ReplyForm,
    ReportForm,
)

COMPOSING = "composing"
# Each form shown gets a draft id: with the session's token it makes the submission token.
DRAFT_BYTES = 24
DRAFT_ID = re.compile(r"[A-Za-z0-9_-]{32}")
DRAFT_SLOT, CSRF_SLOT = "draft-id-slot", "csrf-token-slot"
TYPED_SLOT, RECEIPT_SLOT = "typed-receipt-slot", "receipt-slot"
# When the server's Argon2id or cleaning slots stay taken: the worker's next try, in seconds.
BUSY_RETRY_SECONDS = 60
CHOICES_TTL_SECONDS = 5
REPORTER = "reporter"
NOBODY_MAY_READ = "nobody"

# The follow-up page's answer form has no draft id: its files are kept under its endpoint alone.
ANSWER_FORM = "reporter.case:"

# Refusals the worker answers by changing a choice; everything they wrote is kept.
INTAKE_MESSAGES = {
    "no_recipient": lambda: (_("Nobody can receive your report as you chose it now. Please choose who should "
                               "receive it again, or leave out fewer people."), 409),
    "monitor_without_consent": lambda: (_("You chose to send your report to Electronics Watch, but also not to "
                                          "share it with Electronics Watch. Please change one of these answers."),
                                        400),
}


def make_blueprint(config):
    bp = Blueprint("reporter", __name__)
    languages = config["LANGUAGES"]

    @bp.url_value_preprocessor
    def pick_language(_endpoint, values):
        if values and "lang" in values:
            language = i18n.from_url_code(values.pop("lang"), languages)
            if language is None:
                abort(404)
            g.language = language

    @bp.url_defaults
    def keep_language(endpoint, values):
        if "lang" not in values and getattr(g, "language", None):
            values["lang"] = i18n.url_code(g.language)

    @bp.context_processor
    def page_context():
        return layout.context(config)

    @bp.after_request
    def say_when_to_try_again(response):
        # Every "busy" answer (Argon2id or cleaning slots taken) tells the browser and any client when.
        if response.status_code == 503 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return response

    @bp.get("/")
    def choose_language():
        language = i18n.best_match(request.accept_languages, languages, config["DEFAULT_LANGUAGE"])
        response = redirect(url_for("reporter.start", lang=i18n.url_code(language)), 302)
        response.vary.add("Accept-Language")
        return response

    @bp.get("/<lang>/")
    def start():
        return render_template(
            "reporter/start.html",
            ack_days=config["ACK_DAYS"],
            feedback_months=config["FEEDBACK_MONTHS"],
            retention_days=config["RETENTION_DAYS"],
        )

    @bp.route("/<lang>/report", methods=["GET", "POST"])
    def report():
        try:
            token, earlier = _composing()
        except work_slots.Busy:
            # This form's report is stored; its receipt is shown when Send is pressed again.
            return _form_again(_report_form(), evidence.shown(_form_id()), _busy(), 503)
        if earlier is not None:
            evidence.sent(_form_id())
            return _receipt_page(earlier)
        if request.method == "GET":
            if not _fresh_enough_choices()[1]:
                return _nobody_can_receive_page()
            if not token:
                session.set_secret(session.new_secret(), COMPOSING)
            return _blank_form_page()
        # Checked first against the choices of the blank form (a few seconds old at most):
        # a report they refuse, or one intake refuses, is checked again against the database,
        # so the worker is told exactly as with choices read now; intake checks them fresh.
        form = _report_form(_fresh_enough_choices())
        if not token:
            # The session ended while the form was open: keep the text and the files, ask again.
            session.set_secret(session.new_secret(), COMPOSING)
            form = _report_form()
            chosen = evidence.gather(config, _form_id(), form.disguise_voice.data)
            return _form_again(form, chosen, _("This form was open too long. Please press Send again."))
        chosen = evidence.gather(config, _form_id(), form.disguise_voice.data)
        valid = form.validate_on_submit()
        if not valid:
            form = _report_form()
            valid = form.validate_on_submit()
        if not valid:
            if form.csrf_token.errors:
                return _form_again(form, chosen, _("This form was open too long. Please press Send again."))
            return _form_again(form, chosen, _("Please check the fields marked below."))
        if chosen.refused:
            return _form_again(form, chosen)
        report = report_of(form, g.language)
        try:
            submitted = intake.submit(db(), current_app.config, report, chosen.files, _submission_token(token))
        except (intake.IntakeError, routing.RoutingError) as error:
            form = _report_form()
            answered = isinstance(error, intake.IntakeError) and error.reason in INTAKE_MESSAGES
            if form.validate_on_submit() and answered:
                return _form_again(form, chosen, *INTAKE_MESSAGES[error.reason]())
            return _form_again(form, chosen, _("Please check the fields marked below."))
        except work_slots.Busy:
            # Nothing was stored and no receipt made: the same form, sent again, stores it once.
            return _form_again(form, chosen, _busy(), 503)
        # Committed: only now are the kept files let go and the receipt shown.
        evidence.sent(_form_id())
        return _receipt_page(submitted)

    @bp.post("/<lang>/report/new")
    def new_report():
        form = ConfirmForm()
        if not form.validate_on_submit():
            return _expired_page()
        session.end()
        return redirect(url_for("reporter.report"), 303)

    @bp.route("/<lang>/follow-up", methods=["GET", "POST"])
    def follow_up():
        form = ReceiptForm()
        if request.method == "GET":
            return render_template("reporter/follow_up.html", form=form)
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                return render_template("reporter/follow_up.html", form=form,
                                       error=_("This form was open too long. Please try again.")), 400
            return render_template("reporter/follow_up.html", form=form,
                                   error=_("Enter the 16 digits of your receipt.")), 400
        try:
            opened = followup.open_case(db(), current_app.config, form.receipt.data)
        except receipts.ReceiptFormatError:
            return render_template("reporter/follow_up.html", form=form,
                                   error=_("A receipt has 16 digits. Please check and try again.")), 400
        except work_slots.Busy:
            # The receipt is not written back into the page: the worker types it again.
            form.receipt.data = ""
            return render_template("reporter/follow_up.html", form=form,
                                   error=_("We are busy. Please try again in a minute.")), 503
        except followup.TooManyAttempts:
            response = current_app.make_response((render_template(
                "reporter/follow_up.html", form=form,
                error=_("Too many people are trying receipts right now. Please wait a minute and try again."),
            ), 429))
            response.headers["Retry-After"] = "60"
            return response
        if opened is None:
            return _wrong_receipt_page(form), 403
        case_id, identity = opened
        session.end()
        session["case"] = case_id
        session.set_secret(identity.encode("ascii"), REPORTER)
        return redirect(url_for("reporter.case"), 303)

    # The page for a wrong receipt is the same for everyone but the CSRF token and what was
    # typed: rendered once per language, a flood of wrong receipts costs little more than its sessions.
    wrong_receipt_pages = {}

    def _wrong_receipt_page(form):
        token = generate_csrf()
        typed = form.receipt.data
        key = (g.language, i18n.words_generation())
        page = wrong_receipt_pages.get(key)
        # The same words whether the check code failed or no case has the receipt: nothing more to learn.
        message = _("This receipt is not right. Please check each digit and try again.")
        if page is None:
            form.receipt.data = TYPED_SLOT
            html = render_template("reporter/follow_up.html", form=form, error=message)
            form.receipt.data = typed
            if html.count(token) != 1 or html.count(TYPED_SLOT) != 1 or CSRF_SLOT in html:
                return render_template("reporter/follow_up.html", form=form, error=message)
            page = html.replace(token, CSRF_SLOT)
            if len(wrong_receipt_pages) > 256:
                wrong_receipt_pages.clear()
            wrong_receipt_pages[key] = page
        # What was typed goes in last, escaped as the field would: it can fill no other slot.
        return page.replace(CSRF_SLOT, token, 1).replace(TYPED_SLOT, str(escape(typed)), 1)

    def _reporter_case_id():
        if session.kind != REPORTER or "case" not in session or session.secret is None:
            return None
        return session["case"]

    def _reporters_claim(claim_id):
        """The case the reporter opened with the receipt, and their claim ``claim_id`` (else 303 or 404)."""
        case_id = _reporter_case_id()
        if case_id is None:
            abort(redirect(url_for("reporter.follow_up"), 303))
        claim = retaliation.reporter_claim(db(), case_id, claim_id)
        if claim is None:
            abort(404)
        return case_id, claim

    @bp.route("/<lang>/case", methods=["GET", "POST"])
    def case():
        case_id = _reporter_case_id()
        if case_id is None:
            return redirect(url_for("reporter.follow_up"), 303)
        form = ReplyForm(max_text_chars=config["MAX_TEXT_CHARS"])
        error, status, chosen = None, 200, None
        if request.method == "POST":
            chosen = evidence.gather(config, ANSWER_FORM, form.disguise_voice.data)
            text = typed_text.reporter_text(form.message.data or "")
            if not form.validate_on_submit():
                error, status = chosen.message(_("Please check your answer and send it again.")), 400
            elif chosen.refused:
                error, status = chosen.message(), chosen.status
            elif not text.strip() and not chosen.files:
                error, status = _("Write an answer or add a file."), 400
            else:
                followup.reply(db(), current_app.config, case_id, text, chosen.files)
                evidence.sent(ANSWER_FORM)
                return redirect(url_for("reporter.case", sent=1) + "#thread", 303)
        return _case_page(case_id, form, error, status, chosen)

    def _case_page(case_id, form=None, error=None, status=200, chosen=None):
        identity = session.secret.decode("ascii")
        view = followup.view(db(), case_id, identity)
        claims = retaliation.for_reporter(db(), view.case, crypto.parse_identity(identity))
        # What was found and what will change: only the summaries shared with this worker.
        found = findings.for_worker(db(), view.case, crypto.parse_identity(identity)) if view.case.kind == "report" else []
        shared = forwarding.shared_with_monitor(db(), case_id)
        followup.mark_read(db(), case_id)
        return render_template(
            "reporter/case.html", view=view, claims=claims, shared=shared, findings=found,
            action_state_words=ACTION_STATE_WORDS_FOR_WORKERS, month_and_year=month_and_year,
            form=form or ReplyForm(max_text_chars=config["MAX_TEXT_CHARS"]), logout_form=ConfirmForm(),
            answer_form=ConfirmForm(), error=error, sent=request.args.get("sent") == "1",
            claim_sent=request.args.get("claim") == "1", category_labels=CATEGORY_LABELS,
            evidence=chosen or evidence.shown(ANSWER_FORM),
            retaliation_labels=RETALIATION_LABELS, remedy_labels=REMEDY_LABELS,
            remedy_state_labels=REMEDY_STATE_LABELS, claim_state_labels=CLAIM_STATE_LABELS,
            file_kind=evidence.file_kind, file_size=evidence.file_size,
        ), status

    @bp.route("/<lang>/case/claim", methods=["GET", "POST"])
    def claim():
        """"Something happened to me because I reported", from the follow-up page."""
        case_id = _reporter_case_id()
        if case_id is None:
            return redirect(url_for("reporter.follow_up"), 303)
        original = db().get(Case, case_id)
        if original.kind != "report":
            abort(404)
        form = _claim_form(ClaimForm, retaliation.about_choices(db(), original))
        if request.method == "GET":
            form.submission.data = secrets.token_urlsafe(DRAFT_BYTES)
            identity = crypto.parse_identity(session.secret.decode("ascii"))
            nobody = retaliation.nobody_may_read(db(), original, identity)
            return render_template("reporter/claim.html", form=form, error=_nobody_may_read() if nobody else None)
        chosen = evidence.gather(config, _form_id(), form.disguise_voice.data)
        if not form.validate_on_submit() or not DRAFT_ID.fullmatch(form.submission.data or ""):
            message = (_("This form was open too long. Please press Send again.") if form.csrf_token.errors
                       else _("Please check the fields marked below."))
            return _claim_again(form, chosen, message)
        if chosen.refused:
            return _claim_again(form, chosen)
        try:
            retaliation.file_from_follow_up(db(), current_app.config, case_id, _claim_of(form),
                                            f"claim:{case_id}:{form.submission.data}", chosen.files,
                                            reporter_identity=crypto.parse_identity(session.secret.decode("ascii")))
        except retaliation.RetaliationError as refusal:
            return _claim_again(form, chosen, *_claim_refused(refusal))
        evidence.sent(_form_id())
        return redirect(url_for("reporter.case", claim=1) + "#claims", 303)

    @bp.post("/<lang>/case/claims/<int:claim_id>/remedies/<int:remedy_id>")
    def answer_remedy(claim_id, remedy_id):
        """The reporter confirms that a remedy was received, or says it was not."""
        case_id, claim = _reporters_claim(claim_id)
        if not ConfirmForm().validate_on_submit() or request.form.get("answer") not in ("received", "not_received"):
            return _case_page(case_id, error=_("This page was open too long. Please try again."), status=400)
        try:
            retaliation.reporter_answers_remedy(db(), claim.id, remedy_id, request.form["answer"] == "received")
        except retaliation.RetaliationError:
            return _case_page(case_id, error=_("This remedy cannot be answered now."), status=409)
        return redirect(url_for("reporter.case") + f"#claim-{claim.id}", 303)

    @bp.post("/<lang>/case/claims/<int:claim_id>/reply")
    def reply_on_claim(claim_id):
        case_id, claim = _reporters_claim(claim_id)
        form = ReplyForm(max_text_chars=config["MAX_TEXT_CHARS"])
        text = typed_text.reporter_text(form.message.data)
        if not form.validate_on_submit() or not text:
            return _case_page(case_id, error=_("Write an answer or add a file."), status=400)
        followup.reply(db(), current_app.config, claim.id, text, [])
        return redirect(url_for("reporter.case") + f"#claim-{claim.id}", 303)

    @bp.route("/<lang>/retaliation", methods=["GET", "POST"])
    def direct_claim():
        """A claim from the start page, by a worker who has no receipt: it gets its own."""
        form = _claim_form(DirectClaimForm, retaliation.about_choices(db(), None))
        form.facility.choices = _facility_choices()
        try:
            token, earlier = _composing()
        except work_slots.Busy:
            return _claim_again(form, evidence.shown(_form_id()), _busy(), 503, direct=True)
        if earlier is not None:
            evidence.sent(_form_id())
            return _receipt_page(earlier)
        if request.method == "GET":
            if not token:
                session.set_secret(session.new_secret(), COMPOSING)
            form.submission.data = secrets.token_urlsafe(DRAFT_BYTES)
            return render_template("reporter/claim.html", form=form, direct=True)
        if not token:
            session.set_secret(session.new_secret(), COMPOSING)
            chosen = evidence.gather(config, _form_id(), form.disguise_voice.data)
            return _claim_again(form, chosen, _("This form was open too long. Please press Send again."),
                                direct=True)
        chosen = evidence.gather(config, _form_id(), form.disguise_voice.data)
        if not form.validate_on_submit():
            message = (_("This form was open too long. Please press Send again.") if form.csrf_token.errors
                       else _("Please check the fields marked below."))
            return _claim_again(form, chosen, message, direct=True)
        if chosen.refused:
            return _claim_again(form, chosen, direct=True)
        facility = form.facility.data
        claim = _claim_of(form, facility_other=typed_text.reporter_text(form.facility_other.data))
        try:
            submitted = retaliation.file_directly(db(), current_app.config, claim,
                                                  None if facility == "other" else int(facility), g.language,
                                                  _submission_token(token), chosen.files)
        except (retaliation.RetaliationError, intake.IntakeError) as refusal:
            return _claim_again(form, chosen, *_claim_refused(refusal), direct=True)
        except work_slots.Busy:
            return _claim_again(form, chosen, _busy(), 503, direct=True)
        evidence.sent(_form_id())
        return _receipt_page(submitted)

    def _claim_again(form, chosen, message=None, status=400, direct=False):
        """The claim form again, with what the worker wrote, chose and the files kept for it."""
        return render_template("reporter/claim.html", form=form, direct=direct, evidence=chosen,
                               error=chosen.message(message)), status if message else chosen.status

    def _busy():
        return _("We are busy. Please try again in a minute: everything you wrote and chose is kept below.")

    def _nobody_may_read():
        return _("Nobody you allowed to read this can receive it right now, so it cannot be sent and nothing "
                 "is saved. Please try again in a few days.")

    def _claim_refused(refusal):
        """The message and status for a claim the service refused."""
        if refusal.reason == NOBODY_MAY_READ:
            # Not the worker's mistake: the form is right, but nobody they allow can receive it yet.
            return _nobody_may_read(), 409
        return _("Please check the fields marked below."), 400

    def _claim_form(form_class, about):
        form = form_class(max_text_chars=config["MAX_TEXT_CHARS"])
        form.about.choices = [SelectChoice(user.id, user.display_name) for user in about]
        return form

    def _claim_of(form, facility_other=""):
        return retaliation.Claim(
            types=list(form.types.data), description=typed_text.reporter_text(form.description.data),
            when=typed_text.reporter_text(form.when.data), by_whom=typed_text.reporter_text(form.by_whom.data),
            facility_other=facility_other, about_user_ids=list(form.about.data or []),
        )

    @bp.post("/<lang>/logout")
    def logout():
        ConfirmForm().validate_on_submit()
        # Logging out never needs a valid token: ending a session is always safe.
        session.end()
        return redirect(url_for("reporter.start"), 303)

    # The blank form is the same for everyone but its CSRF token: render it once
    # per language and facility list, and put each visitor's token in.
    blank_pages = {}

    def _form_choices():
        return form_choices(config)

    def _report_form(choices=None):
        form = ReportForm(max_text_chars=config["MAX_TEXT_CHARS"])
        facilities, recipients, handlers = choices or _form_choices()
        form.facility.choices = facilities
        form.recipient_choice.choices = recipients
        form.excluded_handlers.choices = handlers
        offered = [c.value for c in recipients]
        if request.method == "GET" and form.recipient_choice.data not in offered:
            # Without the narrowest choice on offer, nothing is chosen for the worker (a lone
            # choice is no choice: it is shown chosen).
            form.recipient_choice.data = offered[0] if len(offered) == 1 else None
        return form

    # The blank form's choices change only when administrators edit them: they are
    # read again after a few seconds, not for every visitor.
    choice_cache = {}

    def _fresh_enough_choices():
        key = (g.language, i18n.words_generation())
        cached = choice_cache.get(key)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + CHOICES_TTL_SECONDS, _form_choices())
            if len(choice_cache) > 256:
                choice_cache.clear()
            choice_cache[key] = cached
        return cached[1]

    def _blank_form_page():
        token = generate_csrf()
        choices = _fresh_enough_choices()
        key = (g.language, i18n.words_generation()) + tuple(
            tuple((c.value, str(c.label), c.optgroup) for c in group) for group in choices)
        page = blank_pages.get(key)
        if page is None:
            form = _report_form(choices)
            form.submission.data = DRAFT_SLOT
            html = render_template("reporter/report.html", form=form)
            # (Words that hold a slot's name, an administrator's, are a page not to keep.)
            if html.count(token) != 1 or html.count(DRAFT_SLOT) != 1 or CSRF_SLOT in html:
                return html.replace(DRAFT_SLOT, secrets.token_urlsafe(DRAFT_BYTES))
            page = html.replace(token, CSRF_SLOT)
            if len(blank_pages) > 256:
                blank_pages.clear()
            blank_pages[key] = page
        return page.replace(CSRF_SLOT, token, 1).replace(DRAFT_SLOT, secrets.token_urlsafe(DRAFT_BYTES), 1)

    def _composing():
        """This session's token, and, for a form sent again, the report it already stored.

        The form's own draft id finds an earlier report even when the session
        that sent it has ended (Back or reload after "Finish"): it is never
        stored twice. Its receipt is shown once, to the session that sent it;
        opening the form again shows a blank form.
        """
        token = session.secret.decode("ascii") if session.kind == COMPOSING and session.secret else None
        if request.method != "POST" or not (token or _draft_id()):
            return token, None
        return token, intake.find_submission(db(), current_app.config, _submission_token(token or ""))

    def _submission_token(token):
        """One token per form shown: the session's, and the form's own draft id.

        Send pressed twice on one form stores one report; two forms open in two
        tabs of one session store two. A form without a draft id (a client that
        drops hidden fields) falls back to the session's token alone.
        """
        draft = _draft_id()
        return f"{token}:{draft}" if draft else token

    def _draft_id():
        draft = request.form.get("submission", "")
        return draft if DRAFT_ID.fullmatch(draft) else ""

    def _form_id():
        """Which form this is, for the files kept for its next send: the page and the form's draft id."""
        return f"{request.endpoint}:{_draft_id()}"

    # The receipt page too is the same for everyone but the receipt and the CSRF token:
    # rendered once per language and kind (new, or already received).
    receipt_pages = {}

    def _receipt_page(submitted):
        if submitted.receipt is None:
            # Sent before, from a session that has ended: nothing of it is shown.
            return render_template("reporter/message.html", message=_(
                "This page is closed. Nothing was sent again.")), 409
        token, receipt = generate_csrf(), receipts.group(submitted.receipt)
        key = (g.language, i18n.words_generation(), submitted.already_received)
        page = receipt_pages.get(key)
        if page is None:
            html = render_template("reporter/receipt.html", receipt=RECEIPT_SLOT,
                                   already_received=submitted.already_received, form=ConfirmForm())
            if html.count(token) != 1 or html.count(RECEIPT_SLOT) != 1 or CSRF_SLOT in html:
                return html.replace(RECEIPT_SLOT, receipt)
            page = html.replace(token, CSRF_SLOT)
            if len(receipt_pages) > 256:
                receipt_pages.clear()
            receipt_pages[key] = page
        return page.replace(CSRF_SLOT, token, 1).replace(RECEIPT_SLOT, receipt, 1)

    def _form_again(form, chosen, message=None, status=400):
        """The report form again, with what the worker wrote, chose and the files kept for it."""
        return render_template("reporter/report.html", form=form, evidence=chosen,
                               error=chosen.message(message)), status if message else chosen.status

    def _nobody_can_receive_page():
        """No choice of recipients can be offered: nobody active can receive a report yet."""
        return render_template("reporter/message.html", message=_(
            "Nobody can receive reports here yet. Please try again later.")), 503

    def _expired_page():
        return render_template("reporter/message.html",
                               message=_("This page was open too long. Please go back and try again.")), 400

    def _facility_choices():
        return facility_choices()

    return bp
