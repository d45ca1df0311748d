"""Administrators register the partners (Electronics Watch's instance, for one)
that cases are forwarded to, and the tokens that let them call us."""

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...models import Partner
from ...services import partner_http, partners, signing
from ..common.access import administrator_only
from ..common.database import db
from ..common.fields import ConfirmForm
from .forms import PartnerForm

PARTNER_ERRORS = {
    "url": lambda: _("Enter a name and an https:// address."),
    "address": lambda: _("Enter the partner's public https:// address. Addresses of this server and of "
                         "private networks are refused."),
    "fingerprint": lambda: _("A fingerprint is 64 hexadecimal characters."),
    "already": lambda: _("This partner is registered already."),
    "unreachable": lambda: _("The partner's portal did not answer. Check the address and try again."),
    "unreadable": lambda: _("The partner's portal did not publish a signing key."),
    "fingerprint_mismatch": lambda: _("The partner's signing key does not have this fingerprint. Do not register "
                                      "it: check the fingerprint with the partner."),
    "signature": lambda: _("What the partner published is not signed by its key."),
    "recipients": lambda: _("The partner published recipients that are not age recipients."),
}

def add_routes(bp, config):
    """The partners' pages, on the ``forwards`` blueprint they share with forwarding's inbox routes."""

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
