"""An investigator finds any case they hold, by what is kept in clear or by the words
written in it, and nothing of a case they do not hold: not in the results, not in
the counts, not in a snippet. The words searched for are written nowhere."""

import logging
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from inbox_pages import log_in, post_on_case
from operator_steps import logged_in_admin, user_named
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

from portal.db import Base
from portal.models import AuditEntry, Case
from portal.services import clock, decryption_pool, facilities, routing
from portal.services.reading_cache import Key, ReadingCache

BURMESE = "အလုပ်ရှင်က လစာမပေးဘူး။ ညဆိုင်းမှာ အချိန်ပိုလုပ်ခိုင်းတယ်"
BURMESE_WORD = "လစာ"  # wages: in the middle of a run with no spaces
SECRET = "Marigold"
CASE_LINK = re.compile(r'href="/inbox/cases/(\d+)"')


def _reference(app, case_id):
    with app.extensions["portal.sessions"]() as session:
        return session.get(Case, case_id).reference


def _newest_case_id(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))


def _report(app, facility, lang="en", **fields):
    assert send_report(app.test_client(), facility, lang=lang, **fields).status_code == 200
    return _newest_case_id(app)


@pytest.fixture
def thai_plant(app):
    with app.extensions["portal.sessions"]() as session:
        return facilities.add(session, country="TH", name="Ayutthaya Boards", local_name="Ayutthaya Boards",
                              supplier="Siam Circuits", address="Rojana Industrial Park").id


@pytest.fixture
def held_and_not(app, facility_ids, colleague, thai_plant, monkeypatch):
    """Anna (and Binh) hold four cases; three other cases carry the word Marigold and Anna
    may not read them: Malaysia's go to Chandra's team only, one was handed to Chandra,
    and Anna has a conflict of interest with the Thai plant."""
    chandra, _identity = colleague
    with app.extensions["portal.sessions"]() as session:
        routing.save_rule(session, None, name="Malaysia team", recipient_ids=[chandra.id], country="MY")
    cases = {
        "overtime": _report(app, facility_ids[0], categories=["wages"],
                            description="We were not paid for overtime in October."),
        "burmese": _report(app, facility_ids[0], lang="my", categories=["health_safety"], description=BURMESE),
        "hostile": _report(app, facility_ids[0], categories=["other"],
                           description="<script>alert('x')</script> the guard took our passports"),
    }
    real_today = clock.today
    monkeypatch.setattr(clock, "today", lambda: real_today() - timedelta(days=400))
    cases["last_year"] = _report(app, facility_ids[0], categories=["working_hours"],
                                 description="The canteen food was spoiled.")
    monkeypatch.setattr(clock, "today", real_today)
    cases["other_team"] = _report(app, facility_ids[1], description=f"{SECRET} line: forced overtime")
    cases["handed_away"] = _report(app, facility_ids[0], description=f"{SECRET} dormitory is locked at night")
    cases["conflicted"] = _report(app, thai_plant, description=f"{SECRET} supervisor hits workers")

    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    post_on_case(anna, cases["handed_away"], "keyholders", user=str(chandra.id))
    post_on_case(anna, cases["handed_away"], f"keyholders/{user_named(app, 'anna').id}/remove")
    binh = app.test_client()
    assert log_in(binh, "binh").status_code == 303
    post_on_case(binh, cases["handed_away"], f"keyholders/{user_named(app, 'binh').id}/remove")
    root = logged_in_admin(app)
    page = root.get("/admin/routing")
    assert root.post("/admin/routing/exclusions", data={
        "csrf_token": csrf_token(page), "user": str(user_named(app, "anna").id), "facility": str(thai_plant),
        "supplier": ""}).status_code == 303
    return anna, cases


def _search(client, **criteria):
    return client.get("/inbox/search?" + urlencode(criteria))


def _found(response) -> set[int]:
    assert response.status_code == 200, response.status_code
    return {int(case_id) for case_id in CASE_LINK.findall(response.get_data(as_text=True))}


