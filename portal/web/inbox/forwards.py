"""Forwarding in the inbox: a keyholder forwards a case to a partner; monitor
users import offline bundles and send their status back. (Administrators
register the partners: ``web.admin.partners``.)"""

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ...models import Forward, Partner
from ...services import attachments, bundles, exchange, forwarding, outbound
from ..common.access import login_required, roles_only
from ..common.bidi import isolated
from ..common.database import db
from ..common.staff import send_download
from ..common.uploads import uploaded_files
from .case_page import case_page, exchange_form, findings_exchange_form, keyholder_case, usable_partners
from .forward_forms import (
    REMOTE_STATUS_LABELS,
    SCOPE_LABELS,
    AnswerWorkerForm,
    ExchangeVerdictForm,
    ForwardForm,
    ImportForm,
    RemoteStatusForm,
)

FORWARD_ERRORS = {
    "consent": lambda: _("The reporter did not agree to share this report, and nothing obliges it: it cannot be "
                         "forwarded."),
    "partner": lambda: _("This partner cannot receive bundles: refresh its keys on the partners page."),
    "recipients": lambda: _("This partner has no monitor user with a key yet: nothing could open the bundle."),
    "nothing": lambda: _("Choose what to forward."),
}
BUNDLE_ERRORS = {
    "malformed": lambda: _("This file is not a bundle."),
    "too_large": lambda: _("This bundle is larger than this portal accepts. Nothing was stored."),
    "limits": lambda: _("This bundle holds more items, larger items or other names than a bundle may. "
                        "Nothing was stored."),
    "signature": lambda: _("This bundle is not signed by its sender's registered key: it was changed or forged. "
                           "Nothing was stored."),
    "sender": lambda: _("This bundle is not signed by its sender's registered key: it was changed or forged. "
                        "Nothing was stored."),
    "addressee": lambda: _("This bundle was made for another organisation. Nothing was stored."),
    "contents": lambda: _("An item of this bundle was changed. Nothing was stored."),
    "unknown_sender": lambda: _("This bundle comes from an organisation that is not a registered partner. "
                                "Nothing was stored."),
    "sequence": lambda: _("This bundle repeats a number of the exchange that was filed before. Nothing was stored."),
}
EXCHANGE_ERRORS = {
    "channel": lambda: _("This case has no exchange with a partner yet."),
    "kind": lambda: _("Choose what you send."),
    "empty": lambda: _("Write the text or choose a document."),
    "answers": lambda: _("Choose a request of the partner, or none."),
    "recipients": lambda: _("The partner's keys for this case cannot be used: nothing was sent."),
    "action": lambda: _("Choose an action of the plan the contractor sent, and a verdict."),
    "busy": lambda: _("Others were sending on this case at the same moment: nothing was sent. Send it again."),
}


def _refused_status(failure: exchange.ExchangeError) -> int:
    # Others' sends kept taking the number: the request was right, the moment was not.
    return 409 if failure.reason == "busy" else 400


