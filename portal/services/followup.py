"""The reporter's return visit: open a case with the receipt, read, reply, add files.

The reporter's identity exists only while a receipt is being used: it is
derived from the receipt, sealed into the session under a key that lives in
the reporter's cookie, and never stored where the server alone could use it.
"""

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

import crypto

from ..models import Case, CaseItem
from . import (
    attachments,
    cases,
    clock,
    conflicts,
    evidence,
    keyring,
    notifications,
    outbound,
    receipt_attempts,
    receipts,
    work_slots,
)
from . import instance as instance_service


class TooManyAttempts(RuntimeError):
    """The instance-wide budget of receipt look-ups is spent for now."""


@dataclass(frozen=True)
class ThreadEntry:
    author: str
    day: date
    kind: str
    text: str
    content_type: str | None = None
    size: int = 0


@dataclass(frozen=True)
class CaseView:
    case: Case
    report: dict
    thread: list[ThreadEntry]
    # Where the report stands, as the reporter is told it: one of STAGES.
    stage: str = "received"


# received: nobody has read it yet; acknowledged: read; investigating: being looked at;
# answered: the investigator's message is the newest; feedback_given: told what was done; closed.
STAGES = ("received", "acknowledged", "investigating", "answered", "feedback_given", "closed")


def stage_of(case: Case, thread: list[ThreadEntry]) -> str:
    """The status the reporter sees: it moves when an investigator answers, not only when one sets it.

    Acknowledging a report sends the reporter its one message; an investigator's
    message beyond that one is an answer.
    """
    if case.status in ("closed", "feedback_given"):
        return case.status
    messages = [entry for entry in thread if entry.kind == "message"]
    answers = sum(entry.author == "handler" for entry in messages) - (1 if case.acknowledged_on else 0)
    if answers > 0 and messages[-1].author == "handler":
        return "answered"
    if answers > 0 or case.status == "investigating":
        return "investigating"
    if case.status == "acknowledged" or case.acknowledged_on:
        return "acknowledged"
    return "received"


def open_case(session, config, receipt_text: str) -> tuple[int, str] | None:
    """Return ``(case id, reporter identity)`` for a receipt, or None if it opens nothing.

    Raises ``receipts.ReceiptFormatError`` for text that is not a receipt and
    ``TooManyAttempts`` when the budget its look-up would spend is used up.

    A receipt whose check code fails is refused here, before any Argon2id and
    without spending a budget, unless cases with receipts issued before check
    codes remain (services/receipt_attempts.py). A receipt that opens its case
    gives its look-up back, and opens it only a few times a minute.
    """
    receipt = receipts.normalise(receipt_text)
    instance = instance_service.secrets(session)
    check_key = receipts.check_key(instance.secret_key)
    budget = receipt_attempts.budget_for(session, config, receipts.passes_check(check_key, receipt))
    if budget is None or receipt_attempts.missed_before(check_key, receipt):
        return None
    if receipt_attempts.opened_often(check_key, receipt):
        raise TooManyAttempts()
    spent_at = clock.now()
    if not receipt_attempts.spend(session, config, budget, spent_at):
        raise TooManyAttempts()
    try:
        keys = receipts.derive_keys(
            receipt,
            instance.receipt_salt,
            config["RECEIPT_ARGON2_TIME_COST"],
            config["RECEIPT_ARGON2_MEMORY_KIB"],
            instance.post_quantum,
        )
    except work_slots.Busy:
        # Nothing was looked up: a busy moment must not use up the budget for the minute after it.
        receipt_attempts.give_back(session, config, budget, spent_at)
        raise
    looked_up = select(Case.id).where(Case.receipt_lookup == keys.lookup)
    if budget.legacy_only:
        looked_up = looked_up.where(Case.legacy_receipt.is_(True))
    case_id = session.scalar(looked_up)
    if case_id is None:
        receipt_attempts.missed(check_key, receipt)
        return None
    receipt_attempts.opened(session, config, budget, spent_at, check_key, receipt)
    return case_id, str(keys.identity)


def view(session, case_id: int, identity: str) -> CaseView:
    """Decrypt what the reporter may read: their report and the conversation."""
    case = session.get(Case, case_id)
    key = crypto.parse_identity(identity)
    report = {}
    thread = []
    for item in case.items:
        if item.kind == "report":
            report = json.loads(crypto.decrypt(item.blob, key))
        elif item.kind == "message":
            try:
                text = crypto.decrypt(item.blob, key).decode("utf-8")
            except (crypto.AgeError, UnicodeDecodeError):
                # Only a partner's answer can be stored unread (we cannot open it to check it): one
                # that the worker's key does not open is left out rather than breaking their page.
                continue
            thread.append(ThreadEntry(item.author, item.created_on, "message", text))
        elif item.kind == "attachment":
            thread.append(
                ThreadEntry(item.author, item.created_on, "attachment", "", item.content_type, item.size)
            )
    return CaseView(case, report, thread, stage_of(case, thread))


def mark_read(session, case_id: int) -> None:
    for item in session.scalars(
        select(CaseItem).where(
            CaseItem.case_id == case_id,
            CaseItem.author == "handler",
            CaseItem.read_by_reporter.is_(False),
        )
    ):
        item.read_by_reporter = True
    session.commit()


def reply(session, config, case_id: int, text: str, files: list[bytes | attachments.CleanFile]) -> None:
    """Add the reporter's message and files to the case, all or nothing."""
    case = session.get(Case, case_id)
    cleaned = attachments.cleaned(files)
    holders = keyring.holders_of(session, case)
    recipients = keyring.case_recipients(session, case)
    added = []
    today = clock.today()
    if text.strip():
        body = text.encode("utf-8")
        added.append(CaseItem(case_id=case.id, kind="message", author="reporter", created_on=today,
                              blob=crypto.encrypt(body, recipients), size=len(body)))
    for clean in cleaned:
        added.append(evidence.store(CaseItem(case_id=case.id, kind="attachment", author="reporter",
                                             created_on=today, blob=crypto.encrypt(clean.data, recipients),
                                             size=len(clean.data)), clean, recipients))
    session.add_all(added)
    session.flush()
    case.last_reporter_item_id = max(item.id for item in added)
    if case.status == "closed" and case.kind == "report":
        # The reporter is told a closed case opens again when they write (docs/case-life.md).
        cases.reopen(session, None, case)
    # A case that went to Electronics Watch's instance as it arrived: what the worker adds goes there too.
    arrival = outbound.arrival_forward(session, case)
    forward = outbound.forward_addition(session, case, arrival, text, cleaned) if arrival is not None else None
    # A holder a conflict of interest bars from the case is not called to it.
    barred = conflicts.conflicted_holder_ids(session, case)
    notifications.queue_for(session, [u for u in holders if u.id not in barred], case, config["BASE_URL"])
    session.commit()
    if forward is not None:
        # Delivered at once; if the partner is down, the forwards job retries.
        outbound.deliver(session, forward, config["BASE_URL"])
