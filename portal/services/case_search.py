"""Finding a case among those a user holds keys for: by what is kept in clear
(reference, facility, country, category, status, language, the day received)
and by words in what is encrypted (a report's or a claim's text, messages, notes).

Only the cases the inbox shows the user are searched: they hold a key
(a ``Keyholder`` row) and no conflict of interest bars them
(``conflicts.open_to``, as ``inbox.list_cases``). Words are found by
decrypting those cases' items with the user's identity, in memory, at the time
of the search (a large batch in ``decryption_pool``'s processes); nothing is
indexed. What a search decrypted may be kept for the rest of the web session in
``reading_cache`` (in this process's memory only).
A search for words is audited as such; the words never are.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from ..models import Case, CaseCategory, CaseItem, Facility, Keyholder
from . import audit, conflicts, decryption_pool, item_text
from .reading_cache import Key, ReadingCache
from .text_match import Snippet, fold, snippet

RESULT_LIMIT = 100
MAX_WORDS_CHARS = 200
SNIPPETS_PER_CASE = 3
_BLOBS_AT_ONCE = 500
# A report and a couple of messages: what most cases hold.
_ITEMS_PER_CASE = 3


@dataclass(frozen=True)
class Criteria:
    """What the user looks for; every part optional."""

    case_id: int | None = None
    # With ``case_id``: the year of the reference (2026-00042), which must match too.
    year: int | None = None
    facility_id: int | None = None
    country: str = ""
    category: str = ""
    status: str = ""
    language: str = ""
    received_from: date | None = None
    received_until: date | None = None  # inclusive
    words: str = ""


@dataclass(frozen=True)
class Passage:
    """Where in a case the words are, and the text around them."""

    kind: str
    snippet: Snippet


@dataclass(frozen=True)
class Hit:
    case: Case
    facility: Facility | None
    passages: list[Passage] = field(default_factory=list)


@dataclass(frozen=True)
class Found:
    hits: list[Hit]
    # How many cases match in all; only the first RESULT_LIMIT are in ``hits``.
    total: int


def _conditions(session, user_id: int, criteria: Criteria) -> list:
    held = select(Keyholder.id).where(Keyholder.case_id == Case.id, Keyholder.user_id == user_id).exists()
    conditions = [held, *conflicts.open_to(session, user_id)]
    if criteria.case_id is not None:
        conditions.append(Case.id == criteria.case_id)
    if criteria.year is not None:
        conditions.append(Case.received_on.between(date(criteria.year, 1, 1), date(criteria.year, 12, 31)))
    if criteria.facility_id is not None:
        conditions.append(Case.facility_id == criteria.facility_id)
    if criteria.country:
        conditions.append(Case.facility_id.in_(select(Facility.id).where(Facility.country == criteria.country)))
    if criteria.category:
        conditions.append(select(CaseCategory.id).where(
            CaseCategory.case_id == Case.id, CaseCategory.code == criteria.category).exists())
    if criteria.status:
        conditions.append(Case.status == criteria.status)
    if criteria.language:
        conditions.append(Case.language == criteria.language)
    if criteria.received_from:
        conditions.append(Case.received_on >= criteria.received_from)
    if criteria.received_until:
        conditions.append(Case.received_on <= criteria.received_until)
    return conditions


def prepare(session, user) -> None:
    """Get ready for a search, as the form opens: a user who holds enough cases that a search
    for words goes to ``decryption_pool`` has its workers started meanwhile."""
    held = session.scalar(select(func.count()).select_from(Keyholder).where(Keyholder.user_id == user.id))
    if held * _ITEMS_PER_CASE >= decryption_pool.SMALLEST_BATCH:
        decryption_pool.prepare()


def find(session, user, identity, criteria: Criteria, cache: ReadingCache | None = None,
         key: Key | None = None) -> Found:
    """The cases ``user`` holds that match, newest first; words are looked for with ``identity``."""
    conditions = _conditions(session, user.id, criteria)
    case_ids = session.scalars(select(Case.id).where(*conditions)
                               .order_by(Case.received_on.desc(), Case.id.desc())).all()
    matches = {}
    if criteria.words:
        matches = _matching_items(session, identity, conditions, fold(criteria.words), cache, key)
        case_ids = [case_id for case_id in case_ids if case_id in matches]
        # That a search for words was run, by whom: never the words (they could name a reporter).
        audit.record(session, "text_search", user, None, commit=False)
        session.commit()
    shown = case_ids[:RESULT_LIMIT]
    cases = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_(shown)))}
    facility_ids = {case.facility_id for case in cases.values() if case.facility_id}
    facilities = {facility.id: facility for facility in
                  session.scalars(select(Facility).where(Facility.id.in_(facility_ids)))}
    hits = []
    folded_words = fold(criteria.words)
    for case_id in shown:
        case = cases[case_id]
        passages = []
        for kind, text in matches.get(case_id, [])[:SNIPPETS_PER_CASE]:
            found = snippet(text, folded_words)
            if found is not None:
                passages.append(Passage(kind, found))
        hits.append(Hit(case, facilities.get(case.facility_id), passages))
    return Found(hits, len(case_ids))


def _matching_items(session, identity, conditions, folded_words: str, cache, key) -> dict[int, list]:
    """For each case with the words: (kind, text) of its items that hold them, in the items' order."""
    items = session.execute(
        select(CaseItem.id, CaseItem.case_id, CaseItem.kind)
        .where(CaseItem.case_id.in_(select(Case.id).where(*conditions)),
               CaseItem.kind.in_(item_text.SEARCHED_KINDS))
        .order_by(CaseItem.id)
    ).all()
    item_ids = [item_id for item_id, _case_id, _kind in items]
    texts = cache.known(key, item_ids) if cache is not None and key is not None else {}
    missing = [item_id for item_id in item_ids if item_id not in texts]
    blobs = []
    for start in range(0, len(missing), _BLOBS_AT_ONCE):
        blobs += [(item_id, kind, bytes(blob)) for item_id, kind, blob in session.execute(
            select(CaseItem.id, CaseItem.kind, CaseItem.blob)
            .where(CaseItem.id.in_(missing[start:start + _BLOBS_AT_ONCE])))]
    opened = decryption_pool.read_many(identity, blobs)
    texts.update(opened)
    if cache is not None and key is not None:
        cache.keep(key, opened)
    matches = {}
    for item_id, case_id, kind in items:
        text = texts.get(item_id)
        if text is not None and folded_words in text[1]:
            matches.setdefault(case_id, []).append((kind, text[0]))
    return matches
