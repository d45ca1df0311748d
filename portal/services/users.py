"""People of the secure inbox: invitation, activation, log-in and their keys.

A user's age identity is sealed (scrypt) to their passphrase. The passphrase
hash (Argon2id) only checks the passphrase; the identity is opened separately,
so neither the hash nor the database alone opens a case.
"""

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from zxcvbn import zxcvbn

import crypto

from ..models import ROLES, Case, Keyholder, RecoveryCode, User
from . import admin_changes, audit, clock, conflicts, notifications, routing, throttle, typed_text
from . import instance as instance_service
from .refusal import Refusal

_HASHER = PasswordHasher()
# scrypt work factor sealing a user's identity to their passphrase (2**18: ~256 MiB).
IDENTITY_WORK_FACTOR = 18
ACTIVATION_DAYS = 7
RECOVERY_CODES = 10
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = timedelta(minutes=15)
_TOTP_STEP = 30
@functools.cache
def _dummy_hash() -> str:
    """The hash checked when a username is unknown, so timing does not tell (made once, when needed)."""
    return _HASHER.hash("not a real passphrase")


class AccountError(Refusal):
    """A log-in, activation or passphrase the account refuses."""


@dataclass(frozen=True)
class Login:
    user: User
    identity: object


def _digest(token: str) -> bytes:
    return hashlib.sha256(b"activation:" + token.encode()).digest()


def _seal(identity, passphrase: str, work_factor: int) -> bytes:
    return crypto.encrypt_with_passphrase(str(identity).encode("ascii"), passphrase, work_factor=work_factor)


def check_strength(passphrase: str, *hints: str) -> None:
    """Long and hard to guess, judged by zxcvbn with the user's own names as hints."""
    if len(passphrase) < 12:
        raise AccountError("passphrase_short")
    if zxcvbn(passphrase[:100], user_inputs=[h for h in hints if h])["score"] < 3:
        raise AccountError("passphrase_weak")


def create(session, username: str, display_name: str, role: str, passphrase: str, *,
           default_recipient: bool = False, work_factor: int = IDENTITY_WORK_FACTOR,
           email: str | None = None, totp_secret: str | None = None) -> User:
    """An active user with a fresh hybrid identity (for the demo, tests and scripts)."""
    user = _new_user(session, username, display_name, role, email, default_recipient)
    identity = instance_service.new_identity(session)
    user.passphrase_hash = _HASHER.hash(passphrase)
    user.recipient = str(identity.recipient)
    user.sealed_identity = _seal(identity, passphrase, work_factor)
    user.totp_secret = totp_secret
    session.add(user)
    session.commit()
    return user


def _new_user(session, username, display_name, role, email, default_recipient) -> User:
    if role not in ROLES:
        raise AccountError("role")
    username = username.strip().lower()
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise AccountError("username")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError("username_taken")
    return User(username=username, display_name=display_name.strip() or username, role=role,
                email=(email or "").strip() or None, default_recipient=default_recipient, active=True,
                created_at=clock.now())


def invite(session, actor, username: str, display_name: str, role: str, email: str | None = None,
           default_recipient: bool = False, activation_link=None) -> tuple[User, str]:
    """A new account without passphrase or key; returns it and its one-time activation token.

    With ``activation_link(token)``, the link goes by e-mail to the account's own address and to
    nobody else: an administrator never holds it, so cannot activate the account as its owner.
    """
    if activation_link is not None and not (email or "").strip():
        raise AccountError("email_missing")
    user = _new_user(session, username, display_name, role, email, default_recipient)
    token = _start_activation(user)
    session.add(user)
    session.flush()
    if activation_link is not None:
        notifications.queue_activation(session, user, activation_link(token))
    audit.record(session, "account_created", actor, detail={"user": user.id, "role": role}, commit=False)
    session.commit()
    return user, token


def _start_activation(user: User) -> str:
    token = secrets.token_urlsafe(32)
    user.activation_digest = _digest(token)
    user.activation_expires = clock.now() + timedelta(days=ACTIVATION_DAYS)
    return token


