"""Error pages in the reporter's language, with the right status codes."""

from flask import g, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError

from . import layout

# Read and discard an oversized upload, so the phone gets the page instead of a reset.
_DRAIN_LIMIT = 256 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024


def register(app):
    def page(message, status):
        return render_template("reporter/message.html", message=message, **layout.context(app.config)), status

    @app.errorhandler(404)
    def not_found(_error):
        return page(_("This page does not exist."), 404)

    @app.errorhandler(405)
    def not_allowed(_error):
        return page(_("This page cannot be used this way."), 405)

    @app.errorhandler(413)
    def too_large(_error):
        _drain()
        size = app.config["MAX_ATTACHMENT_BYTES"] // (1024 * 1024)
        count = app.config["MAX_ATTACHMENTS"]
        return page(
            _("The files are too big to send. Nothing was sent. Go back and choose up to "
              "%(count)s files of at most %(size)s MB each.", count=count, size=size),
            413,
        )

    @app.errorhandler(DBAPIError)
    def database_unavailable(_error):
        # The database went away, or its disk is full: the transaction was rolled
        # back whole, so nothing is half-written and no receipt was shown.
        session = g.pop("db", None)
        if session is not None:
            try:
                session.rollback()
                session.close()
            except DBAPIError:
                session.invalidate()
        response = app.make_response(page(_("Your report was not sent: our service has a problem right now. "
                                            "Nothing was saved. Please try again in a few minutes."), 503))
        response.headers["Retry-After"] = "120"
        return response

    @app.errorhandler(500)
    def server_error(_error):
        return page(_("Something went wrong on our side. Nothing was stored. Please try again later."), 500)


def _drain():
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, _DRAIN_LIMIT)
    try:
        while remaining > 0:
            chunk = stream.read(min(_DRAIN_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except OSError:
        pass
