"""A flood of submissions cannot make a worker lose a report.

The Argon2id of a receipt and the cleaning of a file run in the server's
bounded slots (``work_slots``), shared by every process of a node. When they
stay taken, the worker who pressed Send gets "We are busy", with everything
they wrote and chose still in the form and their files kept: nothing is
stored and no receipt is shown, and the same form sent a minute later stores
one report. A follow-up open and the claim forms behave the same. Anonymous
uploads have a budget per day: the excess is refused file by file, politely,
in the worker's language, and the rest still goes.
"""

import html
import io
import multiprocessing
import os
import re
import threading
from datetime import timedelta

import pytest
from accounts import passphrase_of, totp_secret_of
from flask_babel import force_locale, gettext
from PIL import Image
from reporter_pages import RECEIPT, csrf_token, draft_id, log_in_with_receipt, open_form, receipt_on, report_fields
from sqlalchemy import func, select

from portal import create_app
from portal.models import Budget, Case, CaseItem, KeptFile
from portal.services import clock, receipts, upload_budget, users, work_slots

BUSY = "We are busy. Please try again in a minute: everything you wrote and chose is kept below."
BUSY_OPENING = "We are busy. Please try again in a minute."
OVER_BUDGET = ('"%(name)s" could not be sent: we cannot take more files today. '
               'You can send the rest now without it, and this file tomorrow.')
KEPT_PHOTO = re.compile(r"Kept: Photo, [0-9.,]+\s?[kM]B")
DESCRIPTION = "Overtime on Sundays is not paid, and the line leader keeps our passports."


@pytest.fixture
def crowded_app(app_config, investigators, facility_ids):
    """The portal with one Argon2id slot and one cleaning slot, and no wait for either."""
    application = create_app(dict(app_config, ARGON2_SLOTS=1, ARGON2_WAIT_SECONDS=0, CLEANING_SLOTS=1,
                                  CLEANING_WAIT_SECONDS=0))
    application.config["TESTING"] = True
    yield application
    application.extensions["portal.engine"].dispose()


