"""The audit trail: append-only, each entry chained to the one before.

Only handlers' actions are recorded, with codes and ids (and, for an
administrator's change, the names of the people, facilities and rules it
touched): never content and nothing about a reporter. ``verify`` finds any edited, deleted or cut entry.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import false, func, select, update

from ..models import AuditEntry, AuditHead
from . import clock

GENESIS = bytes(32)
ACTIONS = (
    "login", "login_failed", "logout", "view", "download", "preview", "message", "note", "status",
    "handover_add", "handover_remove", "export", "account_created", "account_activated",
    "identity_reset", "readmit", "recovery_assign", "passphrase_changed", "recovery_codes_renewed", "disclosure_import", "partner", "forward",
    "bundle_received", "retention", "account_deactivated", "account_reactivated", "account_changed",
    "escalation_step", "escalation_corrected", "escalation_due", "conflict_block", "conflict_unblock",
    "conflict_key_removed", "authority_notified",
    "rule_created", "rule_changed", "rule_moved", "rule_deleted", "conflict_declared", "conflict_removed",
    "settings_changed", "reopen", "reply_template_saved", "reply_template_removed", "case_export",
    "text_search", "registry_export", "lead_changed", "finding", "corrective_action", "corrective_action_state",
    "exchange", "forwards_rewrap", "poster_download", "translation_overridden", "report_entered",
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
    # A staff member's action keeps its time; an action of nobody (a report forwarded as it arrives,
    # a bundle received, retention) keeps its day only, as it may fall when a worker wrote.
    at = clock.now() if actor_id is not None else clock.start_of_today()
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


@dataclass(frozen=True)
class Query:
    """What someone looks for in the trail; every part optional."""

    actor_id: int | None = None
    case_id: int | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    # Only entries of these cases (the contracting authority's view); None: the whole trail.
    case_ids: frozenset[int] | None = None


def search(session, query: Query, limit: int = 100, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """The newest entries first, and how many match in all."""
    conditions = []
    if query.actor_id is not None:
        conditions.append(AuditEntry.actor_user_id == query.actor_id)
    if query.case_id is not None:
        conditions.append(AuditEntry.case_id == query.case_id)
    if query.case_ids is not None:
        conditions.append(AuditEntry.case_id.in_(sorted(query.case_ids)) if query.case_ids else false())
    if query.action:
        conditions.append(AuditEntry.action == query.action)
    if query.since:
        conditions.append(AuditEntry.at >= _midnight(query.since))
    if query.until:
        conditions.append(AuditEntry.at < _midnight(query.until + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    entries = session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                              .limit(limit).offset(offset)).all()
    return list(entries), total


def actors_of(session, case_ids) -> set[int]:
    """Who has entries about these cases."""
    if not case_ids:
        return set()
    return set(session.scalars(select(AuditEntry.actor_user_id).distinct().where(
        AuditEntry.case_id.in_(sorted(case_ids)), AuditEntry.actor_user_id.is_not(None))))


def export_rows(session):
    """Every entry in the chain's order, as plain values, for `portal audit export`."""
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        yield {"id": entry.id, "at": clock.as_utc(entry.at).isoformat(), "actor_user_id": entry.actor_user_id,
               "action": entry.action, "case_id": entry.case_id, "detail": entry.detail,
               "digest": entry.digest.hex()}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
