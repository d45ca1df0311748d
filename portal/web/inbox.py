"""The secure inbox: log-in, the case list, a case, and handing it over."""

import base64
import io

import segno
from flask import (
    Blueprint,
    Response,
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
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

import crypto

from .. import i18n
from ..models import CATEGORIES, Facility, User
from ..services import cases, handover, inbox, messaging, retaliation, users
from . import claim_pages, forward_pages, layout
from .access import login_required
from .database import db
from .forms import (
    CATEGORY_LABELS,
    CONSENT_CHOICES,
    ONGOING_CHOICES,
    PEOPLE_CHOICES,
    REMEDY_LABELS,
    RETALIATION_LABELS,
    ConfirmForm,
)
from .inbox_forms import (
    OUTCOME_LABELS,
    ChangePassphraseForm,
    CodeForm,
    KeyholderForm,
    LoginForm,
    MessageForm,
    NoteForm,
    PassphraseForm,
    StatusForm,
)

USER = "user"
STATUS_LABELS = {
    "received": lambda: _("Received"),
    "acknowledged": lambda: _("Acknowledged"),
    "investigating": lambda: _("Under investigation"),
    "feedback_given": lambda: _("Feedback given"),
    "closed": lambda: _("Closed"),
    "risk_assessed": lambda: _("Risk assessed"),
    "substantiated": lambda: _("Substantiated"),
    "not_substantiated": lambda: _("Not substantiated"),
}
ACCOUNT_MESSAGES = {
    "credentials": lambda d: _("The username, passphrase or code is not right."),
    "throttled": lambda d: _("Too many failed attempts for this account. Wait %(minutes)s minutes and try again.",
                             minutes=d.get("minutes", 15)),
    "identity": lambda d: _("Your key could not be opened. Ask an administrator."),
    "passphrase_short": lambda d: _("Use at least 12 characters: several words are easy to remember."),
    "passphrase_weak": lambda d: _("This passphrase is too easy to guess. Add more unusual words."),
    "totp": lambda d: _("This code is not right. Check the time on your phone and try the newest code."),
}


def load_user():
    """The logged-in user and their unlocked identity, for inbox and admin pages."""
    g.user = None
    g.identity = None
    if session.kind == USER and session.get("user_id") and session.secret:
        user = db().get(User, session["user_id"])
        if user is not None and user.active:
            g.user = user
            g.identity = crypto.parse_identity(session.secret.decode("ascii"))
    g.language = (g.user.language if g.user else None) or current_app.config["DEFAULT_LANGUAGE"]


def inbox_context():
    return dict(layout.context(current_app.config), user=g.user, logout_form=ConfirmForm(),
                status_labels=STATUS_LABELS, category_labels=dict(CATEGORY_LABELS, **RETALIATION_LABELS),
                outcome_labels=OUTCOME_LABELS)


def case_page(case, error=None, status=200):
    try:
        view = cases.open_case(db(), g.user, g.identity, case)
    except crypto.NoIdentityError:
        # A new key (after a lost passphrase) that the recovery key has not re-admitted yet.
        return render_template("inbox/message.html", message=_(
            "Your key cannot open this case yet. The holder of the recovery key must re-admit your "
            "new key first.")), 409
    if case.kind == "retaliation":
        return claim_pages.claim_page(case, view, error, status)
    if case.kind == "forwarded":
        return forward_pages.forwarded_page(case, view, error, status)
    status_form = StatusForm()
    status_form.status.choices = [SelectChoice(s, STATUS_LABELS[s]()) for s in cases.TRANSITIONS[case.status]]
    holder_form = KeyholderForm()
    holder_form.user.choices = colleague_choices(case)
    answers = {name: {choice.value: choice.label for choice in choices} for name, choices in
               (("ongoing", ONGOING_CHOICES), ("people_affected", PEOPLE_CHOICES), ("consent", CONSENT_CHOICES))}
    return render_template("inbox/case.html", view=view, message_form=MessageForm(), note_form=NoteForm(),
                           answers=answers, native_names=i18n.NATIVE_NAMES,
                           status_form=status_form, holder_form=holder_form, remove_form=ConfirmForm(),
                           error=error, overdue=cases.overdue(case),
                           claims=_claims_held(case), **forward_pages.forwards_context(case)), status


def _claims_held(case):
    """The reporter's claims this user holds too: a claim about a keyholder never shows on their page."""
    return [claim for claim in retaliation.claims_of(db(), case.id)
            if cases.for_keyholder(db(), g.user.id, claim.id) is not None]


def colleague_choices(case):
    """Colleagues routing allows to receive this case, who do not hold it yet."""
    return [SelectChoice(str(u.id), u.display_name)
            for u in handover.eligible_colleagues(db(), g.identity, case)]


def keyholder_case(case_id):
    case = cases.for_keyholder(db(), g.user.id, case_id)
    if case is None:
        abort(404)
    return case


def make_blueprint(config):
    bp = Blueprint("inbox", __name__, url_prefix="/inbox")

    bp.before_request(load_user)
    bp.context_processor(inbox_context)

    @bp.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        if request.method == "GET":
            expired = request.args.get("expired") == "1"
            return render_template("inbox/login.html", form=form, error=_(
                "Your session ended because it was idle or too old. Please log in again.") if expired else None)
        if not form.validate_on_submit():
            return render_template("inbox/login.html", form=form,
                                   error=_("This form expired. Please try again.")), 400
        try:
            login = users.authenticate(db(), form.username.data, form.passphrase.data, form.code.data)
        except users.AccountError as error:
            status = 429 if error.reason == "throttled" else 401
            return render_template("inbox/login.html", form=form,
                                   error=ACCOUNT_MESSAGES[error.reason](error.details)), status
        session.end()
        session["user_id"] = login.user.id
        session.set_secret(str(login.identity).encode("ascii"), USER)
        target = request.args.get("next", "")
        if not target.startswith(("/inbox/", "/admin/", "/oversight/")) or target.startswith("//"):
            target = url_for("inbox.index")
        return redirect(target, 303)

    @bp.post("/logout")
    def logout():
        ConfirmForm().validate_on_submit()
        session.end()
        return redirect(url_for("inbox.login"), 303)

    @bp.route("/activate/<token>", methods=["GET", "POST"])
    def activate(token):
        user = users.by_activation_token(db(), token)
        if user is None:
            abort(404)
        if user.totp_secret:
            return redirect(url_for("inbox.enrol", token=token), 303)
        form = PassphraseForm()
        error, status = None, 200
        if request.method == "POST":
            if not form.validate_on_submit():
                error, status = _("Please fill in both fields."), 400
            elif form.passphrase.data != form.confirm.data:
                error, status = _("The two passphrases are not the same."), 400
            else:
                try:
                    users.set_passphrase_and_identity(db(), user, form.passphrase.data,
                                                      current_app.config["IDENTITY_WORK_FACTOR"])
                except users.AccountError as failure:
                    error, status = ACCOUNT_MESSAGES[failure.reason]({}), 400
                else:
                    return redirect(url_for("inbox.enrol", token=token), 303)
        return render_template("inbox/activate.html", form=form, user=user, error=error), status

    @bp.route("/activate/<token>/totp", methods=["GET", "POST"])
    def enrol(token):
        user = users.by_activation_token(db(), token)
        if user is None or not user.totp_secret:
            abort(404)
        form = CodeForm()
        error, status = None, 200
        if request.method == "POST":
            try:
                if not form.validate_on_submit():
                    raise users.AccountError("totp")
                codes = users.confirm_totp(db(), user, form.code.data)
            except users.AccountError as failure:
                error, status = ACCOUNT_MESSAGES[failure.reason]({}), 400
            else:
                return render_template("inbox/recovery_codes.html", codes=codes)
        uri = users.totp_uri(user, config["ORGANISATION_NAME"])
        qr = segno.make(uri, error="m")
        svg = io.BytesIO()
        qr.save(svg, kind="svg", scale=5, border=2)
        qr_data = "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()
        return render_template("inbox/enrol.html", form=form, secret=user.totp_secret, qr=qr_data,
                               error=error), status

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
            sort=args.get("sort", "acknowledge_due") if args.get("sort") in inbox.SORTS else "acknowledge_due",
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
        messaging.post_to_reporter(db(), case, g.user, form.text.data)
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
            cases.change_status(db(), g.user, case, form.status.data, form.outcome.data or None)
        except cases.CaseError as error:
            message = (_("Choose the outcome before closing the case.") if error.reason == "outcome"
                       else _("Choose a status this case can move to."))
            return case_page(case, message, 400)
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

    @bp.get("/cases/<int:case_id>/files/<int:item_id>")
    @login_required
    def download(case_id, item_id):
        case = keyholder_case(case_id)
        found = cases.attachment(db(), g.user, g.identity, case, item_id)
        if found is None:
            abort(404)
        item, data = found
        extension = item.content_type.split("/")[-1].replace("jpeg", "jpg").replace("mpeg", "mp3")
        name = f"case-{case.reference}-file-{item.id}.{extension}"
        response = Response(data, mimetype=item.content_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    @bp.route("/account", methods=["GET", "POST"])
    @login_required
    def account():
        form = ChangePassphraseForm()
        error, status, done = None, 200, False
        if request.method == "POST":
            if not form.validate_on_submit():
                error, status = _("Please fill in every field."), 400
            elif form.passphrase.data != form.confirm.data:
                error, status = _("The two passphrases are not the same."), 400
            else:
                try:
                    users.change_passphrase(db(), g.user, g.identity, form.current.data, form.passphrase.data,
                                            current_app.config["IDENTITY_WORK_FACTOR"])
                    done = True
                except users.AccountError as failure:
                    error, status = ACCOUNT_MESSAGES[failure.reason]({}), 400
        return render_template("inbox/account.html", form=form, error=error, done=done), status

    return bp
