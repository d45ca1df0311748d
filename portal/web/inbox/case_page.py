"""A case's page as its keyholder sees it: a report, a retaliation claim, or a
case a partner forwarded to us. The route modules of the inbox answer their
forms and draw the page again through ``case_page`` when one is refused."""

import json

from flask import abort, g, make_response, render_template
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

import crypto

from ... import i18n
from ...models import DISCIPLINE_STATES, Partner
from ...services import (
    authority_notices,
    cases,
    conflicts,
    exchange,
    findings,
    forwarding,
    handover,
    lead,
    partners,
    retaliation,
)
from ..common.database import db
from ..common.fields import ConfirmForm
from ..common.labels import (
    ACTION_STATE_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CONSENT_CHOICES,
    ONGOING_CHOICES,
    PEOPLE_CHOICES,
    REMEDY_LABELS,
    RETALIATION_LABELS,
    STATUS_LABELS,
)
from . import reply_choice
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
from .finding_forms import FindingForm
from .forms import ConflictedKeyForm, KeyholderForm, LeadForm, MessageForm, NoteForm, StatusForm
from .forward_forms import (
    EXCHANGE_KIND_LABELS,
    FORWARD_STATE_LABELS,
    REMOTE_STATUS_LABELS,
    SCOPE_LABELS,
    AnswerWorkerForm,
    ExchangeForm,
    ExchangeVerdictForm,
    FindingsExchangeForm,
    RemoteStatusForm,
)


def keyholder_case(case_id):
    """The case, if this user holds it; 403 if a conflict of interest bars them from it;
    404 otherwise, whether or not it exists."""
    case = cases.for_keyholder(db(), g.user.id, case_id)
    if case is None:
        if conflicts.bars(db(), g.user.id, case_id):
            abort(make_response(render_template("inbox/message.html", message=_(
                "You have a conflict of interest with this case's facility or its supplier: you cannot "
                "open this case any more. Another holder of the case removes your key, or an administrator "
                "removes the conflict of interest.")), 403))
        abort(404)
    return case


def case_page(case, error=None, status=200):
    try:
        view = cases.open_case(db(), g.user, g.identity, case)
    except crypto.NoIdentityError:
        # A new key (after a lost passphrase) that the recovery key has not re-admitted yet.
        return render_template("inbox/message.html", message=_(
            "Your key cannot open this case yet. The holder of the recovery key must re-admit your "
            "new key first.")), 409
    if case.kind == "retaliation":
        return _claim_page(case, view, error, status)
    if case.kind == "forwarded":
        return _forwarded_page(case, view, error, status)
    status_form = StatusForm()
    status_form.status.choices = [SelectChoice(s, STATUS_LABELS[s]()) for s in cases.TRANSITIONS[case.status]]
    holder_form = KeyholderForm()
    holder_form.user.choices = colleague_choices(case)
    answers = {name: {choice.value: choice.label for choice in choices} for name, choices in
               (("ongoing", ONGOING_CHOICES), ("people_affected", PEOPLE_CHOICES), ("consent", CONSENT_CHOICES))}
    return render_template("inbox/case.html", view=view, note_form=NoteForm(),
                           answers=answers, native_names=i18n.NATIVE_NAMES, channel_labels=CHANNEL_LABELS,
                           **reply_choice.page_context(case, status_form),
                           status_form=status_form, holder_form=holder_form, remove_form=ConfirmForm(),
                           conflicted_form=ConflictedKeyForm(), error=error, overdue=cases.overdue(case),
                           authority_concerned=authority_notices.concerns_authority(case),
                           claims=_claims_held(case), **_forwards_context(case), **_lead_context(case),
                           **finding_context(case), **_exchange_context(case)), status


def finding_context(case) -> dict:
    """What a report's page shows of its findings and corrective actions (inbox/_findings.html)."""
    views = findings.for_case(db(), case, g.identity)
    return dict(findings=views, action_state_labels=ACTION_STATE_LABELS, finding_form=FindingForm(),
                same_facility=findings.same_facility_cases(db(), g.user, case),
                keyholder_states=findings.KEYHOLDER_STATES, verdicts=findings.VERDICTS,
                is_monitor=g.user.role == findings.MONITOR_ROLE, finding_token=ConfirmForm(),
                overdue_actions=[(number, action) for number, view in enumerate(views, start=1)
                                 for action in view.actions if action.overdue])


def colleague_choices(case):
    """Colleagues routing allows to receive this case, who do not hold it yet."""
    return [SelectChoice(str(u.id), u.display_name)
            for u in handover.eligible_colleagues(db(), g.identity, case)]


def lead_choices(case):
    """The keyholders who could lead the case instead of its lead (a conflict of interest bars some)."""
    barred = conflicts.conflicted_holder_ids(db(), case)
    return [SelectChoice(str(u.id), u.display_name) for u in cases.keyholders(db(), case)
            if u.id != case.lead_user_id and u.id not in barred and u.active]


def _lead_context(case) -> dict:
    """The case's lead and the form that changes them, for the keyholders part of a case page."""
    form = LeadForm()
    form.user.choices = lead_choices(case)
    return dict(lead=lead.lead_of(db(), case), lead_form=form)


def claim_status_form(claim):
    form = ClaimStatusForm()
    form.status.choices = [SelectChoice(s, CLAIM_STATUS_LABELS[s])
                           for s in retaliation.CLAIM_TRANSITIONS[claim.status] if s != "risk_assessed"]
    return form


def usable_partners():
    """Partners a case can be forwarded to now: active, with a signing key and a monitor's recipient."""
    return [p for p in partners.all_partners(db()) if p.active and p.signing_key and partners.monitor_recipients(p)]


