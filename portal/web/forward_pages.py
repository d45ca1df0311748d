"""Forwarding in the inbox: a keyholder forwards a case to a partner; an
administrator registers partners; monitor users read forwarded cases, import
offline bundles and send their status back."""

import json

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

import crypto

from ..models import Forward, Partner
from ..services import bundles, cases, forwarding, partner_http, partners, signing
from . import inbox
from .access import administrator_only, login_required, roles_only
from .database import db
from .forms import CATEGORY_LABELS, REMEDY_LABELS, RETALIATION_LABELS, ConfirmForm
from .forward_forms import (
    FORWARD_STATE_LABELS,
    REMOTE_STATUS_LABELS,
    SCOPE_LABELS,
    ForwardForm,
    ImportForm,
    PartnerForm,
    RemoteStatusForm,
)
from .inbox_forms import NoteForm

FORWARD_ERRORS = {
    "consent": lambda: _("The reporter did not agree to share this report, and nothing obliges it: it cannot be "
                         "forwarded."),
    "partner": lambda: _("This partner cannot receive bundles: refresh its keys on the partners page."),
    "recipients": lambda: _("This partner has no monitor user with a key yet: nothing could open the bundle."),
    "nothing": lambda: _("Choose what to forward."),
}
PARTNER_ERRORS = {
    "url": lambda: _("Enter a name and an https:// address."),
    "fingerprint": lambda: _("A fingerprint is 64 hexadecimal characters."),
    "already": lambda: _("This partner is registered already."),
    "unreachable": lambda: _("The partner's portal did not answer. Check the address and try again."),
    "unreadable": lambda: _("The partner's portal did not publish a signing key."),
    "fingerprint_mismatch": lambda: _("The partner's signing key does not have this fingerprint. Do not register "
                                      "it: check the fingerprint with the partner."),
    "signature": lambda: _("What the partner published is not signed by its key."),
    "recipients": lambda: _("The partner published recipients that are not age recipients."),
}
BUNDLE_ERRORS = {
    "malformed": lambda: _("This file is not a bundle."),
    "signature": lambda: _("This bundle is not signed by its sender's registered key: it was changed or forged. "
                           "Nothing was stored."),
    "sender": lambda: _("This bundle is not signed by its sender's registered key: it was changed or forged. "
                        "Nothing was stored."),
    "addressee": lambda: _("This bundle was made for another organisation. Nothing was stored."),
    "contents": lambda: _("An item of this bundle was changed. Nothing was stored."),
    "unknown_sender": lambda: _("This bundle comes from an organisation that is not a registered partner. "
                                "Nothing was stored."),
}


def forwards_context(case) -> dict:
    """What a case page shows about forwarding it."""
    return dict(forwards=forwarding.forwards_of(db(), case.id), partners_by_id={
        p.id: p for p in partners.all_partners(db())}, forward_state_labels=FORWARD_STATE_LABELS,
        remote_status_labels=REMOTE_STATUS_LABELS, scope_labels=SCOPE_LABELS,
        can_forward=bool(_usable_partners()) and case.kind != "forwarded")


def _usable_partners():
    return [p for p in partners.all_partners(db()) if p.active and p.signing_key and partners.monitor_recipients(p)]


def forwarded_page(case, view, error=None, status=200):
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
    return render_template("inbox/forwarded.html", view=view, received=received, manifest=manifest,
                           partner=partner, extra=extra, status_form=form, note_form=NoteForm(), error=error,
                           remote_status_labels=REMOTE_STATUS_LABELS, scope_labels=SCOPE_LABELS,
                           retaliation_labels=RETALIATION_LABELS, remedy_labels=REMEDY_LABELS,
                           category_labels=dict(CATEGORY_LABELS, **RETALIATION_LABELS)), status


