"""Administrators: what reporters are offered (recipient choices, handlers they may leave out)."""

from flask import g, render_template, request
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ...services import instance as instance_service
from ...services import intake, routing
from ..common.access import administrator_only
from ..common.database import db
from ..common.labels import RECIPIENT_CHOICES
from .forms import SettingsForm


def add_routes(bp, config):
    @bp.route("/settings", methods=["GET", "POST"])
    @administrator_only
    def settings():
        form = SettingsForm()
        form.recipient_choices.choices = list(RECIPIENT_CHOICES)
        handlers = intake.offerable_handlers(db())
        form.shown_handlers.choices = [SelectChoice(u.id, u.display_name) for u in handlers]
        instance = instance_service.load(db())
        error, status, saved = None, 200, False
        if request.method == "POST":
            if form.validate_on_submit():
                intake.save_offer(db(), g.user, form.recipient_choices.data, form.shown_handlers.data or [])
                saved = True
            else:
                error, status = _("Offer reporters at least one choice of recipients."), 400
        else:
            form.recipient_choices.data = instance.recipient_choices.split(",")
            form.shown_handlers.data = [u.id for u in handlers if u.shown_to_reporters]
        # A choice nobody can receive is not offered, whatever is ticked here.
        not_receivable = [c for c in RECIPIENT_CHOICES if c.value not in routing.receivable_choices(db())]
        return render_template("admin/settings.html", form=form, error=error, saved=saved,
                               not_receivable=not_receivable), status