def add_routes(bp, config):
    """Forwarding's inbox routes, on the ``forwards`` blueprint it shares with the partners' pages."""

    def _form_for(case, plan):
        form = ForwardForm()
        form.partner.choices = [SelectChoice(p.id, p.name) for p in usable_partners()]
        form.messages.choices = [SelectChoice(item.id, f"{item.created_on.isoformat()} · " + isolated(text[:80]))
                                 for item, text in plan.messages]
        form.attachments.choices = [SelectChoice(item.id, f"{item.content_type} · {item.size // 1024} KB")
                                    for item in plan.attachments]
        return form

    @bp.route("/inbox/cases/<int:case_id>/forward", methods=["GET", "POST"])
    @login_required
    def forward(case_id):
        case = keyholder_case(case_id)
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
                    outbound.deliver(db(), made, config["BASE_URL"])
                    return redirect(url_for("inbox.case", case_id=case.id) + "#forwards", 303)
        return render_template("inbox/forward.html", case=case, plan=plan, form=form, error=error,
                               scope_labels=SCOPE_LABELS), status

    @bp.get("/inbox/forwards/<int:forward_id>/bundle")
    @login_required
    def bundle(forward_id):
        made = db().get(Forward, forward_id)
        if made is None:
            abort(404)
        keyholder_case(made.case_id)
        return send_download(made.bundle, "application/zip", f"bundle-{made.bundle_id}")

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
                    filed = forwarding.import_file(db(), bundles.read_limited(form.bundle.data.stream),
                                                   config["BASE_URL"])
                except bundles.BundleError as failure:
                    error, status = BUNDLE_ERRORS.get(failure.reason, BUNDLE_ERRORS["malformed"])(), 400
                else:
                    return redirect(url_for("inbox.case", case_id=filed.received.case_id), 303)
        return render_template("inbox/import.html", form=form, error=error), status

    @bp.post("/inbox/cases/<int:case_id>/remote-status")
    @login_required
    def remote_status(case_id):
        case = keyholder_case(case_id)
        received = forwarding.received_of(db(), case.id)
        if received is None or case.kind != "forwarded":
            abort(404)
        form = RemoteStatusForm()
        form.status.choices = list(REMOTE_STATUS_LABELS)
        if not form.validate_on_submit():
            return case_page(case, _("Choose a status."), 400)
        try:
            forwarding.set_status(db(), g.user, received, form.status.data)
        except forwarding.ForwardError:
            return case_page(case, _("Choose a status."), 400)
        forwarding.send_status(db(), received)
        return redirect(url_for("inbox.case", case_id=case.id), 303)

    @bp.post("/inbox/cases/<int:case_id>/exchange")
    @login_required
    def exchange_send(case_id):
        case = keyholder_case(case_id)
        channel = exchange.channel_of(db(), case)
        if channel is None:
            abort(404)
        form = exchange_form(case, channel)
        if not form.validate_on_submit():
            return case_page(case, _("Choose what you send."), 400)
        files, refused = uploaded_files(["files"], config)
        if refused:
            return case_page(case, *refused)
        answers = int(form.answers.data) if (form.answers.data or "").isdigit() else None
        try:
            made = exchange.send(db(), g.user, case, form.kind.data, form.text.data or "", dates=form.dates.data or "",
                                 files=files, answers=answers, base_url=config["BASE_URL"])
        except exchange.ExchangeError as failure:
            db().rollback()
            return case_page(case, EXCHANGE_ERRORS[failure.reason](), _refused_status(failure))
        except attachments.AttachmentError:
            db().rollback()
            return case_page(case, _("A document could not be sent: this kind of file is not accepted, or it could "
                                     "not be cleaned. Send photos, PDF files, sound or video."), 400)
        exchange.deliver(db(), made)
        return redirect(url_for("inbox.case", case_id=case.id) + "#exchange", 303)

    @bp.post("/inbox/cases/<int:case_id>/exchange/findings")
    @login_required
    def exchange_findings(case_id):
        """The contractor's keyholder sends the case's findings and corrective action plan as they stand."""
        case = keyholder_case(case_id)
        channel = exchange.channel_of(db(), case)
        if channel is None or channel.monitor_side:
            abort(404)
        form = findings_exchange_form(case)
        if not form.validate_on_submit():
            return case_page(case, _("Choose a request of the partner, or none."), 400)
        answers = int(form.answers.data) if (form.answers.data or "").isdigit() else None
        try:
            made = exchange.send_findings(db(), g.user, g.identity, case, answers=answers,
                                          evidence_files=form.evidence.data, base_url=config["BASE_URL"])
        except exchange.ExchangeError as failure:
            db().rollback()
            message = _("This case has no findings to send yet.") if failure.reason == "empty" else \
                EXCHANGE_ERRORS[failure.reason]()
            return case_page(case, message, _refused_status(failure))
        exchange.deliver(db(), made)
        return redirect(url_for("inbox.case", case_id=case.id) + "#exchange", 303)

    @bp.post("/inbox/cases/<int:case_id>/exchange/verdict")
    @login_required
    def exchange_verdict(case_id):
        """The monitor verifies an action of the contractor's plan, or finds it not done."""
        case = keyholder_case(case_id)
        channel = exchange.channel_of(db(), case)
        if channel is None or not channel.monitor_side:
            abort(404)
        form = ExchangeVerdictForm()
        if not form.validate_on_submit():
            return case_page(case, EXCHANGE_ERRORS["action"](), 400)
        try:
            made = exchange.send_verdict(db(), g.user, g.identity, case, form.action.data, form.verdict.data,
                                         form.comment.data or "", base_url=config["BASE_URL"])
        except exchange.ExchangeError as failure:
            db().rollback()
            return case_page(case, EXCHANGE_ERRORS[failure.reason](), _refused_status(failure))
        exchange.deliver(db(), made)
        return redirect(url_for("inbox.case", case_id=case.id) + "#exchange", 303)

    @bp.get("/inbox/cases/<int:case_id>/exchange/files/<int:item_id>")
    @login_required
    def exchange_document(case_id, item_id):
        case = keyholder_case(case_id)
        found = exchange.document(db(), g.user, g.identity, case, item_id)
        if found is None:
            abort(404)
        item, data = found
        return send_download(data, item.content_type, f"case-{case.reference}-document-{item.id}")

    @bp.post("/inbox/cases/<int:case_id>/answer-worker")
    @login_required
    def answer_worker(case_id):
        case = keyholder_case(case_id)
        if case.kind != "forwarded" or not forwarding.can_answer_worker(forwarding.received_of(db(), case.id)):
            abort(404)
        form = AnswerWorkerForm()
        if not form.validate_on_submit():
            return case_page(case, _("Write the message to the worker."), 400)
        made = forwarding.answer_worker(db(), g.user, case, form.text.data)
        outbound.deliver(db(), made, config["BASE_URL"])
        return redirect(url_for("inbox.case", case_id=case.id) + "#thread", 303)
