"""One database session per request, closed when the request ends."""

from flask import current_app, g


def db():
    if "db" not in g:
        g.db = current_app.extensions["portal.sessions"]()
    return g.db


def close(_error=None):
    session = g.pop("db", None)
    if session is not None:
        session.close()
