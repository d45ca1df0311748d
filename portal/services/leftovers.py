"""Leftovers of an upgrade: rows stored the old way (receipts without check codes, recovery codes
hashed with Argon2id) that a path anyone can flood must still honour while any remain.

Asking the database on every request would cost what those paths refuse cheaply, so each process
remembers the answer per database engine for a few seconds; once none is left it never asks again,
since nothing stores such rows any more.
"""

import time
import weakref

RECHECK_SECONDS = 10
_known = weakref.WeakKeyDictionary()


def remain(session, name: str, query) -> bool:
    """Whether ``query`` (a select of the old rows named ``name``) finds any."""
    known = _known.setdefault(session.get_bind(), {})
    until = known.get(name)
    if until is False:
        return False
    if until is not None and until > time.monotonic():
        return True
    found = session.scalar(query.limit(1)) is not None
    known[name] = time.monotonic() + RECHECK_SECONDS if found else False
    return found
