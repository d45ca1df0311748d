"""Who may open inbox and admin pages: view decorators shared by their blueprints."""

import functools

from flask import abort, g, redirect, request, url_for

from .sessions import COOKIE_NAME


def _to_login():
    # A cookie without a session means the session ended: say so on the log-in page.
    expired = "1" if COOKIE_NAME in request.cookies else None
    return redirect(url_for("inbox.login", next=request.path, expired=expired), 303)


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            return _to_login()
        return view(*args, **kwargs)
    return wrapped


def roles_only(*roles):
    """Only users with one of ``roles``; anyone else logged in gets 404, as for a case they do not hold."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return _to_login()
            if g.user.role not in roles:
                abort(404)
            return view(*args, **kwargs)
        return wrapped
    return decorate


administrator_only = roles_only("administrator")