def test_the_investigator_finds_a_case_by_its_reference_as_the_inbox_shows_it(app, held_and_not):
    anna, cases = held_and_not
    reference = _reference(app, cases["overtime"])
    assert _found(_search(anna, reference=reference)) == {cases["overtime"]}
    assert _found(_search(anna, reference=str(cases["overtime"]))) == {cases["overtime"]}, "the number alone"
    wrong_year = f"{int(reference[:4]) - 3}-{reference[5:]}"
    assert _found(_search(anna, reference=wrong_year)) == set()


def test_the_investigator_narrows_by_facility_country_category_status_language_and_days(
        app, held_and_not, facility_ids):
    anna, cases = held_and_not
    this_year = {cases[name] for name in ("overtime", "burmese", "hostile")}
    mine = this_year | {cases["last_year"]}
    assert _found(_search(anna, facility=facility_ids[0])) == mine
    assert _found(_search(anna, country="VN")) == mine
    assert _found(_search(anna, category="health_safety")) == {cases["burmese"]}
    assert _found(_search(anna, language="my")) == {cases["burmese"]}
    assert _found(_search(anna, status="received")) == mine
    assert _found(_search(anna, status="closed")) == set()
    today = clock.today()
    assert _found(_search(anna, **{"from": today.isoformat()})) == this_year
    assert _found(_search(anna, until=(today - timedelta(days=1)).isoformat())) == {cases["last_year"]}
    assert _found(_search(anna, **{"from": (today - timedelta(days=401)).isoformat(),
                                   "until": (today - timedelta(days=399)).isoformat()})) == {cases["last_year"]}
    assert _found(_search(anna, country="VN", category="wages", language="en")) == {cases["overtime"]}


def test_the_investigator_finds_a_burmese_word_inside_a_report_written_without_spaces(app, held_and_not):
    anna, cases = held_and_not
    page = _search(anna, words=BURMESE_WORD)
    assert _found(page) == {cases["burmese"]}
    assert f"<mark><bdi>{BURMESE_WORD}</bdi></mark>" in page.get_data(as_text=True), "the snippet shows the match"
    assert _found(_search(anna, words="OVERTIME")) == {cases["overtime"]}, "case does not matter"
    assert _found(_search(anna, words="ｏｖｅｒｔｉｍｅ")) == {cases["overtime"]}, "nor full-width letters"
    assert _found(_search(anna, words="over\u00adtime")) == {cases["overtime"]}, "nor an invisible soft hyphen"


def test_a_search_decrypted_by_the_worker_processes_finds_the_same_and_no_more(app, held_and_not, monkeypatch):
    anna, cases = held_and_not
    monkeypatch.setattr(decryption_pool, "SMALLEST_BATCH", 0)
    monkeypatch.setattr(decryption_pool, "CHUNK", 2)
    assert _found(_search(anna, words=BURMESE_WORD)) == {cases["burmese"]}
    assert _found(_search(anna, words=SECRET)) == set()


def test_the_investigator_finds_words_of_the_reporters_message_and_of_their_own_notes(app, held_and_not):
    anna, cases = held_and_not
    post_on_case(anna, cases["overtime"], "messages", text="Could you send a photo of your payslip?")
    post_on_case(anna, cases["last_year"], "notes", text="Spoke to the auditor Thandiwe on Monday")
    assert _found(_search(anna, words="payslip")) == {cases["overtime"]}
    assert _found(_search(anna, words="thandiwe")) == {cases["last_year"]}


