"""The audit trail: append-only, each entry chained to the one before.

Only handlers' actions are recorded, with codes and ids: never content and
nothing about a reporter. ``verify`` finds any edited, deleted or cut entry.
"""

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select, update

from ..models import AuditEntry, AuditHead
from . import clock

GENESIS = bytes(32)
ACTIONS = (
    "login", "login_failed", "logout", "view", "download", "message", "note", "status",
    "handover_add", "handover_remove", "export", "account_created", "account_activated",
    "identity_reset", "readmit", "recovery_assign", "passphrase_changed", "disclosure_import", "partner", "forward",
    "bundle_received", "retention", "account_deactivated", "account_reactivated", "account_changed",
    "escalation_step", "escalation_corrected", "escalation_due",
)


def _digest(previous: bytes, at, actor, action, case_id, detail) -> bytes:
    fields = json.dumps(
        [clock.as_utc(at).isoformat(), actor, action, case_id, detail],
        ensure_ascii=True, separators=(",", ":"),
    ).encode()
    return hashlib.sha256(previous + fields).digest()


def _locked_head(session) -> AuditHead:
    # A write to the head row first: it takes the row lock (PostgreSQL) or the
    # write lock (SQLite), so concurrent writers append one after the other.
    locked = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(entries=AuditHead.entries)
    ).rowcount
    if not locked:
        session.add(AuditHead(id=1, digest=GENESIS, entries=0))
        session.flush()
    return session.get(AuditHead, 1, populate_existing=True)


def record(session, action: str, actor=None, case_id: int | None = None, detail: dict | None = None,
           *, commit: bool = True) -> AuditEntry:
    """Append an entry in the session's transaction (committed unless ``commit`` is false)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    actor_id = getattr(actor, "id", actor)
    text = json.dumps(detail or {}, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    head = _locked_head(session)
    at = clock.now()
    entry = AuditEntry(at=at, actor_user_id=actor_id, action=action, case_id=case_id, detail=text,
                       previous_digest=head.digest,
                       digest=_digest(head.digest, at, actor_id, action, case_id, text))
    session.add(entry)
    head.digest = entry.digest
    head.entries += 1
    if commit:
        session.commit()
    return entry


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    head: bytes
    problem: str = ""


def verify(session) -> Verdict:
    previous = GENESIS
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.previous_digest != previous:
            return Verdict(False, count, previous,
                           f"entry {entry.id}: the entry before it was deleted or edited")
        expected = _digest(previous, entry.at, entry.actor_user_id, entry.action, entry.case_id, entry.detail)
        if expected != entry.digest:
            return Verdict(False, count, previous, f"entry {entry.id} was edited")
        previous = entry.digest
        count += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.digest != previous or head.entries != count):
        return Verdict(False, count, previous, "entries were removed from the end of the trail")
    return Verdict(True, count, previous)
