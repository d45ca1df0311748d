"""Server-side sessions whose secrets only the cookie can open.

The cookie carries a random session id and a random key. The database keeps
the SHA-256 of the id, the session's plain data (CSRF token, which case is
open) and any secret (an unlocked identity) sealed with ChaCha20-Poly1305
under the cookie's key. Neither the database nor the cookie alone opens it.
"""

import base64
import hashlib
import itertools
import json
import logging
import os
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from flask import request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import CallbackDict

from ...models import WebSession
from ...services import clock

COOKIE_NAME = "portal_session"
log = logging.getLogger(__name__)
# One new session in this many clears out the expired ones.
CLEAN_ONE_IN = 16


def _token() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("ascii")).digest()


def _key(cookie_key: str) -> bytes:
    return base64.urlsafe_b64decode(cookie_key + "=" * (-len(cookie_key) % 4))


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, session_id=None, cookie_key=None, secret=None, kind="anonymous"):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        self.session_id = session_id
        self.cookie_key = cookie_key
        self._secret = secret
        self.kind = kind
        self.modified = False
        self.regenerated = False
        self.previous_id = None

    @property
    def secret(self):
        return self._secret

    def set_secret(self, secret: bytes | None, kind: str) -> None:
        self._secret = secret
        self.kind = kind
        self.modified = True

    def regenerate(self) -> None:
        """A new id and key, so a session fixed before log-in is worthless after."""
        self.previous_id = self.previous_id or self.session_id
        self.session_id = None
        self.cookie_key = None
        self.modified = True

    def end(self) -> None:
        self.clear()
        self._secret = None
        self.kind = "anonymous"
        self.regenerate()


class ServerSessionInterface(SessionInterface):
    def __init__(self, session_factory):
        self.session_factory = session_factory
        self.new_sessions = itertools.count()

    def _idle(self, app, kind):
        if kind == "user":
            return timedelta(minutes=app.config["USER_SESSION_MINUTES"])
        return timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"])

    def _lifetime(self, app, kind):
        if kind == "user":
            return timedelta(hours=app.config["USER_SESSION_HOURS"])
        return timedelta(hours=2)

    def open_session(self, app, request):
        cookie = request.cookies.get(COOKIE_NAME, "")
        session_id, _, cookie_key = cookie.partition(".")
        if not session_id or not cookie_key:
            return ServerSession()
        try:
            return self._open(app, session_id, cookie_key)
        except DBAPIError as error:
            # The database is gone: the page the request leads to says so in the reader's language.
            log.warning("session not read: the database is unavailable (%s)", type(error).__name__)
            return ServerSession()

    def _open(self, app, session_id, cookie_key):
        with self.session_factory() as db:
            row = db.get(WebSession, _digest(session_id))
            now = clock.now()
            if row is None:
                return ServerSession()
            if clock.as_utc(row.expires_at) < now or clock.as_utc(row.absolute_expiry) < now:
                db.delete(row)
                db.commit()
                return ServerSession()
            secret = None
            if row.sealed:
                try:
                    secret = ChaCha20Poly1305(_key(cookie_key)).decrypt(
                        row.sealed[:12], row.sealed[12:], None
                    )
                except (InvalidTag, ValueError):
                    return ServerSession()
            session = ServerSession(json.loads(row.data), session_id, cookie_key, secret, row.kind)
            session.modified = False
            # Touch so the idle timeout counts from now.
            row.expires_at = now + self._idle(app, row.kind)
            db.commit()
            return session

    def save_session(self, app, session, response):
        try:
            self._save(app, session, response)
        except DBAPIError as error:
            # The database is gone (the page says so already): no cookie is set for a
            # session that was not stored, and the answer is not turned into a crash.
            log.warning("session not saved: the database is unavailable (%s)", type(error).__name__)

    def _save(self, app, session, response):
        secure = not app.config["DEVELOPMENT"]
        with self.session_factory() as db:
            if session.previous_id:
                db.execute(delete(WebSession).where(WebSession.id_digest == _digest(session.previous_id)))
                db.commit()
                session.previous_id = None
            if not session and session.secret is None:
                if session.session_id:
                    db.execute(delete(WebSession).where(WebSession.id_digest == _digest(session.session_id)))
                    db.commit()
                if COOKIE_NAME in request.cookies:
                    response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="Strict")
                return
            if not session.modified:
                return
            now = clock.now()
            if not session.session_id:
                # New sessions clear out expired ones now and then: no job needed, the
                # table stays small, and most first visits write one row only.
                if next(self.new_sessions) % CLEAN_ONE_IN == 0:
                    _delete_expired(db, now)
                session.session_id, session.cookie_key = _token(), _token()
                row = WebSession(id_digest=_digest(session.session_id),
                                 absolute_expiry=now + self._lifetime(app, session.kind))
                db.add(row)
            else:
                row = db.get(WebSession, _digest(session.session_id))
                if row is None:
                    return
            row.data = json.dumps(dict(session))
            row.kind = session.kind
            row.expires_at = now + self._idle(app, session.kind)
            if session.secret is not None:
                nonce = os.urandom(12)
                row.sealed = nonce + ChaCha20Poly1305(_key(session.cookie_key)).encrypt(
                    nonce, session.secret, None
                )
            else:
                row.sealed = None
            db.commit()
        response.set_cookie(
            COOKIE_NAME,
            f"{session.session_id}.{session.cookie_key}",
            httponly=True,
            secure=secure,
            samesite="Strict",
            path="/",
        )


def _delete_expired(db, now) -> int:
    # By the idle expiry alone, a range of its index: an OR with the absolute expiry
    # would scan every live session on each new one. A session past its absolute
    # expiry is refused (and deleted) when it comes back, and is never touched
    # again, so its idle expiry passes soon after.
    return db.execute(delete(WebSession).where(WebSession.expires_at < now)).rowcount