def reset_identity(session, actor, user: User, activation_link=None) -> str:
    """For a lost passphrase: the user activates again and gets a new identity.

    The old identity is gone with the passphrase; the recovery key holder then
    re-admits the new one to the user's cases (``portal recovery readmit``).
    With ``activation_link(token)``, the new link goes only to the account's own e-mail.
    """
    if activation_link is not None and not user.email:
        raise AccountError("email_missing")
    token = _start_activation(user)
    user.passphrase_hash = None
    user.sealed_identity = None
    user.totp_secret = None
    user.totp_last_step = 0
    session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    # Whoever holds a session of this account now is not the person who lost the passphrase.
    user.session_epoch += 1
    if activation_link is not None:
        notifications.queue_activation(session, user, activation_link(token))
    audit.record(session, "identity_reset", actor, detail={"user": user.id}, commit=False)
    session.commit()
    return token


def by_activation_token(session, token: str) -> User | None:
    user = session.scalar(select(User).where(User.activation_digest == _digest(token or "")))
    if user is None or clock.as_utc(user.activation_expires) < clock.now():
        return None
    return user


def set_passphrase_and_identity(session, user: User, passphrase: str,
                                work_factor: int = IDENTITY_WORK_FACTOR) -> str:
    """Activation, first step: passphrase and a new identity; returns a TOTP secret to enrol."""
    check_strength(passphrase, user.username, user.display_name)
    had_identity = user.recipient is not None
    identity = instance_service.new_identity(session)
    user.passphrase_hash = _HASHER.hash(passphrase)
    user.recipient = str(identity.recipient)
    user.sealed_identity = _seal(identity, passphrase, work_factor)
    user.awaiting_readmission = had_identity or user.awaiting_readmission
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = 0
    session.commit()
    return user.totp_secret


def totp_uri(user: User, issuer: str) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=issuer)


def confirm_totp(session, user: User, code: str) -> list[str]:
    """Activation, last step: a correct code ends it; returns one-time recovery codes."""
    if not user.totp_secret or not _totp_matches(user, code):
        raise AccountError("totp")
    codes = [base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=")[:12] for _ in range(RECOVERY_CODES)]
    session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    for code_text in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_HASHER.hash(code_text)))
    user.activation_digest = None
    user.activation_expires = None
    audit.record(session, "account_activated", user, detail={"user": user.id}, commit=False)
    session.commit()
    return [f"{c[:4]}-{c[4:8]}-{c[8:]}" for c in codes]


def _totp_matches(user: User, code: str) -> bool:
    """A code of this step or a neighbour, never one already used."""
    code = "".join(ch for ch in typed_text.ascii_digits(code) if ch in "0123456789")
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now_step = int(clock.now().timestamp()) // _TOTP_STEP
    for step in (now_step - 1, now_step, now_step + 1):
        if step > user.totp_last_step and hmac.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


def _recovery_code_matches(session, user: User, code: str) -> bool:
    code = "".join(ch for ch in typed_text.ascii_digits(code).upper() if ch.isalnum())
    if len(code) != 12:
        return False
    for stored in session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ):
        try:
            _HASHER.verify(stored.code_hash, code)
        except (VerificationError, InvalidHashError):
            continue
        stored.used_at = clock.now()
        return True
    return False


