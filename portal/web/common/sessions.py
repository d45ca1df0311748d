"""Server-side sessions whose secrets only the cookie can open.

The cookie carries a random session id and a random key. The database keeps
the SHA-256 of the id and, sealed with ChaCha20-Poly1305 under the cookie's
key, everything else: the session's data (CSRF token, which case is open), any
secret (an unlocked identity) and the precise idle and absolute deadlines.
Neither the database nor the cookie alone opens it.

A session that holds nothing but its CSRF token is "light": it has no row at
all. Anyone can ask for a form without a cookie, as fast as they like, and
behind Tor every client comes from one address: a row for each of those
visits filled the disk (379 rows a second from one client, rows deletable only
the day after tomorrow). A light session's raw CSRF token is derived from the
cookie's key, and its idle and absolute deadlines travel in the cookie, sealed
under a key derived from the instance's secret, so the visitor can neither
read nor stretch them; the server stores nothing and no time. The first time
the session must hold more (kept files, an opened case, a log-in, any secret)
it is promoted: a new id and key (a cookie planted before cannot fix the
stored session), a row as below, the data and the CSRF token the page already
holds carried over.

In clear a row keeps only a day after which it may be deleted, the same for
every session begun on one day: nothing stored ties a reporter's visit, or
the case they opened, to a time finer than the day. The precise deadlines
are checked inside the sealed payload, so the idle timeout keeps its minute.
"""

import base64
import functools
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
from datetime import UTC, datetime, time, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import CallbackDict

from ...models import WebSession
from ...services import clock, kept_files
from .evidence import handles_in

COOKIE_NAME = "portal_session"
log = logging.getLogger(__name__)
# One new session in this many clears out the expired ones.
CLEAN_ONE_IN = 16
_READ = select(WebSession.sealed, WebSession.expires_at).where(WebSession.id_digest == bindparam("digest"))
_TOUCH = update(WebSession).where(WebSession.id_digest == bindparam("digest")).values(sealed=bindparam("new_sealed"))
_FORGET = delete(WebSession).where(WebSession.id_digest == bindparam("digest"))
# What _token() makes: a light cookie's id and key are taken only in that shape.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _token() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("ascii")).digest()


def _key(cookie_key: str) -> bytes:
    return base64.urlsafe_b64decode(cookie_key + "=" * (-len(cookie_key) % 4))


def _csrf_field() -> str:
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")


def _light_csrf(cookie_key: str) -> str:
    """A light session's raw CSRF token: the cookie's key alone gives it, nothing is stored."""
    return hmac.new(_key(cookie_key), b"portal csrf token", hashlib.sha256).hexdigest()


