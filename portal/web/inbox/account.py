"""Staff accounts in the inbox: log-in, log-out, activation with a passphrase
and an authenticator app, and changing one's passphrase."""

import base64
import io
import re

import segno
from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ...services import users, work_slots
from ..common import layout
from ..common.access import login_required
from ..common.database import db
from ..common.fields import ConfirmForm
from ..common.staff import USER
from . import search
from .forms import (
    ChangePassphraseForm,
    CodeForm,
    CurrentPassphraseForm,
    LoginForm,
    PassphraseForm,
    ReminderSettingsForm,
)

ACCOUNT_MESSAGES = {
    "credentials": lambda d: _("The username, passphrase or code is not right."),
    "throttled": lambda d: _("Too many failed attempts for this account. Wait %(minutes)s minutes and try again.",
                             minutes=d.get("minutes", 15)),
    "identity": lambda d: _("Your key could not be opened. Ask an administrator."),
    "passphrase_short": lambda d: _("Use at least 12 characters: several words are easy to remember."),
    "passphrase_weak": lambda d: _("This passphrase is too easy to guess. Add more unusual words."),
    "totp": lambda d: _("This code is not right. Check the time on your phone and try the newest code."),
}

UNSAFE_IN_URL = re.compile(r"[\x00-\x1f\x7f\\]")


def add_routes(bp, config):
    @bp.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        if UNSAFE_IN_URL.search(request.args.get("next", "")):
            # Line breaks could split the redirect's header; a backslash reads as "//" to browsers.
            abort(400)
        if request.method == "GET":
            expired = request.args.get("expired") == "1"
            return render_template("inbox/login.html", form=form, error=_(
                "Your session ended because it was idle or too old. Please log in again.") if expired else None)
        if not form.validate_on_submit():
            return render_template("inbox/login.html", form=form,
                                   error=_("This form expired. Please try again.")), 400
        try:
            login = users.authenticate(db(), form.username.data, form.passphrase.data, form.code.data)
        except work_slots.Busy:
            return _busy("inbox/login.html", form=form)
        except users.AccountError as error:
            throttled = error.reason == "throttled"
            # The owner is never locked out by someone else's guesses: a recovery code still lets them in.
            hint = _("You can still log in now with your passphrase and one of your recovery codes "
                     "in place of the code.") if throttled else None
            return render_template("inbox/login.html", form=form, error=ACCOUNT_MESSAGES[error.reason](error.details),
                                   hint=hint), 429 if throttled else 401
        search.forget_searches()
        session.end()
        session["user_id"] = login.user.id
        session["epoch"] = login.user.session_epoch
        session.set_secret(str(login.identity).encode("ascii"), USER)
        target = request.args.get("next", "")
        if not target.startswith(("/inbox/", "/admin/", "/oversight/")) or target.startswith("//"):
            target = url_for("inbox.index")
        return redirect(target, 303)

    @bp.post("/logout")
    def logout():
        ConfirmForm().validate_on_submit()
        search.forget_searches()
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
        uri = users.totp_uri(user, layout.organisation_name(config))
        qr = segno.make(uri, error="m")
        svg = io.BytesIO()
        qr.save(svg, kind="svg", scale=5, border=2)
        qr_data = "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()
        return render_template("inbox/enrol.html", form=form, secret=user.totp_secret, qr=qr_data,
                               error=error), status

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
                except work_slots.Busy:
                    return _busy("inbox/account.html", form=form, renew_form=CurrentPassphraseForm(prefix="renew"),
                                 done=False)
                except users.AccountError as failure:
                    error = ACCOUNT_MESSAGES[failure.reason](failure.details)
                    status = 429 if failure.reason == "throttled" else 400
        return render_template("inbox/account.html", form=form, renew_form=CurrentPassphraseForm(prefix="renew"),
                               reminder_form=_reminder_form(), error=error, done=done), status

    @bp.post("/account/reminders")
    @login_required
    def reminder_settings():
        form = ReminderSettingsForm(prefix="reminders")
        if not form.validate_on_submit():
            return render_template("inbox/account.html", form=ChangePassphraseForm(),
                                   renew_form=CurrentPassphraseForm(prefix="renew"), reminder_form=form,
                                   error=_("This form expired. Please try again."), done=False), 400
        users.set_reminder_digest(db(), g.user, form.digest.data)
        return render_template("inbox/account.html", form=ChangePassphraseForm(),
                               renew_form=CurrentPassphraseForm(prefix="renew"), reminder_form=_reminder_form(),
                               reminders_saved=True, done=False)

    @bp.post("/account/recovery-codes")
    @login_required
    def renew_recovery_codes():
        renew_form = CurrentPassphraseForm(prefix="renew")
        if not renew_form.validate_on_submit():
            error, status = _("Please fill in every field."), 400
        else:
            try:
                codes = users.renew_recovery_codes(db(), g.user, renew_form.current.data)
            except work_slots.Busy:
                return _busy("inbox/account.html", form=ChangePassphraseForm(), renew_form=renew_form, done=False)
            except users.AccountError as failure:
                error = ACCOUNT_MESSAGES[failure.reason](failure.details)
                status = 429 if failure.reason == "throttled" else 400
            else:
                # Shown once and stored nowhere in clear (every page is sent "no-store").
                return render_template("inbox/recovery_codes.html", codes=codes, renewed=True)
        return render_template("inbox/account.html", form=ChangePassphraseForm(), renew_form=renew_form,
                               reminder_form=_reminder_form(), error=error, done=False), status


def _reminder_form():
    form = ReminderSettingsForm(prefix="reminders")
    form.digest.data = g.user.reminder_digest
    return form


def _busy(template, **context):
    """The log-in pool stayed busy (a flood of log-ins): nothing was checked or counted; try again."""
    response = current_app.make_response((render_template(
        template, error=_("We are busy. Please try again in a minute."), **context), 503))
    response.headers["Retry-After"] = "60"
    return response