def authenticate(session, username: str, passphrase: str, code: str) -> Login:
    """Username, passphrase and a TOTP (or recovery) code: the unlocked identity, or AccountError."""
    username = (username or "").strip().lower()
    budget = f"login:{username}"
    if throttle.used_up(session, budget, LOGIN_ATTEMPTS, LOGIN_WINDOW):
        raise AccountError("throttled", minutes=int(LOGIN_WINDOW.total_seconds() // 60))
    user = session.scalar(select(User).where(User.username == username))
    usable = user is not None and user.active and user.passphrase_hash and user.activation_digest is None
    try:
        _HASHER.verify(user.passphrase_hash if usable else _dummy_hash(), passphrase or "")
    except (VerificationError, InvalidHashError):
        usable = False
    if not usable or not (_totp_matches(user, code) or _recovery_code_matches(session, user, code)):
        _failed(session, user, budget)
        raise AccountError("credentials")
    try:
        identity = unlock_identity(user, passphrase)
    except crypto.AgeError:
        raise AccountError("identity") from None
    audit.record(session, "login", user, commit=False)
    session.commit()
    return Login(user, identity)


def _failed(session, user, budget: str) -> None:
    # Only failures count against the account's budget of attempts.
    throttle.spend(session, budget, LOGIN_ATTEMPTS, window=LOGIN_WINDOW)
    if user is not None:
        audit.record(session, "login_failed", user, commit=False)
    session.commit()


def unlock_identity(user: User, passphrase: str):
    """The user's identity, opened with their passphrase (raises ``crypto.AgeError``)."""
    return crypto.parse_identity(crypto.decrypt_with_passphrase(user.sealed_identity, passphrase).decode())


def change_passphrase(session, user: User, identity, old: str, new: str,
                      work_factor: int = IDENTITY_WORK_FACTOR) -> None:
    """Re-seal the same identity to a new passphrase; cases need no change."""
    try:
        _HASHER.verify(user.passphrase_hash, old)
    except (VerificationError, InvalidHashError):
        raise AccountError("credentials") from None
    check_strength(new, user.username, user.display_name)
    user.passphrase_hash = _HASHER.hash(new)
    user.sealed_identity = _seal(identity, new, work_factor)
    audit.record(session, "passphrase_changed", user, commit=False)
    session.commit()


def deactivate(session, actor: User, user: User) -> list[int]:
    """Close an account: its sessions end at once, routing and hand-over pass it by, and its
    cases stay with their other active holders. Returns the ids of cases it was the last active
    holder of: each raises an alert, for the recovery ceremony to give it to someone."""
    if user.id == actor.id:
        raise AccountError("self")
    if not user.active:
        raise AccountError("inactive")
    if user.role == "administrator" and _other_active_administrators(session, user) == 0:
        raise AccountError("last_administrator")
    readers_before = routing.readers(session)
    user.active = False
    user.session_epoch += 1
    orphaned = []
    for holding in session.scalars(select(Keyholder).where(Keyholder.user_id == user.id)).all():
        # A holder whom a conflict of interest bars from the case does not keep it open.
        others = session.scalar(select(func.count()).select_from(Keyholder).join(User, User.id == Keyholder.user_id)
                                .join(Case, Case.id == Keyholder.case_id)
                                .where(Keyholder.case_id == holding.case_id, Keyholder.user_id != user.id,
                                       User.active.is_(True), ~conflicts.holder_conflicted()))
        if others:
            session.delete(holding)
        else:
            # The row stays: its stanza is the only staff key to the case until the ceremony.
            orphaned.append(holding.case_id)
            routing.raise_alert(session, holding.case_id, "no_active_holder", detail=str(user.id))
    session.flush()
    # Closing a rule's only recipient passes its reports to the next rule: that can add readers too.
    admin_changes.record(session, actor, "account_deactivated",
                         {"user": user.id, "name": admin_changes.person(user), "left_to_recovery": orphaned},
                         routing.gained_readers(session, readers_before))
    session.commit()
    return orphaned


def reactivate(session, actor: User, user: User) -> None:
    """Open a closed account again. It gets back no case: cases are handed to it anew."""
    if user.active:
        raise AccountError("active")
    readers_before = routing.readers(session)
    user.active = True
    user.session_epoch += 1
    session.flush()
    admin_changes.record(session, actor, "account_reactivated",
                         {"user": user.id, "name": admin_changes.person(user)},
                         routing.gained_readers(session, readers_before))
    session.commit()


def change(session, actor: User, user: User, *, role: str, email: str | None, default_recipient: bool) -> None:
    """A new role, e-mail address or "receives new cases", audited with what it was before."""
    if role not in ROLES:
        raise AccountError("role")
    if user.id == actor.id and role != user.role:
        raise AccountError("self")
    if user.role == "administrator" and role != "administrator" and _other_active_administrators(session, user) == 0:
        raise AccountError("last_administrator")
    before = {"role": user.role, "default_recipient": user.default_recipient}
    email_changed = (email or None) != user.email
    if before == {"role": role, "default_recipient": default_recipient} and not email_changed:
        session.commit()  # ends the transaction that locked the administrators' rows
        return
    readers_before = routing.readers(session)
    user.role, user.email, user.default_recipient = role, (email or None), default_recipient
    after = {"role": user.role, "default_recipient": user.default_recipient}
    session.flush()
    # The address itself stays out of the trail: the account shows it.
    admin_changes.record(session, actor, "account_changed", {
        "user": user.id, "name": admin_changes.person(user), "before": before, "after": after,
        "email_changed": email_changed}, routing.gained_readers(session, readers_before))
    session.commit()


def _other_active_administrators(session, user: User) -> int:
    """How many active administrators there are besides ``user``.

    Every active administrator's row is locked (in id order) until the transaction
    ends, the account's own included, so two administrators who close or demote each
    other at once take turns: the second sees the first's change and is refused.
    """
    locked = session.scalars(select(User.id).where(User.role == "administrator", User.active.is_(True))
                             .order_by(User.id).with_for_update()).all()
    return len([user_id for user_id in locked if user_id != user.id])