def _light_secret(cookie_key: str) -> bytes:
    digest = hmac.new(_key(cookie_key), b"portal session secret", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, session_id=None, cookie_key=None, secret=None, kind="anonymous",
                 stored=False):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        # Whether a row holds it; a session without one is light until it must hold more.
        self.stored = stored
        self.session_id = session_id
        self.cookie_key = cookie_key
        self._secret = secret
        self.kind = kind
        self.modified = False
        self.regenerated = False
        self.previous_id = None
        self.absolute_expiry = None
        # Files kept for a form of a session that ended: deleted when it is saved.
        self.left_files = []

    def __setitem__(self, key, value):
        if key == _csrf_field() and not self.stored:
            # Flask-WTF gives a session without a token a random one: a light session's is
            # derived from its cookie's key instead, so nothing needs storing for it.
            if self.cookie_key is None:
                self.session_id, self.cookie_key = _token(), _token()
            dict.__setitem__(self, key, _light_csrf(self.cookie_key))
            return
        super().__setitem__(key, value)

    def new_secret(self) -> bytes:
        """A secret for the session to hold (a form's composing token).

        A light session's is derived from its cookie's key, so holding it needs no row.
        """
        if self.stored:
            return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
        if self.cookie_key is None:
            self.session_id, self.cookie_key = _token(), _token()
        return _light_secret(self.cookie_key)

    @property
    def light(self) -> bool:
        """Holds nothing its cookie's key does not give (the CSRF token, a derived secret): no row is needed."""
        if self.stored or self.cookie_key is None or self.kind == "user":
            return False
        if self._secret is not None and self._secret != _light_secret(self.cookie_key):
            return False
        return dict(self) in ({}, {_csrf_field(): _light_csrf(self.cookie_key)})

    @property
    def secret(self):
        return self._secret

    def set_secret(self, secret: bytes | None, kind: str) -> None:
        self._secret = secret
        self.kind = kind
        self.modified = True

    def regenerate(self) -> None:
        """A new id and key, so a session fixed before log-in is worthless after."""
        if self.stored:
            self.previous_id = self.previous_id or self.session_id
        self.stored = False
        self.session_id = None
        self.cookie_key = None
        self.absolute_expiry = None
        self.modified = True

    def end(self) -> None:
        self.left_files += handles_in(self)
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

    def _light_key(self, app) -> bytes:
        return _deadlines_key(app.secret_key if isinstance(app.secret_key, bytes) else app.secret_key.encode("utf-8"))

    def open_session(self, app, request):
        cookie = request.cookies.get(COOKIE_NAME, "")
        parts = cookie.split(".")
        if len(parts) == 3:
            return self._open_light(app, *parts)
        session_id, _, cookie_key = cookie.partition(".")
        if not session_id or not cookie_key:
            return ServerSession()
        try:
            return self._open(app, session_id, cookie_key)
        except DBAPIError as error:
            # The database is gone: the page the request leads to says so in the reader's language.
            log.warning("session not read: the database is unavailable (%s)", type(error).__name__)
            return ServerSession()

    def _open_light(self, app, session_id, cookie_key, stamp):
        # No database: a light session is all in its cookie. One past its deadlines,
        # forged or garbled starts afresh, and its CSRF token is refused as an expired one's.
        if not (_TOKEN.fullmatch(session_id) and _TOKEN.fullmatch(cookie_key)):
            return ServerSession()
        try:
            sealed = base64.urlsafe_b64decode(stamp + "=" * (-len(stamp) % 4))
            state = _unseal_deadlines(self._light_key(app), session_id, cookie_key, sealed)
            idle_until, absolute_expiry = _moment(state["idle_until"]), _moment(state["absolute_expiry"])
        except (InvalidTag, ValueError, KeyError, TypeError):
            return ServerSession()
        now = clock.now()
        if idle_until < now or absolute_expiry < now:
            return ServerSession()
        kind = state["kind"]
        secret = None if kind == "anonymous" else _light_secret(cookie_key)
        session = ServerSession({_csrf_field(): _light_csrf(cookie_key)}, session_id, cookie_key, secret, kind)
        session.absolute_expiry = state["absolute_expiry"]
        session.modified = False
        return session

    def _open(self, app, session_id, cookie_key):
        with self.session_factory() as db:
            # Plain statements on the session's connection: every request with a cookie runs
            # them, and loading and flushing a mapped row costs several times as much.
            connection = db.connection()
            row = connection.execute(_READ, {"digest": (row_id := _digest(session_id))}).first()
            now = clock.now()
            if row is None:
                return ServerSession()
            if clock.as_utc(row.expires_at) < now:
                connection.execute(_FORGET, {"digest": row_id})
                db.commit()
                return ServerSession()
            try:
                state = _unseal(cookie_key, row_id, row.sealed)
            except (InvalidTag, ValueError, KeyError, TypeError):
                return ServerSession()
            if _moment(state["idle_until"]) < now or _moment(state["absolute_expiry"]) < now:
                # The files it kept for a form go with it (their keys were in it).
                kept_files.forget(db, handles_in(state["data"]))
                connection.execute(_FORGET, {"digest": row_id})
                db.commit()
                return ServerSession()
            secret = base64.b64decode(state["secret"]) if state.get("secret") is not None else None
            session = ServerSession(state["data"], session_id, cookie_key, secret, state["kind"], stored=True)
            session.absolute_expiry = state["absolute_expiry"]
            session.modified = False
            # Touch so the idle timeout counts from now: a new sealed payload, the clear row unchanged.
            sealed = _seal(cookie_key, row_id, _state(session, now + self._idle(app, session.kind)))
            connection.execute(_TOUCH, {"digest": row_id, "new_sealed": sealed})
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
        if session.light and not session.left_files and not session.previous_id:
            # Every answer re-seals the deadlines: the idle time counts from this request.
            now = clock.now()
            if session.absolute_expiry is None:
                session.absolute_expiry = (now + self._lifetime(app, session.kind)).isoformat()
            deadlines = {"idle_until": (now + self._idle(app, session.kind)).isoformat(),
                         "absolute_expiry": session.absolute_expiry,
                         "kind": session.kind if session.secret is not None else "anonymous"}
            stamp = _seal_deadlines(self._light_key(app), session.session_id, session.cookie_key, deadlines)
            self._set_cookie(response, f"{session.session_id}.{session.cookie_key}.{stamp}", secure)
            return
        with self.session_factory() as db:
            if session.left_files:
                kept_files.forget(db, session.left_files)
                db.commit()
                session.left_files = []
            if session.previous_id:
                db.execute(delete(WebSession).where(WebSession.id_digest == _digest(session.previous_id)))
                db.commit()
                session.previous_id = None
            if session.light:
                # Light again after files or a previous session were let go: still no row.
                db.commit()
                return self._save(app, session, response)
            if not session and session.secret is None:
                if session.session_id and session.stored:
                    db.execute(delete(WebSession).where(WebSession.id_digest == _digest(session.session_id)))
                    db.commit()
                if COOKIE_NAME in request.cookies:
                    response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="Strict")
                return
            if session.stored and not session.modified:
                return
            now = clock.now()
            if not session.stored or not session.session_id:
                # A light session promoted, or one regenerated: a new id and key either way, so a
                # cookie someone planted (its id and key known to them) never names a stored session.
                # New stored sessions clear out expired ones now and then: no job needed,
                # the table stays small, and a promotion writes one row only.
                if next(self.new_sessions) % CLEAN_ONE_IN == 0:
                    _delete_expired(db, now)
                session.session_id, session.cookie_key = _token(), _token()
                session.stored = True
                # A promoted light session keeps the deadline it began with.
                session.absolute_expiry = (session.absolute_expiry
                                           or (now + self._lifetime(app, session.kind)).isoformat())
                row = WebSession(id_digest=_digest(session.session_id), data="",
                                 expires_at=_deletable_from(now, max(self._lifetime(app, "user"),
                                                                       self._lifetime(app, "reporter"))))
                row.absolute_expiry = row.expires_at
                db.add(row)
            else:
                row = db.get(WebSession, _digest(session.session_id))
                if row is None:
                    return
            # The kind in clear says only "someone is signed in" or not, never who or when.
            row.kind = "user" if session.kind == "user" else "anonymous"
            idle_until = now + self._idle(app, session.kind)
            row.sealed = _seal(session.cookie_key, row.id_digest, _state(session, idle_until))
            db.commit()
        self._set_cookie(response, f"{session.session_id}.{session.cookie_key}", secure)

    def _set_cookie(self, response, value, secure):
        response.set_cookie(COOKIE_NAME, value, httponly=True, secure=secure, samesite="Strict", path="/")


