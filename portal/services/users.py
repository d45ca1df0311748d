"""People of the secure inbox and their age identities."""

from argon2 import PasswordHasher
from sqlalchemy import select

import crypto

from ..models import ROLES, User
from . import clock

_HASHER = PasswordHasher()
# scrypt work factor sealing a user's identity to their passphrase (2**18: ~256 MiB).
IDENTITY_WORK_FACTOR = 18


def create(session, username: str, display_name: str, role: str, passphrase: str, *,
           default_recipient: bool = False, work_factor: int = IDENTITY_WORK_FACTOR) -> User:
    """A user with a fresh hybrid identity sealed to ``passphrase``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"the username {username!r} is taken")
    identity = crypto.generate_identity(pq=True)
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        passphrase_hash=_HASHER.hash(passphrase),
        recipient=str(identity.recipient),
        sealed_identity=crypto.encrypt_with_passphrase(
            str(identity).encode("ascii"), passphrase, work_factor=work_factor
        ),
        default_recipient=default_recipient,
        active=True,
        created_at=clock.now(),
    )
    session.add(user)
    session.commit()
    return user


def unlock_identity(user: User, passphrase: str):
    """The user's identity, opened with their passphrase (raises ``crypto.AgeError``)."""
    return crypto.parse_identity(crypto.decrypt_with_passphrase(user.sealed_identity, passphrase).decode())