def test_a_word_the_reporter_writes_later_is_found_by_a_search_of_the_same_session(app, held_and_not, facility_ids):
    anna, cases = held_and_not
    worker = app.test_client()
    receipt = receipt_on(send_report(worker, facility_ids[0], description="Nobody pays the night shift"))
    case_id = _newest_case_id(app)
    assert _found(_search(anna, words="night shift")) == {case_id}
    assert log_in_with_receipt(worker, receipt).status_code == 303
    page = worker.get("/en/case")
    assert worker.post("/en/case", data={"csrf_token": csrf_token(page),
                                         "message": "The supervisor is called Kyaw Zin"}).status_code in (200, 303)
    found = _search(anna, words="kyaw zin")
    assert _found(found) == {case_id}
    assert "Message" in found.get_data(as_text=True)


def test_what_a_reporter_wrote_is_shown_inert_in_a_snippet(app, held_and_not):
    anna, cases = held_and_not
    page = _search(anna, words="passports").get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("criteria", [
    {"words": SECRET}, {"words": "forced overtime"}, {"words": "dormitory"}, {"words": "supervisor hits"},
    {"country": "MY"}, {"country": "TH"}, {"category": "other", "words": SECRET},
])
def test_no_search_reaches_a_case_of_another_team_a_case_handed_away_or_a_conflicted_case(
        app, held_and_not, criteria):
    anna, cases = held_and_not
    page = _search(anna, **criteria)
    body = page.get_data(as_text=True)
    assert _found(page) == set()
    assert "0 cases found" in body, "not counted either"
    for name in ("other_team", "handed_away", "conflicted"):
        assert _reference(app, cases[name]) not in body
    assert SECRET not in body.replace(f'value="{SECRET}"', ""), "no snippet of them"


def test_those_who_hold_them_find_the_same_cases_with_the_same_words(app, held_and_not, colleague):
    _anna, cases = held_and_not
    chandra, binh = app.test_client(), app.test_client()
    assert log_in(chandra, "chandra").status_code == 303 and log_in(binh, "binh").status_code == 303
    assert _found(_search(chandra, words=SECRET)) == {cases["other_team"], cases["handed_away"]}
    assert _found(_search(binh, words=SECRET)) == {cases["conflicted"]}, "Binh has no conflict with the plant"


def test_a_case_is_not_found_by_its_reference_by_someone_who_does_not_hold_it(app, held_and_not):
    anna, cases = held_and_not
    for name in ("other_team", "handed_away", "conflicted"):
        assert _found(_search(anna, reference=_reference(app, cases[name]))) == set()


def test_a_case_handed_away_after_a_search_is_not_found_by_the_next_search_of_the_session(
        app, held_and_not, colleague):
    anna, cases = held_and_not
    assert _found(_search(anna, words="canteen")) == {cases["last_year"]}
    chandra, _identity = colleague
    post_on_case(anna, cases["last_year"], "keyholders", user=str(chandra.id))
    post_on_case(anna, cases["last_year"], f"keyholders/{user_named(app, 'anna').id}/remove")
    binh = app.test_client()
    assert log_in(binh, "binh").status_code == 303
    post_on_case(binh, cases["last_year"], f"keyholders/{user_named(app, 'binh').id}/remove")
    assert _found(_search(anna, words="canteen")) == set()


def test_what_the_searches_decrypted_is_forgotten_at_log_out(app, held_and_not):
    anna, _cases = held_and_not
    assert _found(_search(anna, words="canteen"))
    cache = app.extensions["portal.reading_cache"]
    assert len(cache) == 1
    page = anna.get("/inbox/search")
    assert anna.post("/inbox/logout", data={"csrf_token": csrf_token(page)}).status_code == 303
    assert len(cache) == 0


BAD = [
    ({"from": "2026-13-01"}, "Write the dates as year-month-day"),
    ({"until": "yesterday"}, "Write the dates as year-month-day"),
    ({"from": "31/12/2026"}, "Write the dates as year-month-day"),
    ({"from": "2026-05-02", "until": "2026-05-01"}, "The first day comes after the last day"),
    ({"words": "x" * 201}, "Search for at most 200 characters."),
    ({"reference": "case 42"}, "A case reference looks like 2026-00042."),
    ({"reference": "0000-00001"}, "A case reference looks like 2026-00042."),
    ({"reference": "2026-" + "9" * 12}, "A case reference looks like 2026-00042."),
    ({"facility": "1 OR 1=1"}, "Choose from the lists"),
    ({"status": "deleted"}, "Choose from the lists"),
    ({"category": "<b>"}, "Choose from the lists"),
    ({"language": "xx"}, "Choose from the lists"),
    ({"country": "ZZ"}, "Choose from the lists"),
]


