"""The API partner instances call: the signed well-known document, bundles, statuses.

No cookies, no CSRF (each call carries the partner's bearer token, and what
matters is signed), answers in JSON with an error code a machine can act on.
"""

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge

from ...services import bundles, forwarding, partners
from ..common.database import db

STATUS_CAP_BYTES = 64 * 1024
BUNDLE_ERRORS = {
    "too_large": "the bundle is larger than this portal accepts",
    "limits": "the bundle has more members, larger or more compressed members, or other names than a bundle may",
    "malformed": "the bundle is not a well-formed portal bundle",
    "signature": "the bundle is not signed by the registered key of its sender",
    "sender": "the bundle names another sender than the partner presenting it",
    "addressee": "the bundle is addressed to another instance",
    "contents": "an item of the bundle was changed, added or removed",
    "unknown_sender": "the bundle's sender is not a registered partner",
    "sequence": "the bundle repeats a number of the exchange filed before, or its number is not a count",
}


def _error(status, code, message):
    return jsonify(error=code, message=message), status


def _partner():
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    return partners.by_inbound_token(db(), token.strip())


def _bundle_body() -> bytes:
    """A bundle may carry every file of a case: more than one report's upload cap, but bounded,
    and refused on its Content-Length before a byte is read."""
    request.max_content_length = bundles.LIMITS.bundle_bytes
    try:
        return bundles.read_limited(request.stream, request.content_length)
    except RequestEntityTooLarge:
        raise bundles.BundleError("too_large") from None


def make_blueprint(config):
    bp = Blueprint("api", __name__)

    @bp.get("/healthz")
    def health():
        """For monitoring: answers whether the app and its database work, and nothing else."""
        try:
            db().execute(text("SELECT 1"))
        except DBAPIError:
            return jsonify(status="database unavailable"), 503
        return jsonify(status="ok")

    @bp.get("/.well-known/whistleblower-portal.json")
    def well_known():
        response = jsonify(partners.published_document(db()))
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.post("/api/v1/bundles")
    def receive_bundle():
        partner = _partner()
        if partner is None:
            return _error(401, "token", "unknown or missing partner token")
        try:
            body = _bundle_body()
            filed = forwarding.receive(db(), partner, body, current_app.config["BASE_URL"])
        except bundles.BundleError as error:
            status = 413 if error.reason == "too_large" else 409 if error.reason == "sequence" else 400
            return _error(status, error.reason,
                          BUNDLE_ERRORS.get(error.reason, error.reason))
        if filed.duplicate:
            # A retry of a bundle already filed, or a replay: nothing is filed again.
            return _error(409, "duplicate", "this bundle was received before; it is not filed again")
        return jsonify(bundle_id=filed.received.bundle_id,
                       received_at=filed.received.received_at.isoformat(timespec="seconds")), 201

    @bp.post("/api/v1/bundles/<bundle_id>/status")
    def receive_status(bundle_id):
        partner = _partner()
        if partner is None:
            return _error(401, "token", "unknown or missing partner token")
        request.max_content_length = STATUS_CAP_BYTES
        envelope = request.get_json(silent=True)
        try:
            forward = forwarding.record_remote_status(db(), partner, bundle_id, envelope)
        except forwarding.ForwardError as error:
            if error.reason == "stale":
                # A retry of a status filed before, or a replay of an older one: nothing changes.
                return _error(409, "stale", "a status as new or newer was received before; this one changes nothing")
            status = 404 if error.reason == "unknown" else 400
            return _error(status, error.reason, "the status is not signed by this partner, or names no bundle of ours")
        return jsonify(bundle_id=forward.bundle_id, status=forward.remote_status)

    return bp
