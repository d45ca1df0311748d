"""Administrators: staff accounts and their keys."""

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ...models import Keyholder, User
from ...services import authority_notices, users
from ..common.access import administrator_only
from ..common.database import db
from ..common.fields import ConfirmForm
from .forms import ROLE_LABELS, AccountForm, DeactivateForm, InviteForm

ACCOUNT_ERRORS = {
    "username": lambda: _("Use letters, digits, dots, dashes or underscores for the username."),
    "username_taken": lambda: _("This username is taken."),
    "role": lambda: _("Choose a role."),
    "email_missing": lambda: _("Give the account an e-mail address: its activation link goes only there."),
    "self": lambda: _("Ask another administrator to close your account or change your role."),
    "last_administrator": lambda: _("This is the last active administrator: make another one first."),
    "inactive": lambda: _("This account is closed already."),
    "active": lambda: _("This account is open already."),
}


def add_routes(bp, config):
    def page(form=None, error=None, status=200, activation=None):
        everyone = db().scalars(select(User).order_by(User.username)).all()
        return render_template("admin/users.html", users=everyone, form=form or InviteForm(),
                               reset_form=ConfirmForm(), role_labels=ROLE_LABELS, error=error,
                               activation=activation, authority_waiting=authority_notices.waiting(db())), status

    @bp.get("/users", endpoint="users")
    @administrator_only
    def user_list():
        return page()

    @bp.post("/users")
    @administrator_only
    def invite():
        form = InviteForm()
        if not form.validate_on_submit():
            return page(form, _("Please check the fields."), 400)
        try:
            user, _token = users.invite(db(), g.user, form.username.data, form.display_name.data, form.role.data,
                                        form.email.data, form.default_recipient.data, _activation_link)
        except users.AccountError as error:
            return page(form, ACCOUNT_ERRORS.get(error.reason, ACCOUNT_ERRORS["role"])(), 400)
        return page(activation=user)

    @bp.post("/users/<int:user_id>/reset")
    @administrator_only
    def reset(user_id):
        user = db().get(User, user_id)
        if user is None:
            abort(404)
        if not ConfirmForm().validate_on_submit():
            return page(error=_("This form expired. Please try again."), status=400)
        try:
            users.reset_identity(db(), g.user, user, _activation_link)
        except users.AccountError as error:
            return page(error=ACCOUNT_ERRORS[error.reason](), status=409)
        return page(activation=user)

    def _activation_link(token):
        return current_app.config["BASE_URL"].rstrip("/") + url_for("inbox.activate", token=token)

    def _user_or_404(user_id):
        user = db().get(User, user_id)
        if user is None:
            abort(404)
        return user

    def account_page(user, form=None, error=None, status=200, done=None):
        if form is None:
            form = AccountForm(formdata=None, data={"role": user.role, "email": user.email or "",
                                                    "default_recipient": user.default_recipient})
        held = db().scalar(select(func.count()).select_from(Keyholder).where(Keyholder.user_id == user.id))
        return render_template("admin/account.html", account=user, form=form, deactivate_form=DeactivateForm(),
                               reactivate_form=ConfirmForm(), held=held, role_labels=ROLE_LABELS, error=error,
                               done=done), status

    @bp.route("/users/<int:user_id>", methods=["GET", "POST"])
    @administrator_only
    def account(user_id):
        user = _user_or_404(user_id)
        if request.method == "GET":
            return account_page(user, done=request.args.get("done"))
        form = AccountForm()
        if not form.validate_on_submit():
            return account_page(user, form, _("Please check the fields."), 400)
        try:
            users.change(db(), g.user, user, role=form.role.data, email=form.email.data,
                         default_recipient=form.default_recipient.data)
        except users.AccountError as error:
            return account_page(user, form, ACCOUNT_ERRORS.get(error.reason, ACCOUNT_ERRORS["role"])(), 400)
        return redirect(url_for("admin.account", user_id=user.id, done="saved"), 303)

    @bp.post("/users/<int:user_id>/deactivate")
    @administrator_only
    def deactivate(user_id):
        user = _user_or_404(user_id)
        form = DeactivateForm()
        if not form.validate_on_submit():
            return account_page(user, error=_("Tick the box to confirm."), status=400)
        try:
            users.deactivate(db(), g.user, user)
        except users.AccountError as error:
            return account_page(user, error=ACCOUNT_ERRORS[error.reason](), status=409)
        return redirect(url_for("admin.account", user_id=user.id, done="closed"), 303)

    @bp.post("/users/<int:user_id>/reactivate")
    @administrator_only
    def reactivate(user_id):
        user = _user_or_404(user_id)
        if not ConfirmForm().validate_on_submit():
            return account_page(user, error=_("This form expired. Please try again."), status=400)
        try:
            users.reactivate(db(), g.user, user)
        except users.AccountError as error:
            return account_page(user, error=ACCOUNT_ERRORS[error.reason](), status=409)
        return redirect(url_for("admin.account", user_id=user.id, done="opened"), 303)
