"""A case as its keyholders work on it: open it, read it, move it along."""

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

import crypto

from ..db import LARGEST_ID
from ..models import OUTCOMES, Case, CaseItem, Facility, Keyholder, User
from . import audit, clock, conflicts, evidence, inbox, messaging, reply_templates, sms_relay
from .refusal import Refusal

TRANSITIONS = {
    "received": ("acknowledged",),
    "acknowledged": ("investigating", "feedback_given"),
    "investigating": ("feedback_given",),
    "feedback_given": ("investigating", "closed"),
    "closed": (),
}


class CaseError(Refusal):
    """A status change the case cannot make."""


@dataclass(frozen=True)
class Entry:
    item: CaseItem
    author_name: str
    text: str


@dataclass(frozen=True)
class CaseView:
    case: Case
    facility: Facility | None
    report: dict
    thread: list[Entry]
    notes: list[Entry]
    files: list[evidence.File]
    keyholders: list[User]
    # Holders a conflict of interest bars from the case: another holder removes their key.
    conflicted: frozenset[int] = frozenset()


def for_keyholder(session, user_id: int, case_id: int) -> Case | None:
    """The case if ``user_id`` holds its keys and no conflict of interest bars them from it;
    None otherwise (the caller answers 404, or 403 when ``conflicts.bars``)."""
    return session.scalar(
        select(Case).join(Keyholder, Keyholder.case_id == Case.id)
        .where(Case.id == case_id, Keyholder.user_id == user_id, *conflicts.open_to(session, user_id))
    )


def by_reference(session, text: str) -> Case | None:
    """The case a reference such as ``2026-00042`` names (the year must match too)."""
    year, _, number = (text or "").strip().partition("-")
    if not (year.isdigit() and number.isdigit()) or int(number) > LARGEST_ID:
        return None
    case = session.get(Case, int(number))
    return case if case is not None and case.received_on.year == int(year) else None


def references_of(session, case_ids) -> dict[int, str]:
    """Each case's reference (``2026-00042``), by id."""
    if not case_ids:
        return {}
    return {case.id: case.reference for case in session.scalars(select(Case).where(Case.id.in_(case_ids)))}


def keyholders(session, case: Case) -> list[User]:
    return list(session.scalars(
        select(User).join(Keyholder, Keyholder.user_id == User.id)
        .where(Keyholder.case_id == case.id).order_by(User.display_name)
    ))


def open_case(session, user: User, identity, case: Case) -> CaseView:
    """Decrypt the case for a keyholder, mark it read, and record the view."""
    authors = {item.author_user_id for item in case.items if item.author_user_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(authors))).all())
    report, thread, notes, files = {}, [], [], []
    for item in case.items:
        author = names.get(item.author_user_id, "") if item.author == "handler" else ""
        if item.kind == "report":
            report = json.loads(crypto.decrypt(item.blob, identity))
        elif item.kind == "message":
            thread.append(Entry(item, author, crypto.decrypt(item.blob, identity).decode("utf-8")))
        elif item.kind == "note":
            notes.append(Entry(item, author, crypto.decrypt(item.blob, identity).decode("utf-8")))
        elif item.kind == "attachment":
            files.append(evidence.file_of(item, identity))
    holder = session.scalar(select(Keyholder).where(Keyholder.case_id == case.id, Keyholder.user_id == user.id))
    # Everything up to the newest item counted as the reporter's, as the page shows it: on a case a
    # partner forwarded, that is every item the partner's bundles brought (none is the "reporter"'s
    # here), which would otherwise stay unread for ever. A reporter item added since the case row
    # was read is left unread.
    shown = max((i.id for i in case.items), default=0)
    holder.seen_item_id = max(holder.seen_item_id, min(case.last_reporter_item_id, shown))
    audit.record(session, "view", user, case.id, commit=False)
    session.commit()
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    return CaseView(case, facility, report, thread, notes, files, keyholders(session, case),
                    frozenset(conflicts.conflicted_holder_ids(session, case)))


def file_item(session, case: Case, item_id: int) -> CaseItem | None:
    """The stored file ``item_id`` of ``case``, still encrypted; None if the case has no such file."""
    return session.scalar(select(CaseItem).where(
        CaseItem.id == item_id, CaseItem.case_id == case.id, CaseItem.kind == "attachment"))


def attachment(session, user: User, identity, case: Case, item_id: int,
               action: str = "download", detail: dict | None = None) -> tuple[CaseItem, bytes] | None:
    """A file of ``case``, decrypted for its keyholder; the audit trail records ``action`` (a download
    or a preview). None when the case has no such file."""
    item = file_item(session, case, item_id)
    if item is None:
        return None
    data = crypto.decrypt(item.blob, identity)
    audit.record(session, action, user, case.id, dict({"item": item.id}, **(detail or {})))
    return item, data


def change_status(session, user: User, case: Case, status: str, outcome: str | None = None,
                  message: str | None = None, *, config=None, identity=None) -> bool | None:
    """Move the case on; acknowledging and closing send the reporter a message in their language:
    ``message`` if the investigator wrote one (a template they edited), else the standard
    acknowledgement, or the standard closing message with the outcome.

    With ``config`` and the user's unlocked ``identity``, that message also goes by text to a worker
    who reported by SMS: the result is ``sms_relay.relay``'s (None: no text to send)."""
    if case.kind != "report" or status not in TRANSITIONS.get(case.status, ()):
        raise CaseError("transition")
    if status == "closed" and outcome not in OUTCOMES:
        raise CaseError("outcome")
    today = clock.today()
    case.status = status
    if status == "acknowledged":
        case.acknowledged_on = today
        text = (message or "").strip() or acknowledgement_text(case)
        messaging.post_to_reporter(session, case, user, text, commit=False)
    elif status == "feedback_given":
        case.feedback_given_on = case.feedback_given_on or today
    elif status == "closed":
        case.closed_on = today
        case.outcome = outcome
        text = (message or "").strip() or reply_templates.closing_text(case, outcome)
        messaging.post_to_reporter(session, case, user, text, commit=False)
    audit.record(session, "status", user, case.id, {"status": status, "outcome": outcome}, commit=False)
    session.commit()
    if status in ("acknowledged", "closed") and identity is not None:
        return sms_relay.relay(session, config, identity, case, text)
    return None


def reopen(session, user: User | None, case: Case) -> None:
    """Open a closed report again: by an investigator, or (``user`` None) by the reporter writing to it.

    It goes back to being investigated; its closing day and outcome are cleared, so retention
    no longer counts from them. The caller commits."""
    if case.kind != "report" or case.status != "closed":
        raise CaseError("not_closed")
    case.status = "investigating"
    case.closed_on = None
    case.outcome = None
    audit.record(session, "reopen", user, case.id, {"by": "handler" if user is not None else "reporter"},
                 commit=False)


def acknowledgement_text(case: Case) -> str:
    """The acknowledgement, in the language the reporter wrote in."""
    return reply_templates.standard_text("acknowledgement", case, case.language)


def overdue(case: Case, today: date | None = None) -> bool:
    today = today or clock.today()
    return (case.status == "received" and case.acknowledge_due < today) or (
        case.status in inbox.OPEN and case.feedback_due < today
    )


def handler_time(item: CaseItem) -> datetime | None:
    return clock.as_utc(item.created_at) if item.created_at else None
