"""The investigator's inbox: the cases a user holds keys for, by deadline."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select

from ..models import Case, CaseCategory, CaseItem, Facility, Keyholder
from . import clock, conflicts

PAGE_SIZE = 50
DUE_SOON_DAYS = 2
SORTS = {
    "acknowledge_due": (Case.acknowledge_due.asc(), Case.id.asc()),
    "feedback_due": (Case.feedback_due.asc(), Case.id.asc()),
    "newest": (Case.received_on.desc(), Case.id.desc()),
    "oldest": (Case.received_on.asc(), Case.id.asc()),
}
# Statuses in which the reporter still waits for feedback: a report's, and a retaliation claim's.
OPEN = ("received", "acknowledged", "investigating", "risk_assessed")


@dataclass
class Filters:
    status: str = ""
    overdue: bool = False
    facility_id: int | None = None
    category: str = ""
    language: str = ""
    sort: str = "acknowledge_due"
    page: int = 1


@dataclass
class Row:
    case: Case
    facility_name: str | None
    categories: list[str] = field(default_factory=list)
    unread: int = 0
    acknowledge_state: str = ""
    feedback_state: str = ""


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def _deadline_state(due: date, done: bool, today: date) -> str:
    if done:
        return "done"
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    return "pending"


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
        conditions.append(or_(
            and_(Case.status == "received", Case.acknowledge_due < today),
            and_(Case.status.in_(OPEN), Case.feedback_due < today),
        ))
    if filters.facility_id:
        conditions.append(Case.facility_id == filters.facility_id)
    if filters.language:
        conditions.append(Case.language == filters.language)
    in_category = []
    if filters.category:
        in_category.append(select(CaseCategory.id).where(
            CaseCategory.case_id == Case.id, CaseCategory.code == filters.category).exists())

    if conditions:
        count = select(func.count()).select_from(Case).where(held, *conditions, *in_category)
    else:
        # Nothing to check on the case itself: count the user's keyholder rows, from
        # their index alone (every keyholder row has its case: a foreign key).
        count = select(func.count()).select_from(Keyholder).where(Keyholder.user_id == user_id)
        if filters.category:
            count = count.where(Keyholder.case_id.in_(
                select(CaseCategory.case_id).where(CaseCategory.code == filters.category)))
    total = session.scalar(count)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    order = SORTS.get(filters.sort, SORTS["acknowledge_due"])
    page_ids = session.scalars(
        select(Case.id).where(held, *conditions, *in_category)
        .order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
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
    unread = _unread_counts(session, [(case.id, seen) for case, seen in found if case.last_reporter_item_id > seen])

    rows = []
    for case, _seen in found:
        rows.append(Row(
            case=case,
            facility_name=names.get(case.facility_id),
            categories=sorted(categories.get(case.id, [])),
            unread=unread.get(case.id, 0),
            acknowledge_state=_deadline_state(case.acknowledge_due, case.status != "received", today),
            feedback_state=_deadline_state(case.feedback_due, case.status not in OPEN, today),
        ))
    return Page(rows, total, page, pages)


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
