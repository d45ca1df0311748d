"""The investigator's inbox: the cases a user holds keys for, by what needs them
first (``need``) or by deadline.

"What needs me now", in this order (``NEEDS``):

1. ``danger``: someone may be in danger and the case is still open: a report whose
   reporter said they are in immediate danger (``Case.urgent``), a retaliation claim
   not yet risk-assessed (every claim is filed urgent), or one assessed at high risk
   (``Case.risk_level``). A claim assessed at medium or low risk is no longer in danger.
2. ``overdue``: the acknowledgement (status still "received") or the feedback (status
   still open) was due before today.
3. ``due_soon``: one of them is due within ``DUE_SOON_DAYS``.
4. ``unread``: the reporter wrote something the user has not seen.
5. ``open``, then ``done``: the rest, open cases first.

Within each, the earliest pending deadline first. Each need is a condition the
database reads on its own from an index, in deadline order (see ``_tiers``): no
query ranks every case a user holds.
"""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, literal_column, or_, select, text, union

from ..models import Case, CaseCategory, CaseItem, Facility, Keyholder, ReceivedBundle, User
from ..models.case import NEXT_DUE_SQL, OPEN_SQL, OPEN_STATUSES
from . import clock, conflicts

PAGE_SIZE = 50
COUNT_CAP = 1000
DUE_SOON_DAYS = 2
SORTS = {
    "need": (),  # made for the day by ``_tiers``
    "acknowledge_due": (Case.acknowledge_due.asc(), Case.id.asc()),
    "feedback_due": (Case.feedback_due.asc(), Case.id.asc()),
    "newest": (Case.received_on.desc(), Case.id.desc()),
    "oldest": (Case.received_on.asc(), Case.id.asc()),
}
DEFAULT_SORT = "need"
OPEN = OPEN_STATUSES
# The next deadline of an open case, as the SQL of the open cases' index (see portal/models/case.py).
NEXT_DUE = literal_column(NEXT_DUE_SQL)
NEEDS = ("danger", "overdue", "due_soon", "unread", "open", "done")
# The needs that count as "needs action" in the inbox's header.
ACTION_NEEDS = NEEDS[:4]


# SQLite keeps no statistics: it is told which index walks each rank (PostgreSQL ignores these).
OPEN_BY_DUE = ("INDEXED BY ix_cases_open_by_due", "sqlite")
USER_UNREAD = ("INDEXED BY ix_keyholders_user_unread", "sqlite")
DONE_BY_ID = ("INDEXED BY ix_cases_inbox_need", "sqlite")
# The conditions of the two partial indexes as their own SQL: SQLite uses a partial index only
# for a query whose WHERE holds the index's condition as written, never as bound parameters.
OPEN_CASE = text(OPEN_SQL)
UNREAD = text("unread")


def _in_danger():
    """An open case whose reporter said someone is in danger, or assessed at high risk, as SQL.
    COALESCE: "not in danger" must be true, not NULL, for a case never risk-assessed."""
    return or_(func.coalesce(Case.risk_level, "") == "high", and_(Case.risk_level.is_(None), Case.urgent))


@dataclass(frozen=True)
class Tier:
    """One rank of the "need" order: which held cases it holds, and the index that walks them."""

    condition: object
    table: object
    hint: tuple