@pytest.fixture
def anna_with_a_case(app, facility_ids):
    _report(app, facility_ids[0])
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    return anna


@pytest.mark.parametrize(("criteria", "message"), BAD)
def test_a_search_the_form_cannot_run_says_why_with_400_and_runs_nothing(app, anna_with_a_case, criteria, message):
    anna = anna_with_a_case
    with app.extensions["portal.sessions"]() as session:
        before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    page = _search(anna, **criteria)
    assert page.status_code == 400
    assert message in page.get_data(as_text=True)
    assert not CASE_LINK.search(page.get_data(as_text=True))
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == before


def test_the_search_is_audited_but_its_words_are_in_no_audit_entry_log_or_table(
        app, held_and_not, database_url, caplog):
    anna, cases = held_and_not
    words = ["spoiled", BURMESE_WORD, "Zebrafinch-unseen"]
    with caplog.at_level(logging.DEBUG):
        for word in words:
            assert _search(anna, words=word).status_code == 200
    with app.extensions["portal.sessions"]() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "text_search")).all()
        assert len(entries) == len(words)
        assert {entry.actor_user_id for entry in entries} == {user_named(app, "anna").id}
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for value in row:
                    flat = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    for word in words:
                        assert word.casefold() not in flat.casefold(), (table.name, word)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for word in words:
        assert word.casefold() not in logged.casefold()
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        for suffix in ("", "-wal"):
            try:
                with open(path + suffix, "rb") as stored:
                    raw = stored.read()
            except FileNotFoundError:
                continue
            for word in words:
                assert word.encode("utf-8") not in raw and word.casefold().encode("utf-8") not in raw


def test_what_one_session_decrypted_is_read_by_no_other_session_user_or_key_and_goes_when_idle():
    now = [0.0]
    cache = ReadingCache(idle_seconds=60, lifetime_seconds=3600, max_chars=1000, clock=lambda: now[0])
    anna = Key(b"session-1", 1, b"anna's key")
    cache.keep(anna, {7: ("Overtime", "overtime")})
    for other in (Key(b"session-2", 1, b"anna's key"), Key(b"session-1", 2, b"anna's key"),
                  Key(b"session-1", 1, b"a new key")):
        assert cache.known(other, [7]) == {}
    assert cache.known(anna, [7, 8]) == {7: ("Overtime", "overtime")}
    now[0] += 61
    assert cache.known(anna, [7]) == {} and len(cache) == 0, "gone after the session's idle timeout"


def test_the_cache_keeps_within_its_bound_dropping_the_least_recently_used_session_first():
    cache = ReadingCache(idle_seconds=60, lifetime_seconds=3600, max_chars=150)
    first, second = Key(b"one", 1, b"k"), Key(b"two", 2, b"k")
    cache.keep(first, {1: ("a" * 30, "a" * 30)})
    cache.keep(second, {2: ("b" * 30, "b" * 30)})
    assert cache.known(first, [1]) and cache.known(second, [2])
    cache.keep(second, {3: ("c" * 20, "c" * 20)})
    assert cache.known(first, [1]) == {}, "the other session, used least recently, went"
    assert set(cache.known(second, [2, 3])) == {2, 3}
    cache.keep(second, {4: ("d" * 10, "d" * 10), 5: ("e" * 100, "e" * 100)})
    assert set(cache.known(second, [2, 3, 4, 5])) == {2, 3, 4}, "what fits in the bound is kept, not more"
