"""Kept files: cleaned evidence files waiting, sealed, for the next send of a reporter's form.

A form that comes back (a missing answer, an expired page) keeps the files the
worker chose, already cleaned. Each file is sealed with ChaCha20-Poly1305 under
a fresh key that is handed back to the caller and stored nowhere else: the web
layer keeps it in the worker's sealed session, which only their cookie opens.
In clear a row holds a random id and a day from which it may be deleted, the
same for every file kept on one day, never an hour.

Rows go when the form is sent, when the worker leaves or their session ends,
and otherwise by ``purge`` once their day has passed; a row whose key has gone
with its session cannot be opened meanwhile.
"""

import base64
import dataclasses
import json
import os
import struct
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from sqlalchemy import delete

from ..models import KeptFile
from . import clock
from .attachments import CleanFile

# A reporter's session lasts two hours at most: a file kept today is deletable
# from the day after tomorrow, whenever today its session began.
DAYS_KEPT = 1


@dataclasses.dataclass(frozen=True)
class Ticket:
    """What opens one kept file: its row's id and its key (both URL-safe text)."""

    handle: str
    key: str


def keep(session, clean: CleanFile) -> Ticket:
    """Seal ``clean`` in a new row (not committed) and return what opens it."""
    row_id, key = os.urandom(16), ChaCha20Poly1305.generate_key()
    header = {field.name: getattr(clean, field.name) for field in dataclasses.fields(clean) if field.name != "data"}
    plain = json.dumps(header).encode("utf-8")
    nonce = os.urandom(12)
    sealed = nonce + ChaCha20Poly1305(key).encrypt(nonce, struct.pack(">I", len(plain)) + plain + clean.data, row_id)
    session.add(KeptFile(id=row_id, sealed=sealed, deletable_on=clock.today() + timedelta(days=DAYS_KEPT)))
    return Ticket(_text(row_id), _text(key))


def load(session, ticket: Ticket) -> CleanFile | None:
    """The kept file, or None if it has gone (purged, sent from another tab) or does not open."""
    try:
        row_id, key = _bytes(ticket.handle), _bytes(ticket.key)
        row = session.get(KeptFile, row_id)
        if row is None:
            return None
        plain = ChaCha20Poly1305(key).decrypt(row.sealed[:12], row.sealed[12:], row_id)
    except (InvalidTag, ValueError, TypeError):
        return None
    (length,) = struct.unpack(">I", plain[:4])
    header = json.loads(plain[4:4 + length])
    if "steps" in header:
        header["steps"] = tuple(header["steps"])
    return CleanFile(data=plain[4 + length:], **header)


def forget(session, handles) -> None:
    """Delete the kept files ``handles`` (not committed)."""
    ids = []
    for handle in handles:
        try:
            ids.append(_bytes(handle))
        except (ValueError, TypeError):
            continue
    if ids:
        session.execute(delete(KeptFile).where(KeptFile.id.in_(ids)))


def purge(session) -> int:
    """Delete the kept files whose day has passed (not committed); return how many went."""
    return session.execute(delete(KeptFile).where(KeptFile.deletable_on < clock.today())).rowcount


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
