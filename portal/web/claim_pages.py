"""The retaliation officers' side of a claim: its course, protection, discipline,
remedies, and informing the contracting authority and Electronics Watch.

A claim is a case: its page is the inbox's case page, drawn with this module's
template and forms; the actions below answer its forms.
"""

from datetime import date
from decimal import Decimal

from flask import Blueprint, g, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ..models import DISCIPLINE_STATES, DisciplinaryAction, Remedy
from ..services import cases, clock, retaliation
from . import forward_pages, inbox
from .access import login_required
from .claim_forms import (
    CLAIM_STATUS_LABELS,
    DISCIPLINE_LABELS,
    DISCIPLINE_STATE_LABELS,
    MEASURE_LABELS,
    REMEDY_STATE_LABELS,
    RISK_LABELS,
    BreachForm,
    ClaimStatusForm,
    DisciplineForm,
    MeasureForm,
    RemedyForm,
    RiskForm,
    StateForm,
)
from .database import db
from .forms import REMEDY_LABELS, RETALIATION_LABELS, ConfirmForm
from .inbox_forms import KeyholderForm, MessageForm, NoteForm

CLAIM_ERRORS = {
    "transition": lambda: _("The claim cannot move to this status now."),
    "risk": lambda: _("Choose the risk level and a measure from the lists."),
    "measure": lambda: _("Choose a measure from the list."),
    "discipline": lambda: _("Say who, and choose the action from the list."),
    "remedy": lambda: _("Choose the remedy, describe it, and give a currency with any amount."),
    "date": lambda: _("A date cannot be in the future."),
}


def _status_form(claim):
    form = ClaimStatusForm()
    form.status.choices = [SelectChoice(s, CLAIM_STATUS_LABELS[s])
                           for s in retaliation.CLAIM_TRANSITIONS[claim.status] if s != "risk_assessed"]
    return form


def claim_page(claim, view, error=None, status=200):
    """The claim's page for one of its keyholders (``view`` is the opened case)."""
    record = retaliation.record(db(), claim, g.identity)
    holder_form = KeyholderForm()
    holder_form.user.choices = inbox.colleague_choices(claim)
    original = record.original
    original_held = original is not None and cases.for_keyholder(db(), g.user.id, original.id) is not None
    return render_template(
        "inbox/claim.html", view=view, record=record, error=error, overdue=cases.overdue(claim),
        original_held=original_held,
        risk_form=RiskForm(), measure_form=MeasureForm(), status_form=_status_form(claim),
        discipline_form=DisciplineForm(), state_form=StateForm(), remedy_form=RemedyForm(),
        breach_form=BreachForm(), message_form=MessageForm(), note_form=NoteForm(), holder_form=holder_form,
        remove_form=ConfirmForm(),
        overdue_remedy_ids={remedy.id for remedy, _details in record.remedies if retaliation.is_overdue(remedy)},
        remedy_moves=retaliation.REMEDY_TRANSITIONS, discipline_states=DISCIPLINE_STATES,
        claim_status_labels=CLAIM_STATUS_LABELS, risk_labels=RISK_LABELS, measure_labels=MEASURE_LABELS,
        discipline_labels=DISCIPLINE_LABELS, discipline_state_labels=DISCIPLINE_STATE_LABELS,
        remedy_labels=REMEDY_LABELS, remedy_state_labels=REMEDY_STATE_LABELS,
        retaliation_labels=RETALIATION_LABELS, **forward_pages.forwards_context(claim),
    ), status


def make_blueprint(config):
    bp = Blueprint("claims", __name__, url_prefix="/inbox/claims")
    bp.before_request(inbox.load_user)
    bp.context_processor(inbox.inbox_context)

    def held_claim(case_id):
        claim = inbox.keyholder_case(case_id)
        if claim.kind != "retaliation":
            return None
        return claim

    def done(claim, anchor):
        return redirect(url_for("inbox.case", case_id=claim.id) + anchor, 303)

    def refused(claim, message):
        return inbox.case_page(claim, message, 400)

    def act(case_id, form, action, anchor):
        """Check the form, run ``action(claim, form)``, and show what went wrong in words."""
        claim = held_claim(case_id)
        if claim is None:
            return inbox.case_page(inbox.keyholder_case(case_id), _("This is not a retaliation claim."), 400)
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
        form = _status_form(claim) if claim is not None else ClaimStatusForm()
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