def _tiers(today: date) -> list[Tier]:
    """The "need" order as disjoint conditions on a held case (joined with its ``Keyholder``),
    one per rank of ``NEEDS``; within each, cases go by ``NEXT_DUE``, then id.

    Each is read on its own, from an index, in that order: the open cases from the start of
    ``ix_cases_open_by_due`` (most of a page is found in its first rows), the unread ones from the
    user's ``ix_keyholders_user_unread``; only a page past the open and unread cases reads the
    done ones. No query ranks every case a user holds.
    """
    soon = today + timedelta(days=DUE_SOON_DAYS)
    done = Case.status.not_in(OPEN)
    danger = _in_danger()
    acknowledging = Case.status == "received"
    overdue = or_(Case.feedback_due < today, and_(acknowledging, Case.acknowledge_due < today))
    due_soon = or_(Case.feedback_due <= soon, and_(acknowledging, Case.acknowledge_due <= soon))
    calm = and_(~danger, ~overdue, ~due_soon)
    return [
        Tier(and_(OPEN_CASE, danger), Case, OPEN_BY_DUE),
        Tier(and_(OPEN_CASE, ~danger, overdue), Case, OPEN_BY_DUE),
        Tier(and_(OPEN_CASE, ~danger, ~overdue, due_soon), Case, OPEN_BY_DUE),
        Tier(and_(UNREAD, or_(done, and_(Case.status.in_(OPEN), calm))), Keyholder, USER_UNREAD),
        Tier(and_(OPEN_CASE, calm, ~Keyholder.unread), Case, OPEN_BY_DUE),
        Tier(and_(done, ~Keyholder.unread), Case, DONE_BY_ID),
    ]


def needs_action_count(session, user_id: int) -> int:
    """How many of the cases ``user_id`` holds (and is not barred from) are in danger, overdue, due soon or unread.

    The union of three small sets, each from its index: the open cases in danger, the open
    cases due by ``DUE_SOON_DAYS`` from now (by their next deadline; a case acknowledged late
    is still due by its feedback), and the user's unread cases of any status. No query reads
    every case the user holds.
    """
    soon = clock.today() + timedelta(days=DUE_SOON_DAYS)
    held = (select(Case.id).join(Keyholder, and_(Keyholder.case_id == Case.id, Keyholder.user_id == user_id))
            .where(*conflicts.open_to(session, user_id)))
    danger = _in_danger()
    due = or_(NEXT_DUE <= soon, and_(Case.status == "received", Case.feedback_due <= soon))
    needing = union(held.where(OPEN_CASE, danger).with_hint(Case, *OPEN_BY_DUE),
                    held.where(OPEN_CASE, due).with_hint(Case, *OPEN_BY_DUE),
                    held.where(UNREAD).with_hint(Keyholder, *USER_UNREAD)).subquery()
    return session.scalar(select(func.count()).select_from(needing)) or 0


@dataclass
class Filters:
    status: str = ""
    overdue: bool = False
    facility_id: int | None = None
    category: str = ""
    language: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1


@dataclass
class Row:
    case: Case
    facility_name: str | None
    categories: list[str] = field(default_factory=list)
    unread: int = 0
    acknowledge_state: str = ""
    feedback_state: str = ""
    need: str = "done"
    lead_name: str | None = None
    next_action: "NextAction | None" = None
    # A case a partner forwarded: its reference at the partner.
    sender_reference: str | None = None


@dataclass
class NextAction:
    """What the case needs next, for the row to say in words: ``kind`` and the day it is about.

    kinds: "acknowledge", "acknowledge_overdue", "feedback", "feedback_overdue",
    "new_message", "none"; ``days`` is how late an overdue one is."""

    kind: str
    due: date | None = None
    days: int = 0


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int
    # A filtered list counts its cases up to ``COUNT_CAP``: past it, ``total`` is the cap, the list
    # says "more than", and ``pages`` is only known to reach the page after a full one.
    more: bool = False


def _deadline_state(due: date, done: bool, today: date) -> str:
    if done:
        return "done"
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    return "pending"


def _by_need(session, held, offset: int, today: date) -> list[int]:
    """The page of ``held`` (the user's cases, with their keyholder rows) at ``offset`` in the "need" order.

    Rank by rank (``_tiers``), each from its index in ``NEXT_DUE`` order: a rank that holds
    the page gives its rows; one before it is only counted (from the same index) to know where
    the next rank starts.
    """
    page_ids: list[int] = []
    for tier in _tiers(today):
        wanted = PAGE_SIZE - len(page_ids)
        ranked = held.where(tier.condition).with_hint(tier.table, *tier.hint)
        found = session.scalars(ranked.order_by(NEXT_DUE.asc(), Case.id.asc()).limit(wanted).offset(offset)).all()
        page_ids.extend(found)
        if len(page_ids) == PAGE_SIZE:
            break
        if found:
            offset = 0
        elif offset:
            offset -= session.scalar(select(func.count()).select_from(ranked.subquery()))
            offset = max(0, offset)
    return page_ids


