"""The instance: its shared secrets and the organisation's recovery key."""

import os

from sqlalchemy import select

import crypto

from ..models import Instance
from . import clock, signing


class NotInitialised(RuntimeError):
    """The database has no instance row: ``portal init`` has not run."""


def initialise(session, organisation_name: str, post_quantum: bool = True):
    """Create the instance row and return the recovery identity, to be taken offline.

    The recovery identity is returned once and never stored.
    """
    if session.scalar(select(Instance)) is not None:
        raise RuntimeError("this instance is already initialised")
    recovery = crypto.generate_identity(pq=post_quantum)
    session.add(
        Instance(
            id=1,
            receipt_salt=os.urandom(32),
            secret_key=os.urandom(64),
            recovery_recipient=str(recovery.recipient),
            organisation_name=organisation_name,
            created_at=clock.now(),
            signing_key=signing.new_private_bytes(),
            post_quantum=post_quantum,
        )
    )
    session.commit()
    return recovery


def load(session) -> Instance:
    instance = session.get(Instance, 1)
    if instance is None:
        raise NotInitialised("the database is not initialised: run `portal init` first")
    return instance


def new_identity(session):
    """A fresh identity of this instance's key type (hybrid unless chosen otherwise at init)."""
    return crypto.generate_identity(pq=load(session).post_quantum)