@functools.lru_cache(maxsize=8)
def _deadlines_key(secret: bytes) -> bytes:
    """The key light sessions' deadlines are sealed under, derived from the instance's secret."""
    return HKDF(hashes.SHA256(), 32, None, b"portal light session deadlines").derive(secret)


def _deletable_from(now: datetime, longest_lifetime: timedelta) -> datetime:
    """Midnight UTC of a day by which every session begun today has ended.

    It depends on the day alone, so the clear row says nothing finer about
    when the session began or was last used.
    """
    days = longest_lifetime.days + (1 if longest_lifetime % timedelta(days=1) else 0) + 1
    return datetime.combine(now.date() + timedelta(days=days), time(), tzinfo=UTC)


def _moment(text: str) -> datetime:
    return clock.as_utc(datetime.fromisoformat(text))


def _state(session: "ServerSession", idle_until: datetime) -> dict:
    return {
        "data": dict(session),
        "secret": base64.b64encode(session.secret).decode("ascii") if session.secret is not None else None,
        "kind": session.kind,
        "idle_until": idle_until.isoformat(),
        "absolute_expiry": session.absolute_expiry,
    }


def _seal(cookie_key: str, row_id: bytes, state: dict) -> bytes:
    # The row's id is bound in, so a payload moved to another row does not open.
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(_key(cookie_key)).encrypt(nonce, json.dumps(state).encode("utf-8"), row_id)


def _unseal(cookie_key: str, row_id: bytes, sealed: bytes | None) -> dict:
    if not sealed:
        raise ValueError("no sealed state")
    return json.loads(ChaCha20Poly1305(_key(cookie_key)).decrypt(sealed[:12], sealed[12:], row_id))


def _seal_deadlines(key: bytes, session_id: str, cookie_key: str, deadlines: dict) -> str:
    # Bound to the id and key: deadlines cut from one light cookie do not fit another.
    nonce = os.urandom(12)
    sealed = nonce + ChaCha20Poly1305(key).encrypt(nonce, json.dumps(deadlines).encode("utf-8"),
                                                    f"{session_id}.{cookie_key}".encode("ascii"))
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def _unseal_deadlines(key: bytes, session_id: str, cookie_key: str, sealed: bytes) -> dict:
    bound = f"{session_id}.{cookie_key}".encode("ascii")
    return json.loads(ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], bound))


def _delete_expired(db, now) -> int:
    # By the day in clear alone, a range of its index. A session past its precise
    # idle or absolute expiry is refused (and deleted) when it comes back; one that
    # never comes back stays, sealed and unreadable, until its day has passed.
    # Files kept for a form go by their own day too (their keys were in the sessions).
    kept_files.purge(db)
    return db.execute(delete(WebSession).where(WebSession.expires_at < now)).rowcount
