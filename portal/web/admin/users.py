"""Administrators: staff accounts and their keys."""

from flask import abort, current_app, g, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ...models import User
from ...services import users
from ..common.access import administrator_only
from ..common.database import db
from ..common.fields import ConfirmForm
from .forms import ROLE_LABELS, InviteForm

ACCOUNT_ERRORS = {
    "username": lambda: _("Use letters, digits, dots, dashes or underscores for the username."),
    "username_taken": lambda: _("This username is taken."),
    "role": lambda: _("Choose a role."),
}



def add_routes(bp, config):
    def page(form=None, error=None, status=200, activation=None):
        everyone = db().scalars(select(User).order_by(User.username)).all()
        return render_template("admin/users.html", users=everyone, form=form or InviteForm(),
                               reset_form=ConfirmForm(), role_labels=ROLE_LABELS, error=error,
                               activation=activation), status

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
            user, token = users.invite(db(), g.user, form.username.data, form.display_name.data, form.role.data,
                                       form.email.data, form.default_recipient.data)
        except users.AccountError as error:
            return page(form, ACCOUNT_ERRORS.get(error.reason, ACCOUNT_ERRORS["role"])(), 400)
        return page(activation=(user, _activation_link(token)))

    @bp.post("/users/<int:user_id>/reset")
    @administrator_only
    def reset(user_id):
        user = db().get(User, user_id)
        if user is None:
            abort(404)
        if not ConfirmForm().validate_on_submit():
            return page(error=_("This form expired. Please try again."), status=400)
        token = users.reset_identity(db(), g.user, user)
        return page(activation=(user, _activation_link(token)))

    def _activation_link(token):
        return current_app.config["BASE_URL"].rstrip("/") + url_for("inbox.activate", token=token)
