"""Findings of an investigation and the corrective actions that follow them.

A finding is written on one case, or on a facility when several of its cases
share a root cause: it is then linked to each of them. Its texts are items of
every linked case, each encrypted to that case's keyholders and custodians, so
whoever holds a linked case reads it and hand-overs, exports and retention treat
it as they treat a note. Only the summary written for the worker is encrypted to
the worker too, and shown to them only when the investigator shares it and the
reporters' consent allows (docs/corrective-actions.md). Actions keep in plaintext
only their state, due date, days and facility: what deadlines and statistics need.

Electronics Watch's verdict on an action ("verified" or "not done") comes in
through ``record_monitor_verdict``, which names the action by its public
reference (a UUID), so a monitor on another instance can name it too.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

import crypto

from ..models import (
    ACTION_STATES,
    ActionStateChange,
    Case,
    CaseItem,
    CorrectiveAction,
    Finding,
    FindingCase,
    FindingItem,
    Keyholder,
    User,
)
from . import attachments, audit, cases, clock, conflicts, evidence, handover, keyring
from .refusal import Refusal

TEXT_LIMIT = 5000
OWNER_LIMIT = 200
# What a keyholder sets; "verified" and "not_done" are the monitor's verdicts.
KEYHOLDER_STATES = ("planned", "in_progress", "done")
VERDICTS = ("verified", "not_done")
# Who gives Electronics Watch's verdict on this instance: a monitor user who holds a linked case.
MONITOR_ROLE = "monitor"
# An action in these states is no longer owed: past its due date it is not overdue.
FINISHED = ("done", "verified")
# Consent on the report form that lets a finding drawn from this report reach other reporters.
SHARING_CONSENTS = ("without_identity", "with_identity")


class FindingError(Refusal):
    """A finding or an action that cannot be written or moved: "empty", "too_long", "cases"
    (a linked case is not the writer's, not a report or not of the facility), "consent",
    "not_all_held", "state", "verdict", "action"."""


@dataclass(frozen=True)
class ActionView:
    action: CorrectiveAction
    number: int
    description: str
    owner: str
    files: list[evidence.File]
    verdicts: list[dict]
    # Each state the action took and who set it ("" for Electronics Watch's own instance).
    history: list[tuple[ActionStateChange, str]]
    overdue: bool


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    text: str
    found: str
    will_change: str
    cases: list[Case]
    actions: list[ActionView]


@dataclass(frozen=True)
class WorkerAction:
    """What the worker reads of an action: its number, state and due month, nothing written."""

    number: int
    state: str
    due_on: date | None


@dataclass(frozen=True)
class WorkerFinding:
    found: str
    will_change: str
    actions: list[WorkerAction]


def is_overdue(action: CorrectiveAction, today: date | None = None) -> bool:
    today = today or clock.today()
    return action.due_on is not None and action.due_on < today and action.state not in FINISHED


def _check_text(*texts: str, limit: int = TEXT_LIMIT) -> None:
    if any(len(text) > limit for text in texts):
        raise FindingError("too_long")


def linked_cases(session, finding: Finding) -> list[Case]:
    return list(session.scalars(select(Case).join(FindingCase, FindingCase.case_id == Case.id)
                                .where(FindingCase.finding_id == finding.id).order_by(Case.id)))


def of_case(session, case: Case, finding_id: int) -> Finding | None:
    """Finding ``finding_id`` if it is linked to ``case`` (None otherwise: the caller answers 404)."""
    return session.scalar(select(Finding).join(FindingCase, FindingCase.finding_id == Finding.id)
                          .where(Finding.id == finding_id, FindingCase.case_id == case.id))


def has_any(session, case: Case) -> bool:
    return session.scalar(select(FindingCase.finding_id).where(FindingCase.case_id == case.id).limit(1)) is not None


def action_of_case(session, case: Case, action_id: int) -> CorrectiveAction | None:
    return session.scalar(select(CorrectiveAction)
                          .join(FindingCase, FindingCase.finding_id == CorrectiveAction.finding_id)
                          .where(CorrectiveAction.id == action_id, FindingCase.case_id == case.id))


def _put(session, author: User | None, finding: Finding, case: Case, role: str, kind: str, payload: dict,
         action: CorrectiveAction | None = None, *, replace: bool = True) -> CaseItem:
    """The item of ``case`` that holds ``role`` for the finding (or action): written anew in place
    when it exists and ``replace``, else added."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    blob = crypto.encrypt(body, keyring.case_recipients(session, case, reporter=kind not in keyring.NOT_FOR_REPORTER))
    same_action = FindingItem.action_id == action.id if action else FindingItem.action_id.is_(None)
    link = session.scalar(select(FindingItem).where(
        FindingItem.finding_id == finding.id, FindingItem.case_id == case.id, FindingItem.role == role, same_action))
    if link is not None and replace:
        item = session.get(CaseItem, link.item_id)
        item.blob, item.size = blob, len(body)
        return item
    moment = clock.now()
    item = CaseItem(case_id=case.id, kind=kind, author="handler" if author else "system",
                    author_user_id=author.id if author else None, created_on=moment.date(),
                    created_at=moment, blob=blob, size=len(body))
    session.add(item)
    session.flush()
    session.add(FindingItem(finding_id=finding.id, action_id=action.id if action else None, case_id=case.id,
                            item_id=item.id, role=role))
    return item


def _sharing_allowed(session, user: User, identity, linked: list[Case]) -> None:
    """A finding of several reports reaches each of their workers only when every one of those
    reporters agreed to share their report beyond the people they named (read with the writer's key,
    who must therefore hold every linked case). A finding of one report is its own worker's to read."""
    if len(linked) < 2:
        return
    for case in linked:
        if cases.for_keyholder(session, user.id, case.id) is None:
            raise FindingError("not_all_held")
        if handover.written_by_reporter(case, identity).get("consent") not in SHARING_CONSENTS:
            raise FindingError("consent")


def write_finding(session, user: User, identity, case: Case, text: str, found: str = "", will_change: str = "",
                  shared: bool = False, other_case_ids=()) -> Finding:
    """A finding on ``case``; with ``other_case_ids`` (cases of the same facility the writer holds
    too), a facility's finding shared by all of them."""
    _check_text(text, found, will_change)
    if not text.strip():
        raise FindingError("empty")
    linked = [case]
    for case_id in sorted(set(other_case_ids) - {case.id}):
        other = cases.for_keyholder(session, user.id, case_id)
        if other is None or other.kind != "report" or case.facility_id is None or other.facility_id != case.facility_id:
            raise FindingError("cases")
        linked.append(other)
    if case.kind != "report":
        raise FindingError("cases")
    if shared:
        _sharing_allowed(session, user, identity, linked)
    today = clock.today()
    finding = Finding(reference=str(uuid.uuid4()), facility_id=case.facility_id if len(linked) > 1 else None,
                      shared_with_worker=shared, created_on=today, updated_on=today)
    session.add(finding)
    session.flush()
    for each in linked:
        session.add(FindingCase(finding_id=finding.id, case_id=each.id))
    _write_texts(session, user, finding, linked, text, found, will_change)
    for each in linked:
        audit.record(session, "finding", user, each.id, {"finding": finding.reference, "shared": shared},
                     commit=False)
    session.commit()
    return finding


def edit_finding(session, user: User, identity, finding: Finding, text: str, found: str, will_change: str,
                 shared: bool) -> None:
    """Write the finding's texts anew in every linked case, and share it with the workers or not."""
    _check_text(text, found, will_change)
    if not text.strip():
        raise FindingError("empty")
    linked = linked_cases(session, finding)
    if shared:
        _sharing_allowed(session, user, identity, linked)
    finding.shared_with_worker = shared
    finding.updated_on = clock.today()
    _write_texts(session, user, finding, linked, text, found, will_change)
    for each in linked:
        audit.record(session, "finding", user, each.id, {"finding": finding.reference, "shared": shared},
                     commit=False)
    session.commit()


def _write_texts(session, user, finding, linked, text, found, will_change) -> None:
    for each in linked:
        _put(session, user, finding, each, "finding", "finding", {"text": text})
        # The summary is the only text encrypted to the worker; the page shows it only once shared.
        _put(session, user, finding, each, "worker", "finding_worker", {"found": found, "will_change": will_change})


def add_action(session, user: User, finding: Finding, description: str, owner: str,
               due_on: date | None) -> CorrectiveAction:
    """A corrective action of ``finding``, planned; its description and owner are encrypted."""
    _check_text(description)
    _check_text(owner, limit=OWNER_LIMIT)
    if not description.strip():
        raise FindingError("empty")
    today = clock.today()
    linked = linked_cases(session, finding)
    action = CorrectiveAction(reference=str(uuid.uuid4()), finding_id=finding.id,
                              facility_id=finding.facility_id or linked[0].facility_id, state="planned",
                              due_on=due_on, created_on=today, updated_on=today)
    session.add(action)
    session.flush()
    session.add(ActionStateChange(action_id=action.id, state="planned", changed_on=today, user_id=user.id))
    for each in linked:
        _put(session, user, finding, each, "action", "corrective_action",
             {"description": description, "owner": owner}, action)
        audit.record(session, "corrective_action", user, each.id, {"action": action.reference}, commit=False)
    session.commit()
    return action


def edit_action(session, user: User, action: CorrectiveAction, description: str, owner: str,
                due_on: date | None) -> None:
    _check_text(description)
    _check_text(owner, limit=OWNER_LIMIT)
    if not description.strip():
        raise FindingError("empty")
    finding = session.get(Finding, action.finding_id)
    action.due_on, action.updated_on = due_on, clock.today()
    for each in linked_cases(session, finding):
        _put(session, user, finding, each, "action", "corrective_action",
             {"description": description, "owner": owner}, action)
        audit.record(session, "corrective_action", user, each.id, {"action": action.reference}, commit=False)
    session.commit()


def move_action(session, user: User, action: CorrectiveAction, state: str) -> None:
    """A keyholder's new state for the action: planned, in progress or done. A verified action
    stays verified: only the monitor's verdict moves it (``record_monitor_verdict``)."""
    if state not in KEYHOLDER_STATES or state == action.state or action.state == "verified":
        raise FindingError("state")
    _set_state(session, action, state, user, by_monitor=False)
    session.commit()


def _set_state(session, action: CorrectiveAction, state: str, user: User | None, by_monitor: bool,
               day: date | None = None) -> None:
    day = day or clock.today()
    action.state, action.updated_on = state, day
    session.add(ActionStateChange(action_id=action.id, state=state, changed_on=day,
                                  user_id=user.id if user else None, by_monitor=by_monitor))
    finding = session.get(Finding, action.finding_id)
    for each in linked_cases(session, finding):
        audit.record(session, "corrective_action_state", user, each.id,
                     {"action": action.reference, "state": state, "by_monitor": by_monitor}, commit=False)


def attach_evidence(session, user: User, action: CorrectiveAction, files) -> int:
    """Evidence for the action: each file cleaned (or refused, ``attachments.AttachmentError``) like a
    worker's, then stored in every linked case with its evidence record, for keyholders only."""
    cleaned = attachments.cleaned(files, disguise_voice=False)
    finding = session.get(Finding, action.finding_id)
    moment = clock.now()
    for each in linked_cases(session, finding):
        recipients = keyring.case_recipients(session, each, reporter=False)
        for clean in cleaned:
            item = evidence.store(CaseItem(case_id=each.id, kind="action_evidence", author="handler",
                                           author_user_id=user.id, created_on=moment.date(), created_at=moment,
                                           blob=crypto.encrypt(clean.data, recipients), size=len(clean.data)),
                                  clean, recipients)
            session.add(item)
            session.flush()
            session.add(FindingItem(finding_id=finding.id, action_id=action.id, case_id=each.id, item_id=item.id,
                                    role="evidence"))
        audit.record(session, "corrective_action", user, each.id,
                     {"action": action.reference, "evidence": len(cleaned)}, commit=False)
    session.commit()
    return len(cleaned)


def evidence_file(session, user: User, identity, case: Case, action_id: int, item_id: int) -> tuple[CaseItem, bytes] | None:
    """An evidence file of an action of ``case``, decrypted for its keyholder (None: no such file)."""
    link = session.scalar(select(FindingItem).where(
        FindingItem.case_id == case.id, FindingItem.action_id == action_id, FindingItem.item_id == item_id,
        FindingItem.role == "evidence"))
    if link is None:
        return None
    item = session.get(CaseItem, item_id)
    data = crypto.decrypt(item.blob, identity)
    audit.record(session, "download", user, case.id, {"item": item.id})
    return item, data


def action_by_reference(session, case: Case, reference) -> CorrectiveAction | None:
    """The action of one of ``case``'s findings whose public reference is ``reference`` (None: no such
    action on this case, whatever other cases hold)."""
    return session.scalar(select(CorrectiveAction)
                          .join(FindingCase, FindingCase.finding_id == CorrectiveAction.finding_id)
                          .where(CorrectiveAction.reference == str(reference), FindingCase.case_id == case.id))


def verdict_allowed(action: CorrectiveAction, verdict: str) -> bool:
    """Whether the action can take Electronics Watch's ``verdict`` now."""
    return verdict in VERDICTS and verdict != action.state and (verdict != "verified" or action.state == "done")


def record_monitor_verdict(session, action_reference: str, verdict: str, comment: str = "", *,
                           monitor: User | None = None, day: date | None = None,
                           commit: bool = True) -> CorrectiveAction:
    """Electronics Watch's verdict on a corrective action: ``"verified"`` (it checked the action was
    done; only a "done" action can be verified) or ``"not_done"`` (it found the action not done).

    ``action_reference`` is the action's public reference (``CorrectiveAction.reference``, a UUID),
    the name a monitor on another instance knows it by. ``monitor`` is the monitor user who gave the
    verdict on this instance, or None when it arrived from Electronics Watch's own instance (the
    monitor channel calls this then). ``comment`` (at most ``TEXT_LIMIT`` characters) is kept as an
    encrypted item of every linked case, for its keyholders only; ``day`` defaults to today. The
    state change is in the action's history and the audit trail, marked as the monitor's.
    Raises ``FindingError("action")`` for an unknown reference and ``FindingError("verdict")`` for a
    verdict the action cannot take. Commits, unless ``commit`` is False (the exchange files a
    verdict inside the transaction that files its bundle).
    """
    if verdict not in VERDICTS:
        raise FindingError("verdict")
    _check_text(comment)
    action = session.scalar(select(CorrectiveAction).where(CorrectiveAction.reference == str(action_reference)))
    if action is None:
        raise FindingError("action")
    if not verdict_allowed(action, verdict):
        raise FindingError("verdict")
    day = day or clock.today()
    _set_state(session, action, verdict, monitor, by_monitor=True, day=day)
    finding = session.get(Finding, action.finding_id)
    for each in linked_cases(session, finding):
        _put(session, monitor, finding, each, "verdict", "action_verdict",
             {"verdict": verdict, "comment": comment, "day": day.isoformat()}, action, replace=False)
    if commit:
        session.commit()
    return action


def _open(item: CaseItem | None, identity) -> dict:
    if item is None:
        return {}
    try:
        return json.loads(crypto.decrypt(item.blob, identity))
    except (crypto.AgeError, ValueError):
        # A key that cannot open it (not re-admitted yet), or an item that is not ours to read.
        return {}


def for_case(session, case: Case, identity) -> list[FindingView]:
    """The findings linked to ``case`` and their actions, decrypted from this case's items."""
    findings = list(session.scalars(select(Finding).join(FindingCase, FindingCase.finding_id == Finding.id)
                                    .where(FindingCase.case_id == case.id).order_by(Finding.id)))
    links = list(session.scalars(select(FindingItem).where(FindingItem.case_id == case.id)))
    items = {item.id: item for item in session.scalars(
        select(CaseItem).where(CaseItem.id.in_([link.item_id for link in links])))} if links else {}
    today = clock.today()
    views = []
    for finding in findings:
        mine = [link for link in links if link.finding_id == finding.id]

        def one(role, action_id=None):
            link = next((link for link in mine if link.role == role and link.action_id == action_id), None)
            return _open(items.get(link.item_id) if link else None, identity)

        texts, worker = one("finding"), one("worker")
        actions = []
        for number, action in enumerate(session.scalars(select(CorrectiveAction).where(
                CorrectiveAction.finding_id == finding.id).order_by(CorrectiveAction.id)), start=1):
            written = one("action", action.id)
            files = [evidence.file_of(items[link.item_id], identity) for link in mine
                     if link.action_id == action.id and link.role == "evidence" and link.item_id in items]
            verdicts = [_open(items.get(link.item_id), identity) for link in mine
                        if link.action_id == action.id and link.role == "verdict"]
            history = [(change, name) for change, name in session.execute(
                select(ActionStateChange, User.display_name).outerjoin(User, User.id == ActionStateChange.user_id)
                .where(ActionStateChange.action_id == action.id).order_by(ActionStateChange.id))]
            actions.append(ActionView(action, number, written.get("description", ""), written.get("owner", ""),
                                      files, verdicts, history, is_overdue(action, today)))
        views.append(FindingView(finding, texts.get("text", ""), worker.get("found", ""),
                                 worker.get("will_change", ""), linked_cases(session, finding), actions))
    return views


def for_worker(session, case: Case, reporter_identity) -> list[WorkerFinding]:
    """What the worker of ``case`` reads: the summaries shared with them, and each action's number,
    state and due date. Only the summary item is opened: every other text of a finding is
    encrypted to the keyholders alone, and the worker's key could not open it anyway."""
    shared = list(session.scalars(select(Finding).join(FindingCase, FindingCase.finding_id == Finding.id)
                                  .where(FindingCase.case_id == case.id, Finding.shared_with_worker.is_(True))
                                  .order_by(Finding.id)))
    seen = []
    for finding in shared:
        link = session.scalar(select(FindingItem).where(FindingItem.finding_id == finding.id,
                                                        FindingItem.case_id == case.id,
                                                        FindingItem.role == "worker"))
        summary = _open(session.get(CaseItem, link.item_id) if link else None, reporter_identity)
        if not (summary.get("found") or summary.get("will_change")):
            continue
        actions = [WorkerAction(number, action.state, action.due_on) for number, action in enumerate(
            session.scalars(select(CorrectiveAction).where(CorrectiveAction.finding_id == finding.id)
                            .order_by(CorrectiveAction.id)), start=1)]
        seen.append(WorkerFinding(summary.get("found", ""), summary.get("will_change", ""), actions))
    return seen


def overdue_actions(session, case: Case) -> list[CorrectiveAction]:
    """The actions of ``case``'s findings past their due date and not done."""
    return [action for action in session.scalars(
        select(CorrectiveAction).join(FindingCase, FindingCase.finding_id == CorrectiveAction.finding_id)
        .where(FindingCase.case_id == case.id, CorrectiveAction.due_on < clock.today(),
               CorrectiveAction.state.not_in(FINISHED)).order_by(CorrectiveAction.due_on))]


def overdue_for(session, user_id: int, limit: int = 50) -> list[tuple[CorrectiveAction, Case]]:
    """Overdue actions of the findings on cases ``user_id`` holds (and may open), the oldest due
    first, each with one of those cases (a facility's finding may be on several)."""
    rows = session.execute(
        select(CorrectiveAction, Case).join(FindingCase, FindingCase.finding_id == CorrectiveAction.finding_id)
        .join(Case, Case.id == FindingCase.case_id).join(Keyholder, Keyholder.case_id == Case.id)
        .where(Keyholder.user_id == user_id, CorrectiveAction.due_on < clock.today(),
               CorrectiveAction.state.not_in(FINISHED), *conflicts.open_to(session, user_id))
        .order_by(CorrectiveAction.due_on, CorrectiveAction.id, Case.id).limit(limit * 4)).all()
    seen, found = set(), []
    for action, case in rows:
        if action.id not in seen:
            seen.add(action.id)
            found.append((action, case))
    return found[:limit]


def same_facility_cases(session, user: User, case: Case) -> list[Case]:
    """Other reports of ``case``'s facility that ``user`` holds: those a facility's finding may link."""
    if case.facility_id is None:
        return []
    return list(session.scalars(
        select(Case).join(Keyholder, Keyholder.case_id == Case.id)
        .where(Keyholder.user_id == user.id, Case.facility_id == case.facility_id, Case.kind == "report",
               Case.id != case.id, *conflicts.open_to(session, user.id)).order_by(Case.id)))


assert set(KEYHOLDER_STATES) | set(VERDICTS) == set(ACTION_STATES)