def make_blueprint(config):
    bp = Blueprint("forwards", __name__)
    bp.before_request(inbox.load_user)
    bp.context_processor(inbox.inbox_context)

    def _form_for(case, plan):
        form = ForwardForm()
        form.partner.choices = [SelectChoice(p.id, p.name) for p in _usable_partners()]
        form.messages.choices = [SelectChoice(item.id, f"{item.created_on.isoformat()} · {text[:80]}")
                                 for item, text in plan.messages]
        form.attachments.choices = [SelectChoice(item.id, f"{item.content_type} · {item.size // 1024} KB")
                                    for item in plan.attachments]
        return form

    @bp.route("/inbox/cases/<int:case_id>/forward", methods=["GET", "POST"])
    @login_required
    def forward(case_id):
        case = inbox.keyholder_case(case_id)
        if case.kind == "forwarded":
            abort(404)
        plan = forwarding.plan(db(), case, g.identity)
        form = _form_for(case, plan)
        error, status = None, 200
        if request.method == "GET" and request.args.get("mandatory") == "1":
            # The contract's notification, prepared in one step: everything consent allows.
            form.messages.data = [item.id for item, _text in plan.messages]
            form.attachments.data = [item.id for item in plan.attachments]
            form.retaliation_record.data = plan.has_retaliation_record
        elif request.method == "POST":
            if not form.validate_on_submit():
                error, status = _("Choose the partner and what to forward."), 400
            else:
                partner = db().get(Partner, form.partner.data)
                choice = forwarding.Choice(report=form.report.data, message_ids=list(form.messages.data or []),
                                           attachment_ids=list(form.attachments.data or []),
                                           retaliation_record=form.retaliation_record.data,
                                           cover_note=form.cover_note.data or "")
                try:
                    made = forwarding.create(db(), g.user, g.identity, case, partner, choice)
                except forwarding.ForwardError as failure:
                    error, status = FORWARD_ERRORS[failure.reason](), 400
                else:
                    forwarding.deliver(db(), made)
                    return redirect(url_for("inbox.case", case_id=case.id) + "#forwards", 303)
        return render_template("inbox/forward.html", case=case, plan=plan, form=form, error=error,
                               scope_labels=SCOPE_LABELS), status

    @bp.get("/inbox/forwards/<int:forward_id>/bundle")
    @login_required
    def bundle(forward_id):
        made = db().get(Forward, forward_id)
        if made is None or cases.for_keyholder(db(), g.user.id, made.case_id) is None:
            abort(404)
        response = Response(made.bundle, mimetype="application/zip")
        response.headers["Content-Disposition"] = f'attachment; filename="bundle-{made.bundle_id}.zip"'
        return response

    @bp.route("/inbox/forwards/import", methods=["GET", "POST"])
    @roles_only("monitor")
    def import_bundle():
        form = ImportForm()
        error, status = None, 200
        if request.method == "POST":
            if not form.validate_on_submit():
                error, status = _("Choose a bundle file."), 400
            else:
                try:
                    filed = forwarding.import_file(db(), form.bundle.data.read(), config["BASE_URL"])
                except bundles.BundleError as failure:
                    error, status = BUNDLE_ERRORS.get(failure.reason, BUNDLE_ERRORS["malformed"])(), 400
                else:
                    return redirect(url_for("inbox.case", case_id=filed.received.case_id), 303)
        return render_template("inbox/import.html", form=form, error=error), status

    @bp.post("/inbox/cases/<int:case_id>/remote-status")
    @login_required
    def remote_status(case_id):
        case = inbox.keyholder_case(case_id)
        received = forwarding.received_of(db(), case.id)
        if received is None:
            abort(404)
        form = RemoteStatusForm()
        form.status.choices = list(REMOTE_STATUS_LABELS)
        if not form.validate_on_submit():
            return inbox.case_page(case, _("Choose a status."), 400)
        try:
            forwarding.set_status(db(), g.user, received, form.status.data)
        except forwarding.ForwardError:
            return inbox.case_page(case, _("Choose a status."), 400)
        forwarding.send_status(db(), received)
        return redirect(url_for("inbox.case", case_id=case.id), 303)

    @bp.route("/admin/partners", methods=["GET", "POST"])
    @administrator_only
    def partners_page():
        form = PartnerForm()
        error, status, issued = None, 200, None
        if request.method == "POST":
            if not form.validate_on_submit():
                error, status = _("Please fill in every field."), 400
            else:
                try:
                    _partner, issued = partners.register(db(), g.user, form.name.data, form.base_url.data,
                                                         form.fingerprint.data, form.token.data or "")
                except partners.PartnerError as failure:
                    error, status = PARTNER_ERRORS[failure.reason](), 400
        return _partners_page(form, error, issued), status

    @bp.post("/admin/partners/<int:partner_id>/refresh")
    @administrator_only
    def refresh_partner(partner_id):
        partner = _partner_or_404(partner_id)
        if ConfirmForm().validate_on_submit():
            try:
                partners.refresh(db(), g.user, partner)
            except partners.PartnerError as failure:
                return _partners_page(PartnerForm(), PARTNER_ERRORS[failure.reason](), None), 400
        return redirect(url_for("forwards.partners_page"), 303)

    @bp.post("/admin/partners/<int:partner_id>/token")
    @administrator_only
    def partner_token(partner_id):
        """The token the partner issued to us, once it has registered us in turn."""
        partner = _partner_or_404(partner_id)
        token = (request.form.get("token") or "").strip()
        if not ConfirmForm().validate_on_submit() or not token:
            return _partners_page(PartnerForm(), _("Enter the token the partner issued to you."), None), 400
        partners.set_outbound_token(db(), g.user, partner, token)
        return redirect(url_for("forwards.partners_page"), 303)

    def _partner_or_404(partner_id):
        partner = db().get(Partner, partner_id)
        if partner is None:
            abort(404)
        return partner

    def _partners_page(form, error, issued):
        return render_template(
            "admin/partners.html", form=form, error=error, issued=issued, partners=partners.all_partners(db()),
            refresh_form=ConfirmForm(), own=signing.readable(partners.own_fingerprint(db())),
            readable=signing.readable, recipients_of=partners.monitor_recipients,
            well_known=config["BASE_URL"].rstrip("/") + partner_http.WELL_KNOWN_PATH)

    return bp
