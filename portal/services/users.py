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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, update
from zxcvbn import zxcvbn

import crypto

from ..models import ROLES, Case, Keyholder, RecoveryCode, User
from . import (
    admin_changes,
    audit,
    clock,
    conflicts,
    leftovers,
    notifications,
    routing,
    throttle,
    typed_text,
    work_slots,
)
from . import instance as instance_service
from .refusal import Refusal

_HASHER = PasswordHasher()
# scrypt work factor sealing a user's identity to their passphrase (2**18: ~256 MiB).
IDENTITY_WORK_FACTOR = 18
ACTIVATION_DAYS = 7
RECOVERY_CODES = 10
RECOVERY_DIGEST_PREFIX = "hmac-sha256:"
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = timedelta(minutes=15)
_TOTP_STEP = 30
# Checked when an account has no TOTP secret, so the time is the same as for one that has.
_DUMMY_TOTP_SECRET = "A" * 32


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
    step = _totp_step(user.totp_secret, code, user.totp_last_step) if user.totp_secret else None
    if step is None or not _claim_totp_step(session, user, step):
        raise AccountError("totp")
    codes = _replace_recovery_codes(session, user)
    user.activation_digest = None
    user.activation_expires = None
    audit.record(session, "account_activated", user, detail={"user": user.id}, commit=False)
    session.commit()
    return codes


def renew_recovery_codes(session, user: User, passphrase: str) -> list[str]:
    """Ten new recovery codes in place of the user's old ones (used or not), after their passphrase.

    The owner of an account that someone keeps locking uses a code at each log-in: here they get
    new ones. The passphrase is checked under the same budget as changing it.
    """
    _check_current_passphrase(session, user, passphrase)
    codes = _replace_recovery_codes(session, user)
    audit.record(session, "recovery_codes_renewed", user, commit=False)
    session.commit()
    return codes


def _replace_recovery_codes(session, user: User) -> list[str]:
    """New one-time codes for ``user`` (not committed), shown grouped as XXXX-XXXX-XXXX."""
    codes = [base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=")[:12] for _ in range(RECOVERY_CODES)]
    session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    for code_text in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_digest(session, user.id, code_text)))
    return [f"{c[:4]}-{c[4:8]}-{c[8:]}" for c in codes]


def _recovery_digest(session, user_id: int, text: str) -> str:
    """A recovery code as stored: a keyed HMAC, checked in microseconds.

    A code carries 60 random bits, too many to guess even at HMAC speed, and whoever holds the
    database holds the authenticator secrets too: Argon2id here would protect nothing more, and
    made every recovery-shaped log-in attempt cost ten of them (a flood's lever on the CPU).
    """
    key = _recovery_key(instance_service.secrets(session).secret_key)
    return RECOVERY_DIGEST_PREFIX + hmac.new(key, f"{user_id}:{text}".encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=8)
def _recovery_key(secret_key: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, None, b"portal recovery code").derive(secret_key)


def _totp_digits(code: str) -> str | None:
    code = "".join(ch for ch in typed_text.ascii_digits(code or "") if ch in "0123456789")
    return code if len(code) == 6 else None


def _recovery_text(code: str) -> str | None:
    code = "".join(ch for ch in typed_text.ascii_digits(code or "").upper() if ch.isalnum())
    return code if len(code) == 12 else None


def _totp_step(secret: str, code: str, last_step: int) -> int | None:
    """The step (this one or a neighbour) whose code ``code`` is, if not one already used."""
    digits = _totp_digits(code)
    totp = pyotp.TOTP(secret)
    now_step = int(clock.now().timestamp()) // _TOTP_STEP
    found = None
    # All three are compared whatever the code, so the time says nothing about it.
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits or "") and step > last_step and found is None:
            found = step
    return found


