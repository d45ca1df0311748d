"""The instance: its shared secrets and the organisation's recovery key."""

import os
import weakref
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

import crypto

from ..models import Instance
from . import clock


class NotInitialised(RuntimeError):
    """The database has no instance row: ``portal init`` has not run."""


def initialise(session, organisation_name: str, post_quantum: bool = True, keep_recovery=None):
    """Create the instance row and return the recovery identity, to be taken offline.

    The recovery identity is returned once and never stored. ``keep_recovery(identity)``
    runs before anything is committed: if it fails, there is no instance whose cases
    would be encrypted to a key nobody has.
    """
    if session.scalar(select(Instance)) is not None:
        raise RuntimeError("this instance is already initialised")
    recovery = crypto.generate_identity(pq=post_quantum)
    if keep_recovery is not None:
        keep_recovery(recovery)
    session.add(
        Instance(
            id=1,
            receipt_salt=os.urandom(32),
            secret_key=os.urandom(64),
            recovery_recipient=str(recovery.recipient),
            organisation_name=organisation_name,
            created_at=clock.now(),
            signing_key=_new_signing_key(),
            post_quantum=post_quantum,
        )
    )
    session.commit()
    return recovery


# The row read once per transaction: one request needs it for the receipt, the recipients
# and the choices offered. The identity map alone keeps it only while something refers to it.
_HELD = "portal.instance"
# Built once: every request that reads the row runs it, and a prepared statement costs less
# than session.get(), which builds its query anew each time.
_THE_INSTANCE = select(Instance).where(Instance.id == 1)


def load(session) -> Instance:
    instance = session.info.get(_HELD)
    if instance is None:
        instance = session.scalar(_THE_INSTANCE)
        if instance is None:
            raise NotInitialised("the database is not initialised: run `portal init` first")
        session.info[_HELD] = instance
    return instance


@dataclass(frozen=True)
class Secrets:
    """What ``portal init`` drew for good: the instance secret, the receipt salt, the key type."""

    secret_key: bytes
    receipt_salt: bytes
    post_quantum: bool


_secrets = weakref.WeakKeyDictionary()


def secrets(session) -> Secrets:
    """The instance's secrets, read once per database engine: nothing changes them after ``portal init``.

    A flood of wrong receipts is refused with them and no database read.
    """
    engine = session.get_bind()
    found = _secrets.get(engine)
    if found is None:
        instance = load(session)
        found = _secrets[engine] = Secrets(instance.secret_key, instance.receipt_salt, instance.post_quantum)
    return found


@event.listens_for(Session, "after_transaction_end")
def _let_go(session, transaction) -> None:
    # Read again in the next transaction: another request or node may have changed it.
    if transaction.parent is None:
        session.info.pop(_HELD, None)


def new_identity(session):
    """A fresh identity of this instance's key type (hybrid unless chosen otherwise at init)."""
    return crypto.generate_identity(pq=load(session).post_quantum)


def signing_key(session) -> bytes:
    """The instance's Ed25519 private key (raw bytes), which ``signing`` signs with."""
    instance = load(session)
    if instance.signing_key is None:
        # An instance made before forwarding existed: the first node to need a key makes it.
        session.execute(update(Instance).where(Instance.id == instance.id, Instance.signing_key.is_(None))
                        .values(signing_key=_new_signing_key()))
        session.commit()
        session.refresh(instance)
    return instance.signing_key


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