def list_cases(session, user_id: int, filters: Filters) -> Page:
    """A page of the cases ``user_id`` holds keys for, and how many there are.

    Shaped so that both SQLite (which keeps no statistics) and PostgreSQL find
    cheap plans with 100,000 cases: "held by the user" and "in the category"
    are semi-joins (EXISTS) rather than joins, so a filter or sort index of
    ``cases`` drives the query and the (user_id, case_id) index is probed; the
    page is chosen by id alone, from the indexes, and only its 50 case rows are
    read; the unread counts take one query, not one per case.
    """
    today = clock.today()
    held = select(Keyholder.id).where(Keyholder.case_id == Case.id, Keyholder.user_id == user_id).exists()
    # Cases a conflict of interest bars the user from are left out (see services/conflicts.py).
    conditions = conflicts.open_to(session, user_id)
    if filters.status:
        conditions.append(Case.status == filters.status)
    if filters.overdue:
        # An open case whose next deadline (or, acknowledged late, whose feedback) has passed: read
        # from the open cases' index, not from every case with a past feedback date.
        conditions.append(and_(OPEN_CASE, or_(NEXT_DUE < today, Case.feedback_due < today)))
    if filters.facility_id:
        conditions.append(Case.facility_id == filters.facility_id)
    if filters.language:
        conditions.append(Case.language == filters.language)
    in_category = []
    if filters.category:
        in_category.append(select(CaseCategory.id).where(
            CaseCategory.case_id == Case.id, CaseCategory.code == filters.category).exists())

    if conditions:
        # Counting every held case of a busy language or facility costs as much as reading them:
        # the count stops past the cap, at the same cost whatever the inbox's size.
        matching = select(Case.id).where(held, *conditions, *in_category).limit(COUNT_CAP + 1)
        count = select(func.count()).select_from(matching.subquery())
    else:
        # Nothing to check on the case itself: count the user's keyholder rows, from
        # their index alone (every keyholder row has its case: a foreign key).
        count = select(func.count()).select_from(Keyholder).where(Keyholder.user_id == user_id)
        if filters.category:
            count = count.where(Keyholder.case_id.in_(
                select(CaseCategory.case_id).where(CaseCategory.code == filters.category)))
    total = session.scalar(count)
    more = bool(conditions) and total > COUNT_CAP
    total = min(total, COUNT_CAP) if more else total
    pages = max(1, -(-total // PAGE_SIZE))
    page = max(1, filters.page) if more else min(max(1, filters.page), pages)
    offset = (page - 1) * PAGE_SIZE
    if filters.sort in SORTS and filters.sort != "need":
        chosen = select(Case.id).where(held, *conditions, *in_category).order_by(*SORTS[filters.sort])
        page_ids = session.scalars(chosen.limit(PAGE_SIZE).offset(offset)).all()
    else:
        chosen = (select(Case.id).join(Keyholder, and_(Keyholder.case_id == Case.id, Keyholder.user_id == user_id))
                  .where(*conditions, *in_category))
        page_ids = _by_need(session, chosen, offset, today)
    loaded = {}
    if page_ids:
        for row in session.execute(
            select(Case, Keyholder.seen_item_id)
            .join(Keyholder, and_(Keyholder.case_id == Case.id, Keyholder.user_id == user_id))
            .where(Case.id.in_(page_ids))
        ):
            loaded[row[0].id] = row
    found = [loaded[case_id] for case_id in page_ids if case_id in loaded]

    case_ids = [case.id for case, _seen in found]
    categories = {}
    for case_id, code in session.execute(
        select(CaseCategory.case_id, CaseCategory.code).where(CaseCategory.case_id.in_(case_ids))
    ):
        categories.setdefault(case_id, []).append(code)
    facility_ids = {case.facility_id for case, _seen in found if case.facility_id}
    names = dict(session.execute(select(Facility.id, Facility.name).where(Facility.id.in_(facility_ids))).all())
    disclosed = _as_the_sender_disclosed(session, [case.id for case, _seen in found if case.kind == "forwarded"])
    unread = _unread_counts(session, [(case.id, seen) for case, seen in found if case.last_reporter_item_id > seen])
    lead_ids = {case.lead_user_id for case, _seen in found if case.lead_user_id}
    leads = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(lead_ids))).all())

    rows = []
    for found_case, seen in found:
        is_unread = found_case.last_reporter_item_id > seen
        rows.append(Row(
            case=found_case,
            facility_name=names.get(found_case.facility_id) or disclosed.get(found_case.id, {}).get("facility"),
            sender_reference=disclosed.get(found_case.id, {}).get("reference"),
            categories=sorted(categories.get(found_case.id, [])),
            unread=unread.get(found_case.id, 0),
            acknowledge_state=_deadline_state(found_case.acknowledge_due, found_case.status != "received", today),
            feedback_state=_deadline_state(found_case.feedback_due, found_case.status not in OPEN, today),
            need=need_of(found_case, is_unread, today),
            lead_name=leads.get(found_case.lead_user_id),
            next_action=next_action(found_case, is_unread, today),
        ))
    if more:
        pages = page + 1 if len(rows) == PAGE_SIZE else page
    return Page(rows, total, page, pages, more)