def _claim_totp_step(session, user: User, step: int) -> bool:
    """Mark ``step`` used, atomically: of parallel requests with one code, exactly one wins.

    The conditional UPDATE waits for any other writer of the row and then tests its
    condition again (SQLite has one writer; PostgreSQL re-reads the row at read committed),
    so a second request sees the step taken and changes nothing.
    """
    return session.execute(
        update(User).where(User.id == user.id, User.totp_last_step < step).values(totp_last_step=step)
    ).rowcount == 1


def _recovery_code_matching(session, user: User | None, code: str) -> int | None:
    """The id of the user's unused recovery code ``code`` is, if any.

    The same work whoever the user is and whichever code matches: one HMAC compared with each
    unused code, and, while codes stored before they were keyed remain anywhere on the instance,
    RECOVERY_CODES Argon2id checks (the user's old codes, then a dummy hash).
    """
    text = _recovery_text(code) or ""
    stored = [] if user is None else session.execute(
        select(RecoveryCode.id, RecoveryCode.code_hash)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all()
    digest = _recovery_digest(session, user.id if user is not None else 0, text)
    found = None
    keyed = [(code_id, code_hash) for code_id, code_hash in stored if code_hash.startswith(RECOVERY_DIGEST_PREFIX)]
    for code_id, code_hash in keyed:
        if hmac.compare_digest(code_hash, digest) and found is None:
            found = code_id
    if _argon2_recovery_codes_remain(session):
        hashed = [row for row in stored if not row[1].startswith(RECOVERY_DIGEST_PREFIX)]
        hashed += [(None, _dummy_hash())] * (RECOVERY_CODES - len(hashed))
        for code_id, code_hash in hashed:
            if _verifies(code_hash, text) and code_id is not None and found is None:
                found = code_id
    return found


def _argon2_recovery_codes_remain(session) -> bool:
    return leftovers.remain(session, "argon2 recovery codes", select(RecoveryCode.id).where(
        RecoveryCode.used_at.is_(None), ~RecoveryCode.code_hash.startswith(RECOVERY_DIGEST_PREFIX)))


def _claim_recovery_code(session, code_id: int) -> bool:
    """Mark the recovery code used, atomically (as ``_claim_totp_step``)."""
    return session.execute(
        update(RecoveryCode).where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
    ).rowcount == 1


def _verifies(passphrase_hash: str | None, secret: str) -> bool:
    """One Argon2id check, against the dummy hash when there is no real one (the same work).

    Done in the log-in pool (``work_slots``): a flood of log-ins waits there, at a lower
    priority, instead of taking the CPU from the reporters' pages; raises ``work_slots.Busy``.
    """
    return work_slots.run(work_slots.LOGIN, _argon2_matches, passphrase_hash or _dummy_hash(), secret) \
        and passphrase_hash is not None


def _argon2_matches(stored_hash: str, secret: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def _login_budget(username: str) -> str:
    # A digest: any length fits the column, and the table holds no typed names.
    return "login:" + hashlib.sha256(username.encode()).hexdigest()[:40]


def authenticate(session, username: str, passphrase: str, code: str) -> Login:
    """Username, passphrase and a TOTP (or recovery) code: the unlocked identity, or AccountError.

    The attempt is taken from the account's budget before anything is checked, and given back
    when it succeeds. Once the budget is used up, only the passphrase with a recovery code gets
    in: the owner is not locked out by someone else's guesses. Whatever is right or wrong, the
    same checks run (one Argon2id for the passphrase, in the log-in pool, three TOTP codes, and
    for a code shaped like a recovery code one HMAC per unused code): only a full success costs
    more, unlocking the identity, and that the answer tells anyway. When the log-in pool stays
    busy, ``work_slots.Busy`` is raised and the attempt given back.
    """
    username = (username or "").strip().lower()
    budget = _login_budget(username)
    spent_at = clock.now()
    within_budget = throttle.spend(session, budget, LOGIN_ATTEMPTS, spent_at, window=LOGIN_WINDOW)
    recovery = _recovery_text(code) is not None
    if not within_budget and not recovery:
        raise AccountError("throttled", minutes=int(LOGIN_WINDOW.total_seconds() // 60))
    user = session.scalar(select(User).where(User.username == username))
    usable = bool(user is not None and user.active and user.passphrase_hash and user.activation_digest is None)
    try:
        passphrase_right = _verifies(user.passphrase_hash if usable else None, passphrase or "")
        code_id = _recovery_code_matching(session, user if usable else None, code) if recovery else None
    except work_slots.Busy:
        # Nothing was decided: the attempt goes back, and the sender is asked to try again.
        if within_budget:
            throttle.give_back(session, budget, spent_at)
        raise
    if recovery:
        code_right = code_id is not None
    else:
        step = _totp_step(user.totp_secret if usable and user.totp_secret else _DUMMY_TOTP_SECRET, code,
                          user.totp_last_step if usable else 0)
        code_right = usable and bool(user.totp_secret) and step is not None
    if usable and passphrase_right and code_right:
        # Claimed last: a code is spent only by a log-in that passes, and only once.
        won = _claim_recovery_code(session, code_id) if recovery else _claim_totp_step(session, user, step)
    else:
        won = False
    if not won:
        if user is not None:
            audit.record(session, "login_failed", user, commit=False)
        session.commit()
        if not within_budget:
            raise AccountError("throttled", minutes=int(LOGIN_WINDOW.total_seconds() // 60))
        raise AccountError("credentials")
    try:
        identity = unlock_identity(user, passphrase)
    except crypto.AgeError:
        session.commit()
        raise AccountError("identity") from None
    audit.record(session, "login", user, commit=False)
    session.commit()
    if within_budget:
        # Only failures count; a recovery-code log-in past the limit leaves the others' failures counted.
        throttle.give_back(session, budget, spent_at)
    return Login(user, identity)


def unlock_identity(user: User, passphrase: str):
    """The user's identity, opened with their passphrase (raises ``crypto.AgeError``)."""
    return crypto.parse_identity(crypto.decrypt_with_passphrase(user.sealed_identity, passphrase).decode())


def change_passphrase(session, user: User, identity, old: str, new: str,
                      work_factor: int = IDENTITY_WORK_FACTOR) -> None:
    """Re-seal the same identity to a new passphrase; cases need no change.

    Checking the current passphrase has a budget like log-in's (the account's own, so that
    a stolen session guessing it cannot lock its owner out of logging in, nor the reverse).
    """
    _check_current_passphrase(session, user, old)
    check_strength(new, user.username, user.display_name)
    user.passphrase_hash = _HASHER.hash(new)
    user.sealed_identity = _seal(identity, new, work_factor)
    audit.record(session, "passphrase_changed", user, commit=False)
    session.commit()


def set_reminder_digest(session, user: User, digest: bool) -> None:
    """Deadline reminders as one digest e-mail a day (``digest``), or one e-mail each."""
    if user.reminder_digest != bool(digest):
        user.reminder_digest = bool(digest)
        audit.record(session, "account_changed", user, detail={"user": user.id, "reminder_digest": bool(digest)},
                     commit=False)
    session.commit()


def _check_current_passphrase(session, user: User, passphrase: str) -> None:
    """A signed-in user's passphrase, checked under the account's own budget (or AccountError)."""
    budget = f"passphrase-check:{user.id}"
    spent_at = clock.now()
    if not throttle.spend(session, budget, LOGIN_ATTEMPTS, spent_at, window=LOGIN_WINDOW):
        raise AccountError("throttled", minutes=int(LOGIN_WINDOW.total_seconds() // 60))
    try:
        right = _verifies(user.passphrase_hash, passphrase or "")
    except work_slots.Busy:
        throttle.give_back(session, budget, spent_at)
        raise
    if not right:
        raise AccountError("credentials")
    throttle.give_back(session, budget, spent_at)


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