def photo(colour=(20, 120, 200)):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def big_photo():
    """A photo of noise, more than the 1 MB a test day allows."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (1200, 900), os.urandom(1200 * 900 * 3)).save(buffer, "JPEG", quality=95)
    assert len(buffer.getvalue()) > 1024 * 1024
    return buffer.getvalue()


def text_of(response):
    return html.unescape(response.get_data(as_text=True))


def translated(app, lang, message, **values):
    with app.test_request_context(f"/{lang}/"), force_locale(lang):
        return gettext(message, **values)


def count(app, table, *where):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(table).where(*where))


def the_full_form(facility, page):
    """A report with every kind of answer filled in: text, boxes, choices, a checkbox."""
    fields = report_fields(facility, categories=["wages", "forced_labour"], description=DESCRIPTION,
                           when="Since March", ongoing="no", people_affected="few", immediate_danger="y",
                           contact="Signal +84 555 0199", consent="with_identity")
    fields.update(csrf_token=csrf_token(page), submission=draft_id(page))
    return fields


def post(client, url, fields, files=None):
    return client.post(url, data={**fields, **(files or {})}, content_type="multipart/form-data")


def assert_everything_kept(page, facility):
    text = text_of(page)
    for written in (DESCRIPTION, "Since March", "Signal +84 555 0199"):
        assert written in text, written
    body = page.get_data(as_text=True)
    for name, value in (("categories", "wages"), ("categories", "forced_labour"), ("ongoing", "no"),
                        ("people_affected", "few"), ("consent", "with_identity"), ("immediate_danger", "y")):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*value="{value}"[^>]*>', body)
        assert tag and "checked" in tag.group(0), f"{name}={value} is still chosen"
    assert re.search(rf'<option[^>]*selected[^>]*value="{facility}"|<option[^>]*value="{facility}"[^>]*selected',
                     body), "the workplace is still chosen"


def test_when_every_argon2id_slot_stays_taken_the_report_comes_back_busy_and_goes_once_a_minute_later(
        crowded_app, facility_ids):
    worker = crowded_app.test_client()
    page = open_form(worker)
    fields = the_full_form(facility_ids[0], page)
    with work_slots.held(work_slots.ARGON2):
        busy = post(worker, "/en/report", fields, {"photo": [(io.BytesIO(photo()), "IMG_0042.jpg")]})
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "60"
    assert BUSY in text_of(busy)
    assert_everything_kept(busy, facility_ids[0])
    assert KEPT_PHOTO.search(text_of(busy)), "the photo is kept for the next send"
    assert not RECEIPT.search(busy.get_data(as_text=True)), "no receipt for a report that was not stored"
    assert count(crowded_app, Case) == 0

    sent = post(worker, "/en/report", dict(fields, csrf_token=csrf_token(busy)))
    assert sent.status_code == 200
    receipt = receipt_on(sent)
    assert (count(crowded_app, Case), count(crowded_app, CaseItem, CaseItem.kind == "attachment")) == (1, 1)
    assert count(crowded_app, KeptFile) == 0

    again = post(worker, "/en/report", dict(fields, csrf_token=csrf_token(busy)))
    assert receipt_on(again) == receipt, "sent twice, stored once"
    assert count(crowded_app, Case) == 1
    assert log_in_with_receipt(crowded_app.test_client(), receipts.normalise(receipt)).status_code == 303


def test_a_report_already_stored_but_sent_again_while_busy_is_not_lost_and_its_receipt_comes_next_time(
        crowded_app, facility_ids):
    worker = crowded_app.test_client()
    fields = the_full_form(facility_ids[0], open_form(worker))
    receipt = receipt_on(post(worker, "/en/report", fields))
    with work_slots.held(work_slots.ARGON2):
        busy = post(worker, "/en/report", fields)
    assert busy.status_code == 503
    assert BUSY in text_of(busy)
    assert receipt not in busy.get_data(as_text=True)
    assert receipt_on(post(worker, "/en/report", fields)) == receipt
    assert count(crowded_app, Case) == 1


def test_a_follow_up_open_while_busy_asks_to_try_again_without_writing_the_receipt_back(crowded_app, facility_ids):
    reporter = crowded_app.test_client()
    receipt = receipt_on(post(reporter, "/en/report", the_full_form(facility_ids[0], open_form(reporter))))
    worker = crowded_app.test_client()
    page = worker.get("/th/follow-up")
    with work_slots.held(work_slots.ARGON2):
        busy = worker.post("/th/follow-up", data={"csrf_token": csrf_token(page), "receipt": receipt})
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "60"
    assert translated(crowded_app, "th", BUSY_OPENING) in text_of(busy)
    body = busy.get_data(as_text=True)
    for written in (receipt, receipts.normalise(receipt), receipt[-4:]):
        assert written not in body, "the receipt is never echoed into a page"
    assert worker.get("/th/case").status_code == 303, "nothing was opened"

    assert log_in_with_receipt(worker, receipt, lang="th").status_code == 303
    assert DESCRIPTION in text_of(worker.get("/th/case"))


@pytest.fixture
def retaliation_officer(session_factory, recovery_identity):
    with session_factory() as session:
        users.create(session, "rosa", "Rosa", "retaliation_officer", passphrase_of("rosa"), work_factor=10,
                     totp_secret=totp_secret_of("rosa"))


def test_a_claim_from_the_start_page_while_busy_keeps_everything_and_stores_once_after(
        crowded_app, facility_ids, retaliation_officer):
    worker = crowded_app.test_client()
    page = worker.get("/ms/retaliation")
    token = re.search(r'name="submission" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    fields = {"csrf_token": csrf_token(page), "submission": token, "facility": str(facility_ids[1]),
              "types": ["licence_cancelled"], "by_whom": "Ejen pengambilan",
              "description": "Permit kerja saya dibatalkan selepas saya mengadu."}
    with work_slots.held(work_slots.ARGON2):
        busy = post(worker, "/ms/retaliation", fields, {"photo": [(io.BytesIO(photo()), "surat.jpg")]})
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "60"
    text = text_of(busy)
    assert translated(crowded_app, "ms", BUSY) in text
    assert "Permit kerja saya dibatalkan selepas saya mengadu." in text and "Ejen pengambilan" in text
    assert "checked" in re.search(r'<input[^>]*value="licence_cancelled"[^>]*>', busy.get_data(as_text=True)).group(0)
    assert not RECEIPT.search(busy.get_data(as_text=True))
    assert count(crowded_app, Case) == 0

    sent = post(worker, "/ms/retaliation", dict(fields, csrf_token=csrf_token(busy)))
    assert sent.status_code == 200
    receipt_on(sent)
    assert (count(crowded_app, Case), count(crowded_app, CaseItem, CaseItem.kind == "attachment")) == (1, 1)


def test_a_claim_from_the_follow_up_page_while_the_cleaners_are_busy_keeps_the_text_and_goes_after(
        crowded_app, facility_ids):
    worker = crowded_app.test_client()
    receipt = receipt_on(post(worker, "/vi/report", the_full_form(facility_ids[0], open_form(worker, "vi"))))
    assert log_in_with_receipt(worker, receipt, lang="vi").status_code == 303
    page = worker.get("/vi/case/claim")
    token = re.search(r'name="submission" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    fields = {"csrf_token": csrf_token(page), "submission": token, "types": ["dismissal"],
              "description": "Tôi bị đuổi việc hai ngày sau khi gửi báo cáo."}
    with work_slots.held(work_slots.CLEANING):
        busy = post(worker, "/vi/case/claim", fields, {"photo": [(io.BytesIO(photo()), "thu.jpg")]})
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "60"
    assert "Tôi bị đuổi việc hai ngày sau khi gửi báo cáo." in text_of(busy)
    assert count(crowded_app, Case, Case.kind == "retaliation") == 0

    sent = post(worker, "/vi/case/claim", dict(fields, csrf_token=csrf_token(busy)),
                {"photo": [(io.BytesIO(photo()), "thu.jpg")]})
    assert sent.status_code == 303
    assert count(crowded_app, Case, Case.kind == "retaliation") == 1


# The day's budget of anonymous uploads


def test_uploads_past_the_days_budget_are_refused_by_name_in_the_workers_language_and_the_rest_goes(
        app_config, investigators, facility_ids):
    app = create_app(dict(app_config, UPLOAD_MB_PER_DAY=1))
    app.config["TESTING"] = True
    try:
        worker = app.test_client()
        page = open_form(worker, "fr")
        fields = the_full_form(facility_ids[0], page)
        came_back = post(worker, "/fr/report", fields, {"photo": [(io.BytesIO(photo()), "IMG_0042.jpg")],
                                                        "files": [(io.BytesIO(big_photo()), "atelier.jpg")]})
        assert came_back.status_code == 507
        refusal = translated(app, "fr", OVER_BUDGET, name="\u2068atelier.jpg\u2069")
        assert refusal in text_of(came_back)
        assert 'lang="fr"' in came_back.get_data(as_text=True)
        assert_everything_kept(came_back, facility_ids[0])
        assert count(app, KeptFile) == 1, "the photo that fit is kept"
        assert count(app, Case) == 0

        sent = post(worker, "/fr/report", dict(fields, csrf_token=csrf_token(came_back)))
        assert sent.status_code == 200
        receipt_on(sent)
        assert count(app, CaseItem, CaseItem.kind == "attachment") == 1

        with app.extensions["portal.sessions"]() as session:
            budget = session.get(Budget, upload_budget.NAME)
            assert clock.as_utc(budget.window_start) == clock.start_of_today(), "the day, never the hour"
    finally:
        app.extensions["portal.engine"].dispose()



def test_a_file_the_busy_cleaners_never_took_does_not_count_against_the_day(
        app_config, investigators, facility_ids):
    """Sent again and again while the cleaners are busy, one photo counts once, when it is taken."""
    app = create_app(dict(app_config, UPLOAD_MB_PER_DAY=1, CLEANING_SLOTS=1, CLEANING_WAIT_SECONDS=0))
    app.config["TESTING"] = True
    try:
        worker = app.test_client()
        page = open_form(worker, "en")
        fields = the_full_form(facility_ids[0], page)
        evidence = photo_of_size(400 * 1024)
        with work_slots.held(work_slots.CLEANING):
            for _ in range(4):  # 1.6 MB in all, past the day's 1 MB if each were counted
                page = post(worker, "/en/report", dict(fields, csrf_token=csrf_token(page)),
                            {"photo": [(io.BytesIO(evidence), "line.jpg")]})
                assert page.status_code == 503
        sent = post(worker, "/en/report", dict(fields, csrf_token=csrf_token(page)),
                    {"photo": [(io.BytesIO(evidence), "line.jpg")]})
        assert sent.status_code == 200, text_of(sent)
        receipt_on(sent)
        assert count(app, CaseItem, CaseItem.kind == "attachment") == 1
        with app.extensions["portal.sessions"]() as session:
            assert session.get(Budget, upload_budget.NAME).used == 400
    finally:
        app.extensions["portal.engine"].dispose()



def test_a_file_refused_for_the_days_budget_goes_the_next_day_as_the_page_promises(
        app_config, investigators, facility_ids, monkeypatch):
    app = create_app(dict(app_config, UPLOAD_MB_PER_DAY=1))
    app.config["TESTING"] = True
    try:
        evidence = photo_of_size(700 * 1024)
        worker = app.test_client()
        first = post(worker, "/en/report", the_full_form(facility_ids[0], open_form(worker, "en")),
                     {"photo": [(io.BytesIO(evidence), "line.jpg")]})
        assert first.status_code == 200
        worker = app.test_client()
        refused = post(worker, "/en/report", the_full_form(facility_ids[0], open_form(worker, "en")),
                       {"photo": [(io.BytesIO(evidence), "gate.jpg")]})
        assert refused.status_code == 507

        today = clock.now()
        monkeypatch.setattr(clock, "now", lambda: today + timedelta(days=1))
        tomorrow = app.test_client()
        sent = post(tomorrow, "/en/report", the_full_form(facility_ids[0], open_form(tomorrow, "en")),
                    {"photo": [(io.BytesIO(evidence), "gate.jpg")]})
        assert sent.status_code == 200, text_of(sent)
        receipt_on(sent)
        assert count(app, CaseItem, CaseItem.kind == "attachment") == 2
    finally:
        app.extensions["portal.engine"].dispose()

def photo_of_size(size):
    """A JPEG of noise padded with a comment to exactly ``size`` bytes (under the day's budget)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (200, 150), os.urandom(200 * 150 * 3)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    assert len(data) < size
    return data + b"\0" * (size - len(data))

# A Redis database of this test's own per run: CI runs the suite on SQLite and on PostgreSQL at the
# same time (tests/portal/test_several_nodes.py uses 14 and 15).
REDIS_URL = "redis://127.0.0.1:6379/" + ("12" if os.environ.get("PORTAL_TEST_DATABASE_URL") else "13")


@pytest.mark.parametrize("store", ["database", "redis"])
def test_the_days_budget_holds_when_many_uploads_count_at_once(app_config, investigators, facility_ids, store):
    redis_url = ""
    if store == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
        except redis.RedisError:
            pytest.skip("Redis does not answer at 127.0.0.1:6379")
        redis_url = REDIS_URL
    app = create_app(dict(app_config, UPLOAD_MB_PER_DAY=1, REDIS_URL=redis_url))
    taken, lock = [], threading.Lock()

    def upload(size):
        with app.extensions["portal.sessions"]() as session:
            fits = upload_budget.take(session, app.config, size)
        with lock:
            taken.append((size, fits))

    threads = [threading.Thread(target=upload, args=(100 * 1024,)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [fits for _size, fits in taken].count(True) == 10, "ten files of 100 KiB fill the day's 1 MB, no more"
    upload(30 * 1024)
    upload(24 * 1024)
    assert taken[-2:] == [(30 * 1024, False), (24 * 1024, True)], "a file refused takes nothing: the 24 KiB left fit"
    app.extensions["portal.engine"].dispose()
    if redis_url:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()


# The slots themselves


@pytest.fixture
def slots_folder(tmp_path):
    yield tmp_path
    work_slots.configure(tmp_path)  # the defaults again, for whatever runs next without an app


def _hold_a_slot(directory, results, release):
    work_slots.configure(directory, {work_slots.ARGON2: work_slots.Pool(2, 0)}, per_process=3)
    try:
        with work_slots.held(work_slots.ARGON2):
            results.put("held")
            release.wait(60)
    except work_slots.Busy:
        results.put("busy")


def test_processes_never_hold_more_argon2id_slots_than_there_are(slots_folder):
    context = multiprocessing.get_context("fork")
    results, release = context.Queue(), context.Event()
    children = [context.Process(target=_hold_a_slot, args=(slots_folder, results, release)) for _ in range(4)]
    for child in children:
        child.start()
    try:
        outcomes = sorted(results.get(timeout=60) for _ in children)
        assert outcomes == ["busy", "busy", "held", "held"]
    finally:
        release.set()
        for child in children:
            child.join(60)
    work_slots.configure(slots_folder, {work_slots.ARGON2: work_slots.Pool(2, 0)})
    with work_slots.held(work_slots.ARGON2), work_slots.held(work_slots.ARGON2):
        pass  # both slots free again once their holders let go


def test_a_process_keeps_one_thread_for_pages_whatever_waits_for_a_slot(slots_folder):
    work_slots.configure(slots_folder, {work_slots.ARGON2: work_slots.Pool(4, 0),
                                        work_slots.CLEANING: work_slots.Pool(4, 0)}, per_process=1)
    with work_slots.held(work_slots.ARGON2):
        for name in (work_slots.ARGON2, work_slots.CLEANING):
            with pytest.raises(work_slots.Busy):
                with work_slots.held(name):
                    pass
    with work_slots.held(work_slots.CLEANING):
        pass


def test_argon2id_runs_below_the_pages_priority(slots_folder):
    work_slots.configure(slots_folder, {work_slots.ARGON2: work_slots.Pool(1, 0)})

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert work_slots.run(work_slots.ARGON2, niceness) >= min(19, niceness() + work_slots.NICENESS)


def test_receipts_sent_while_the_server_is_busy_leave_the_budget_to_the_worker_after(crowded_app, facility_ids):
    """Busy, nothing is looked up: the receipt is asked again in a minute, and the busy moment has
    not used up the instance's budget of look-ups for that minute."""
    crowded_app.config["RECEIPT_ATTEMPTS_PER_MINUTE"] = 2
    worker = crowded_app.test_client()
    receipt = receipt_on(post(worker, "/en/report", the_full_form(facility_ids[0], open_form(worker, "en"))))
    with work_slots.held(work_slots.ARGON2):
        statuses = [log_in_with_receipt(crowded_app.test_client(), receipt).status_code for _ in range(4)]
    assert statuses == [503] * 4
    assert log_in_with_receipt(crowded_app.test_client(), receipt).status_code == 303
