"""The investigator's inbox: the cases a user holds keys for, by deadline."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select

from ..models import Case, CaseCategory, CaseItem, Facility, Keyholder
from . import clock

PAGE_SIZE = 50
DUE_SOON_DAYS = 2
SORTS = {
    "acknowledge_due": (Case.acknowledge_due.asc(), Case.id.asc()),
    "feedback_due": (Case.feedback_due.asc(), Case.id.asc()),
    "newest": (Case.received_on.desc(), Case.id.desc()),
    "oldest": (Case.received_on.asc(), Case.id.asc()),
}
OPEN = ("received", "acknowledged", "investigating")


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
    today = clock.today()
    query = select(Case, Keyholder.seen_item_id).join(
        Keyholder, and_(Keyholder.case_id == Case.id, Keyholder.user_id == user_id)
    )
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.overdue:
        query = query.where(or_(
            and_(Case.status == "received", Case.acknowledge_due < today),
            and_(Case.status.in_(OPEN), Case.feedback_due < today),
        ))
    if filters.facility_id:
        query = query.where(Case.facility_id == filters.facility_id)
    if filters.language:
        query = query.where(Case.language == filters.language)
    if filters.category:
        query = query.where(Case.id.in_(select(CaseCategory.case_id).where(CaseCategory.code == filters.category)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    order = SORTS.get(filters.sort, SORTS["acknowledge_due"])
    found = session.execute(query.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()

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
            feedback_state=_deadline_state(case.feedback_due, case.status in ("feedback_given", "closed"), today),
        ))
    return Page(rows, total, page, pages)


def _unread_counts(session, pairs) -> dict[int, int]:
    counts = {}
    for case_id, seen in pairs:
        counts[case_id] = session.scalar(
            select(func.count()).select_from(CaseItem).where(
                CaseItem.case_id == case_id, CaseItem.author == "reporter", CaseItem.id > seen,
                CaseItem.kind.in_(("report", "message", "attachment")),
            )
        )
    return counts