def _as_the_sender_disclosed(session, case_ids: list[int]) -> dict[int, dict]:
    """For cases a partner forwarded to us: the facility (as the partner's registry disclosed it) and the
    partner's reference, from the signed manifest of the bundle that filed each (it names no facility here)."""
    if not case_ids:
        return {}
    found = {}
    for case_id, manifest in session.execute(select(ReceivedBundle.case_id, ReceivedBundle.manifest)
                                             .where(ReceivedBundle.case_id.in_(case_ids))
                                             .order_by(ReceivedBundle.id)):
        if case_id in found:
            continue
        described = json.loads(manifest).get("case", {})
        facility = described.get("facility") or {}
        found[case_id] = {"reference": described.get("reference"),
                          "facility": facility.get("name") if facility.get("listed") else None}
    return found


def need_of(found: Case, unread: bool, today: date) -> str:
    """The case's need of ``NEEDS`` in Python, the same as the SQL rank (for the row's words)."""
    open_ = found.status in OPEN
    acknowledging = found.status == "received"
    soon = today + timedelta(days=DUE_SOON_DAYS)
    if open_ and (found.risk_level == "high" or (found.risk_level is None and found.urgent)):
        return "danger"
    if (acknowledging and found.acknowledge_due < today) or (open_ and found.feedback_due < today):
        return "overdue"
    if (acknowledging and found.acknowledge_due <= soon) or (open_ and found.feedback_due <= soon):
        return "due_soon"
    if unread:
        return "unread"
    return "open" if open_ else "done"


def next_action(found: Case, unread: bool, today: date) -> NextAction:
    """What the case needs next: acknowledging, feedback, or reading a new message."""
    if found.status == "received":
        due = found.acknowledge_due
        if due < today:
            return NextAction("acknowledge_overdue", due, (today - due).days)
        return NextAction("acknowledge", due)
    if found.status in OPEN and found.feedback_due < today:
        return NextAction("feedback_overdue", found.feedback_due, (today - found.feedback_due).days)
    if unread:
        return NextAction("new_message")
    if found.status in OPEN:
        return NextAction("feedback", found.feedback_due)
    return NextAction("none")


def _unread_counts(session, pairs) -> dict[int, int]:
    """For each (case id, newest reporter item seen): the reporter's items after it."""
    seen = dict(pairs)
    counts = dict.fromkeys(seen, 0)
    if not seen:
        return counts
    for case_id, item_id in session.execute(
        select(CaseItem.case_id, CaseItem.id).where(
            CaseItem.case_id.in_(list(seen)), CaseItem.author == "reporter", CaseItem.id > min(seen.values()),
            CaseItem.kind.in_(("report", "message", "attachment")),
        )
    ):
        if item_id > seen[case_id]:
            counts[case_id] += 1
    return counts
