"""What every staff page (inbox, admin, oversight) shares: the logged-in user
and their unlocked key, and the layout's context."""

from flask import Blueprint, Response, abort, current_app, g, redirect, request, session, url_for

import crypto

from ...models import User
from ...services import attachments, inbox
from . import layout
from .database import db
from .fields import ConfirmForm
from .labels import CATEGORY_LABELS, RETALIATION_LABELS, STATUS_LABELS, STEP_LABELS

# The kind of session a staff member's log-in makes.
USER = "user"
# A partner interviewer enters reports for workers and does nothing else: these pages only.
INTAKE_PARTNER = "intake_partner"
PARTNER_PAGES = frozenset({
    "inbox.login", "inbox.logout", "inbox.activate", "inbox.enrol", "inbox.account",
    "inbox.reminder_settings", "inbox.renew_recovery_codes", "inbox.enter_report",
})


def load_user():
    """The logged-in user and their unlocked identity, for inbox and admin pages."""
    g.user = None
    g.identity = None
    if session.kind == USER and session.get("user_id") and session.secret:
        user = db().get(User, session["user_id"])
        # A reset key, a closed account or any change that ends sessions raises the epoch.
        if user is not None and user.active and session.get("epoch") == user.session_epoch:
            g.user = user
            g.identity = crypto.parse_identity(session.secret.decode("ascii"))
    g.language = (g.user.language if g.user else None) or current_app.config["DEFAULT_LANGUAGE"]


def confine_intake_partners():
    """A partner interviewer gets 404 on every staff page but their account and the report entry
    page, whatever a case, search or export page would check: they never see a case."""
    if g.user is None or g.user.role != INTAKE_PARTNER or request.endpoint in PARTNER_PAGES:
        return None
    if request.endpoint == "inbox.index":
        return redirect(url_for("inbox.enter_report"), 303)
    abort(404)


def needs_action() -> int:
    """How many of the user's cases need action (the header shows it): asked only by a page that shows it."""
    return inbox.needs_action_count(db(), g.user.id) if g.user is not None and g.user.role != INTAKE_PARTNER else 0


def staff_context():
    return dict(layout.context(current_app.config), user=g.user, logout_form=ConfirmForm(), needs_action=needs_action,
                status_labels=STATUS_LABELS, category_labels=dict(CATEGORY_LABELS, **RETALIATION_LABELS),
                step_labels=STEP_LABELS)


# The extension a download of each type the portal stores or writes is saved with.
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic", "application/pdf": "pdf",
    "audio/mp4": "m4a", "video/mp4": "mp4", "audio/mpeg": "mp3", "audio/wav": "wav", "audio/ogg": "ogg",
    "audio/amr": "amr", "audio/aac": "aac", "audio/3gpp": "3gp", "video/webm": "webm",
    "application/zip": "zip", "text/csv": "csv",
}


def send_download(data: bytes, content_type: str, stem: str, extension: str | None = None) -> Response:
    """A file sent as a download that the browser never runs or renders inline.

    The type may be a partner's word, or a row's stored before it was checked: one that is not a
    bare type/subtype, or (with no ``extension`` given) not one of ``EXTENSIONS``, is sent as bytes
    saved as .bin, so a file claiming text/html or application/hta is saved neither as a page nor
    as a program."""
    content_type = attachments.media_type(content_type)
    extension = extension or EXTENSIONS.get(content_type)
    if extension is None:
        content_type, extension = attachments.UNKNOWN_TYPE, "bin"
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}.{extension}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# A preview is an image the page shows with <img>: opened on its own, it still runs nothing.
PREVIEW_POLICY = "sandbox; default-src 'none'; img-src 'self'"


def send_preview(data: bytes, content_type: str, stem: str) -> Response:
    """An image the portal made (a cleaned photo, a PDF page it drew), shown inline and sandboxed."""
    response = Response(data, mimetype=content_type)
    extension = content_type.split("/")[-1].replace("jpeg", "jpg")
    response.headers["Content-Disposition"] = f'inline; filename="{stem}.{extension}"'
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def staff_blueprint(name: str, url_prefix: str | None = None) -> Blueprint:
    """A blueprint of staff pages: the same log-in, language and layout as the inbox."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    bp.before_request(load_user)
    bp.before_request(confine_intake_partners)
    bp.context_processor(staff_context)
    return bp
