"""The retaliation officers' side of a claim: its course, protection, discipline,
remedies, and informing the contracting authority and Electronics Watch.

A claim is a case: its page is the inbox's case page, drawn with this package's
template and forms; the actions below answer its forms.
"""

from datetime import date
from decimal import Decimal

from flask import g, redirect, url_for
from flask_babel import gettext as _

from ...models import DISCIPLINE_STATES, DisciplinaryAction, Remedy
from ...services import clock, retaliation
from ..common.access import login_required
from ..common.database import db
from ..common.staff import staff_blueprint
from .case_page import case_page, claim_status_form, keyholder_case
from .claim_forms import (
    REMEDY_STATE_LABELS,
    BreachForm,
    ClaimStatusForm,
    DisciplineForm,
    MeasureForm,
    RemedyForm,
    RiskForm,
    StateForm,
)

CLAIM_ERRORS = {
    "transition": lambda: _("The claim cannot move to this status now."),
    "risk": lambda: _("Choose the risk level and a measure from the lists."),
    "measure": lambda: _("Choose a measure from the list."),
    "discipline": lambda: _("Say who, and choose the action from the list."),
    "remedy": lambda: _("Choose the remedy, describe it, and give a currency with any amount."),
    "date": lambda: _("A date cannot be in the future."),
}


def make_blueprint(config):
    bp = staff_blueprint("claims", url_prefix="/inbox/claims")

    def held_claim(case_id):
        claim = keyholder_case(case_id)
        if claim.kind != "retaliation":
            return None
        return claim

    def done(claim, anchor):
        return redirect(url_for("inbox.case", case_id=claim.id) + anchor, 303)

    def refused(claim, message):
        return case_page(claim, message, 400)

    def act(case_id, form, action, anchor):
        """Check the form, run ``action(claim, form)``, and show what went wrong in words."""
        claim = held_claim(case_id)
        if claim is None:
            return case_page(keyholder_case(case_id), _("This is not a retaliation claim."), 400)
        if not form.validate_on_submit():
            errors = [message for messages in form.errors.values() for message in messages]
            return refused(claim, " ".join(str(e) for e in errors) or _("This form expired. Please try again."))
        try:
            action(claim, form)
        except retaliation.RetaliationError as error:
            return refused(claim, CLAIM_ERRORS.get(error.reason, CLAIM_ERRORS["transition"])())
        return done(claim, anchor)

    @bp.post("/<int:case_id>/risk")
    @login_required
    def assess(case_id):
        def action(claim, form):
            measures = [(form.measure.data, form.measure_text.data or "")] if form.measure.data else []
            retaliation.assess_risk(db(), g.user, claim, form.level.data, measures)
        return act(case_id, RiskForm(), action, "#course")

    @bp.post("/<int:case_id>/measures")
    @login_required
    def measure(case_id):
        return act(case_id, MeasureForm(), lambda claim, form: retaliation.add_measure(
            db(), g.user, claim, form.measure.data, form.measure_text.data or ""), "#protection")

    @bp.post("/<int:case_id>/status")
    @login_required
    def status(case_id):
        claim = held_claim(case_id)
        form = claim_status_form(claim) if claim is not None else ClaimStatusForm()
        return act(case_id, form, lambda claim, form: retaliation.move_claim(db(), g.user, claim, form.status.data),
                   "#course")

    @bp.post("/<int:case_id>/discipline")
    @login_required
    def discipline(case_id):
        return act(case_id, DisciplineForm(), lambda claim, form: retaliation.add_discipline(
            db(), g.user, claim, form.kind.data, form.who.data, _not_later_than_today(form.decided_on.data),
            form.state.data), "#discipline")

    def move_state(case_id, model, row_id, states, move, reason, anchor):
        """A new state for a discipline or remedy row of the claim."""
        form = StateForm()
        form.state.choices = list(states)

        def action(claim, form):
            found = db().get(model, row_id)
            if found is None or found.case_id != claim.id:
                raise retaliation.RetaliationError(reason)
            move(db(), g.user, found, form.state.data)
        return act(case_id, form, action, anchor)

    @bp.post("/<int:case_id>/discipline/<int:action_id>/state")
    @login_required
    def discipline_state(case_id, action_id):
        return move_state(case_id, DisciplinaryAction, action_id, DISCIPLINE_STATES, retaliation.move_discipline,
                          "discipline", "#discipline")

    @bp.post("/<int:case_id>/remedies")
    @login_required
    def remedy(case_id):
        def action(claim, form):
            amount = (form.amount.data or "").replace(",", ".")
            retaliation.add_remedy(db(), g.user, claim, form.kind.data, form.details.data, form.due_on.data,
                                   str(Decimal(amount)) if amount else "", (form.currency.data or "").upper())
        return act(case_id, RemedyForm(), action, "#remedies")

    @bp.post("/<int:case_id>/remedies/<int:remedy_id>/state")
    @login_required
    def remedy_state(case_id, remedy_id):
        return move_state(case_id, Remedy, remedy_id, REMEDY_STATE_LABELS, retaliation.move_remedy, "remedy",
                          "#remedies")

    @bp.post("/<int:case_id>/breach")
    @login_required
    def breach(case_id):
        return act(case_id, BreachForm(), lambda claim, form: retaliation.report_breach(
            db(), g.user, claim, _not_later_than_today(form.reported_on.data)), "#breach")

    return bp


def _not_later_than_today(day: date | None) -> date | None:
    if day is not None and day > clock.today():
        raise retaliation.RetaliationError("date")
    return day