def _claims_held(case):
    """The reporter's claims this user holds too: a claim about a keyholder never shows on their page."""
    return [claim for claim in retaliation.claims_of(db(), case.id)
            if cases.for_keyholder(db(), g.user.id, claim.id) is not None]


def _claim_page(claim, view, error=None, status=200):
    """The claim's page for one of its keyholders (``view`` is the opened case)."""
    record = retaliation.record(db(), claim, g.identity)
    holder_form = KeyholderForm()
    holder_form.user.choices = colleague_choices(claim)
    original = record.original
    original_held = original is not None and cases.for_keyholder(db(), g.user.id, original.id) is not None
    return render_template(
        "inbox/claim.html", view=view, record=record, error=error, overdue=cases.overdue(claim),
        original_held=original_held,
        risk_form=RiskForm(), measure_form=MeasureForm(), status_form=claim_status_form(claim),
        discipline_form=DisciplineForm(), state_form=StateForm(), remedy_form=RemedyForm(),
        breach_form=BreachForm(), message_form=MessageForm(), note_form=NoteForm(), holder_form=holder_form,
        remove_form=ConfirmForm(), conflicted_form=ConflictedKeyForm(),
        overdue_remedy_ids={remedy.id for remedy, _details in record.remedies if retaliation.is_overdue(remedy)},
        remedy_moves=retaliation.REMEDY_TRANSITIONS, discipline_states=DISCIPLINE_STATES,
        claim_status_labels=CLAIM_STATUS_LABELS, risk_labels=RISK_LABELS, measure_labels=MEASURE_LABELS,
        discipline_labels=DISCIPLINE_LABELS, discipline_state_labels=DISCIPLINE_STATE_LABELS,
        remedy_labels=REMEDY_LABELS, remedy_state_labels=REMEDY_STATE_LABELS,
        retaliation_labels=RETALIATION_LABELS, **_forwards_context(claim), **_lead_context(claim),
        **_exchange_context(claim),
    ), status


def exchange_form(case, channel):
    """The exchange's form on ``case``: what this side may send, and the requests it may answer."""
    form = ExchangeForm()
    form.kind.choices = [SelectChoice(name, EXCHANGE_KIND_LABELS[name]) for name, kind in exchange.KINDS.items()
                         if kind.offered and channel is not None and (channel.monitor_side or not kind.monitor_only)]
    form.answers.choices = [SelectChoice("", _("nothing"))] + [
        SelectChoice(str(row.sequence), _("%(kind)s of %(date)s", kind=EXCHANGE_KIND_LABELS.get(row.kind, row.kind),
                                         date=row.created_on.isoformat()))
        for row in exchange.answerable(db(), case)]
    return form


def findings_exchange_form(case):
    form = FindingsExchangeForm()
    form.answers.choices = exchange_form(case, None).answers.choices
    return form


def _exchange_context(case) -> dict:
    """The exchange with the partner on a forwarded case, both ways, and its forms (the findings
    go from the contractor's side, the verdicts on their actions from the monitor's)."""
    found = exchange.thread(db(), case, g.identity)
    channel = found.channel
    latest_findings = next((e.row.id for e in reversed(found.entries) if e.row.kind == "findings"
                            and not e.ours), None)
    return dict(exchange=found, exchange_kind_labels=EXCHANGE_KIND_LABELS, exchange_state_labels=ACTION_STATE_LABELS,
                exchange_form=exchange_form(case, channel) if channel else None,
                findings_exchange_form=findings_exchange_form(case) if channel and not channel.monitor_side
                and findings.has_any(db(), case) else None,
                verdict_form=ExchangeVerdictForm() if channel and channel.monitor_side else None,
                latest_findings=latest_findings)


def _forwards_context(case) -> dict:
    """What a case page shows about forwarding it."""
    return dict(forwards=forwarding.forwards_of(db(), case.id), partners_by_id={
        p.id: p for p in partners.all_partners(db())}, forward_state_labels=FORWARD_STATE_LABELS,
        remote_status_labels=REMOTE_STATUS_LABELS, scope_labels=SCOPE_LABELS,
        can_forward=bool(usable_partners()) and case.kind != "forwarded")


def _forwarded_page(case, view, error=None, status=200):
    """A case a partner forwarded to us, for its monitor users."""
    received = forwarding.received_of(db(), case.id)
    manifest = json.loads(received.manifest) if received else {}
    extra = {}
    for item in case.items:
        if item.kind in ("claim", "cover_note", "retaliation_record"):
            data = crypto.decrypt(item.blob, g.identity)
            extra[item.kind] = json.loads(data) if item.kind != "cover_note" else data.decode("utf-8")
    form = RemoteStatusForm()
    order = forwarding.RECEIVED_STATUSES
    current = received.status if received else "received"
    form.status.choices = [SelectChoice(s, REMOTE_STATUS_LABELS[s]) for s in order[order.index(current) + 1:]]
    partner = db().get(Partner, received.partner_id) if received else None
    answer_form = AnswerWorkerForm() if forwarding.can_answer_worker(received) else None
    return render_template("inbox/forwarded.html", view=view, received=received, manifest=manifest,
                           answer_form=answer_form, **_exchange_context(case),
                           partner=partner, extra=extra, status_form=form, note_form=NoteForm(), error=error,
                           remote_status_labels=REMOTE_STATUS_LABELS, scope_labels=SCOPE_LABELS,
                           retaliation_labels=RETALIATION_LABELS, remedy_labels=REMEDY_LABELS,
                           category_labels=dict(CATEGORY_LABELS, **RETALIATION_LABELS)), status
