"""The SMS gateways' webhooks: ``POST /sms/<gateway>/inbound``.

No cookies, no CSRF: each webhook is authenticated by the gateway's signature
(services/sms_gateways.py). The answer is a status code the gateway acts on; the
body is never logged, and the sender's number is in no URL.
"""

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ...services import sms
from ...services.sms_gateways import SendFailed, WebhookRefused
from ..common.database import db

# A text is at most a few KiB, even concatenated, with the gateway's envelope around it.
BODY_CAP_BYTES = 16 * 1024
STATUS = {"gateway": 404, "signature": 403, "stale": 403, "malformed": 400, "replay": 409, "flood": 429}


def make_blueprint(config):
    bp = Blueprint("sms", __name__)

    @bp.post("/sms/<gateway>/inbound")
    def inbound(gateway):
        request.max_content_length = BODY_CAP_BYTES
        try:
            body = request.get_data(cache=True)
            form = request.form
        except RequestEntityTooLarge:
            return "", 413
        # The URL the gateway called, as the public sees it (Twilio signs it): behind the proxy
        # this is BASE_URL's, not the one the app server was reached at.
        url = current_app.config["BASE_URL"].rstrip("/") + request.full_path.rstrip("?")
        try:
            sms.receive(db(), current_app.config, gateway, request.headers, body, form, url)
        except WebhookRefused as refusal:
            return "", STATUS.get(refusal.reason, 400)
        except SendFailed:
            return "", 502
        return "", 204

    return bp
