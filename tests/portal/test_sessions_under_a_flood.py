"""Visitors who only look at a form store nothing: a flood of them cannot fill the disk.

Anyone can ask for a form without a cookie, as fast as they like, and behind
Tor every client comes from one address. Such a session holds only its CSRF
token, derived from its cookie's key, with its deadlines sealed in the cookie:
no row is written until the session must hold more (issue 16).
"""

import base64
from datetime import timedelta

import pytest
from inbox_pages import log_in
from reporter_pages import csrf_token, draft_id, log_in_with_receipt, open_form, receipt_on, report_fields
from sqlalchemy import text

from portal.services import clock

FORM_PAGES = ["/en/report", "/vi/report", "/en/retaliation", "/en/follow-up", "/inbox/login"]
OPEN_TOO_LONG = "This form was open too long. Please press Send again."


def stored_sessions(app) -> int:
    with app.extensions["portal.engine"].connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM web_sessions"))


def cases(app) -> int:
    with app.extensions["portal.engine"].connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM cases"))


def session_cookie(client) -> str:
    return client.get_cookie("portal_session").value


def post_report(client, facility, token, form):
    data = report_fields(facility, description="Wages late again", csrf_token=token, submission=draft_id(form))
    return client.post("/en/report", data=data, content_type="multipart/form-data")


def bad_tokens(app):
    other = app.test_client()
    return ["", "forged", csrf_token(other.get("/en/report")), "x" * 200]


def test_a_flood_of_visitors_without_cookies_stores_no_session(app, facility_ids):
    flood = app.test_client(use_cookies=False)
    for page in FORM_PAGES:
        for _visit in range(25):
            answer = flood.get(page)
            assert answer.status_code == 200 and csrf_token(answer)
    assert stored_sessions(app) == 0


@pytest.mark.parametrize("page", ["/en/report", "/en/retaliation", "/en/follow-up", "/inbox/login"])
def test_a_flood_of_posts_failing_their_token_stores_no_session(app, facility_ids, page):
    flood = app.test_client(use_cookies=False)
    fields = {"/en/report": report_fields(facility_ids[0]),
              "/en/retaliation": {"types": ["dismissal"], "description": "Moved to nights.",
                                  "facility": str(facility_ids[0])},
              "/en/follow-up": {"receipt": "1234 5678 9012 3456"},
              "/inbox/login": {"username": "anna", "passphrase": "wrong", "code": "000000"}}[page]
    for token in bad_tokens(app):
        for _attempt in range(5):
            refused = flood.post(page, data={**fields, "csrf_token": token}, content_type="multipart/form-data")
            assert refused.status_code in (400, 403), refused.status_code
    assert stored_sessions(app) == 0
    assert cases(app) == 0


def test_after_the_flood_a_worker_reports_and_follows_up_with_only_their_session_stored(app, facility_ids):
    flood = app.test_client(use_cookies=False)
    for _visit in range(50):
        flood.get("/en/report")
    worker = app.test_client()
    form = open_form(worker)
    assert len(session_cookie(worker).split(".")) == 3, "a light session: all in the cookie"
    sent = post_report(worker, facility_ids[0], csrf_token(form), form)
    assert sent.status_code == 200 and receipt_on(sent)
    assert cases(app) == 1
    assert stored_sessions(app) == 0, "sending a report leaves the session holding nothing but its token"
    assert log_in_with_receipt(worker, receipt_on(sent)).status_code == 303
    assert worker.get("/en/case").status_code == 200
    assert stored_sessions(app) == 1, "the opened case is the one session stored"


def test_the_token_of_a_light_session_works_while_each_visit_comes_within_the_idle_minutes(
        app, facility_ids, monkeypatch):
    worker = app.test_client()
    form = open_form(worker)
    real_now = clock.now
    idle = timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"])
    monkeypatch.setattr(clock, "now", lambda: real_now() + idle - timedelta(minutes=1))
    assert worker.get("/en/report").status_code == 200, "a visit counts the idle time from then"
    monkeypatch.setattr(clock, "now", lambda: real_now() + 2 * idle - timedelta(minutes=2))
    sent = post_report(worker, facility_ids[0], csrf_token(form), form)
    assert sent.status_code == 200 and receipt_on(sent)
    assert cases(app) == 1


def test_the_token_of_a_light_session_is_refused_after_the_idle_minutes(app, facility_ids, monkeypatch):
    worker = app.test_client()
    form = open_form(worker)
    real_now = clock.now
    idle = timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"])
    monkeypatch.setattr(clock, "now", lambda: real_now() + idle + timedelta(minutes=1))
    refused = post_report(worker, facility_ids[0], csrf_token(form), form)
    assert refused.status_code == 400
    assert OPEN_TOO_LONG in refused.get_data(as_text=True)
    assert "Wages late again" in refused.get_data(as_text=True), "what was written is kept"
    assert cases(app) == 0 and stored_sessions(app) == 0
    sent = post_report(worker, facility_ids[0], csrf_token(refused), refused)
    assert sent.status_code == 200 and cases(app) == 1, "the form sent again goes through"


def test_the_token_of_a_light_session_is_refused_after_two_hours_however_often_it_comes(
        app, facility_ids, monkeypatch):
    worker = app.test_client()
    form = open_form(worker)
    real_now = clock.now
    step = timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"] - 1)
    elapsed = timedelta()
    while elapsed + step < timedelta(hours=2):
        elapsed += step
        monkeypatch.setattr(clock, "now", lambda at=elapsed: real_now() + at)
        assert worker.get("/en/").status_code in (200, 302, 303)
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=2, minutes=1))
    refused = post_report(worker, facility_ids[0], csrf_token(form), form)
    assert refused.status_code == 400 and OPEN_TOO_LONG in refused.get_data(as_text=True)
    assert cases(app) == 0


def test_a_token_is_refused_with_another_sessions_cookie(app, facility_ids):
    worker, other = app.test_client(), app.test_client()
    form = open_form(worker)
    open_form(other)
    refused = post_report(other, facility_ids[0], csrf_token(form), form)
    assert refused.status_code == 400 and OPEN_TOO_LONG in refused.get_data(as_text=True)
    assert cases(app) == 0


def _tampered(cookie: str, other: str) -> list[str]:
    session_id, key, stamp = cookie.split(".")
    other_id, other_key, other_stamp = other.split(".")
    flipped = base64.urlsafe_b64encode(bytes([base64.urlsafe_b64decode(stamp + "==")[0] ^ 1])).decode()[:2]
    return [
        f"{session_id}.{key}.{other_stamp}",        # deadlines cut from another cookie
        f"{other_id}.{key}.{stamp}",                # another id
        f"{session_id}.{other_key}.{stamp}",        # another key
        f"{session_id}.{key}.{flipped}{stamp[2:]}",  # a bit changed
        f"{session_id}.{key}.{stamp[:-4]}",          # cut short
        f"{session_id}.{key}.",                     # no deadlines
        f"{session_id}.{key}.{stamp}.x",
        f"{session_id}.{key}",                      # read as a stored session that is not there
        f"{'A' * 43}.{'B' * 43}.{stamp}",
        "...",
        f"{session_id}.{key}.!!!!",
    ]


def test_a_light_cookie_changed_in_any_way_starts_afresh_and_its_token_is_refused(app, facility_ids):
    attacker = app.test_client()
    form = open_form(attacker)
    cookie, other = session_cookie(attacker), session_cookie(_with_form(app))
    for changed in _tampered(cookie, other):
        attacker.set_cookie("portal_session", changed)
        refused = post_report(attacker, facility_ids[0], csrf_token(form), form)
        assert refused.status_code == 400 and OPEN_TOO_LONG in refused.get_data(as_text=True), changed
    assert cases(app) == 0 and stored_sessions(app) == 0


def _with_form(app):
    client = app.test_client()
    open_form(client)
    return client


def test_the_cookie_says_nothing_of_the_time_in_clear(app):
    client = _with_form(app)
    cookie = session_cookie(client)
    stamp = base64.urlsafe_b64decode(cookie.split(".")[2] + "==")
    for moment in (clock.now(), clock.now() + timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"])):
        for clear in (moment.isoformat()[:13], moment.strftime("%Y-%m-%d"), str(int(moment.timestamp()))[:6]):
            assert clear.encode() not in stamp and clear not in cookie


def test_a_planted_cookie_never_becomes_the_stored_session_of_a_worker_who_opens_a_case(app, facility_ids):
    owner = app.test_client()
    form = open_form(owner)
    receipt = receipt_on(post_report(owner, facility_ids[0], csrf_token(form), form))
    attacker = _with_form(app)
    planted = session_cookie(attacker)
    victim = app.test_client()
    victim.set_cookie("portal_session", planted)
    assert log_in_with_receipt(victim, receipt).status_code == 303
    assert victim.get("/en/case").status_code == 200
    assert session_cookie(victim).split(".")[0] != planted.split(".")[0]
    assert attacker.get("/en/case").status_code == 303, "the planted cookie does not open the case"
    assert attacker.get("/en/case").headers["Location"].endswith("/en/follow-up")


def test_a_planted_cookie_never_becomes_the_stored_session_of_a_worker_whose_files_are_kept(app, facility_ids):
    import io

    from PIL import Image

    attacker = _with_form(app)
    planted = session_cookie(attacker)
    victim = app.test_client()
    victim.set_cookie("portal_session", planted)
    form = open_form(victim)
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 200)).save(picture, "JPEG")
    picture.seek(0)
    data = report_fields(facility_ids[0], description="Wages late again")
    data.update(csrf_token="expired", submission=draft_id(form), photo=[(picture, "a.jpg")])
    came_back = victim.post("/en/report", data=data, content_type="multipart/form-data")
    assert came_back.status_code == 400 and stored_sessions(app) == 1, "the kept photo needs a stored session"
    assert session_cookie(victim).split(".")[0] != planted.split(".")[0]
    assert len(session_cookie(victim).split(".")) == 2


def test_a_planted_cookie_never_becomes_an_investigators_session(app):
    attacker = _with_form(app)
    planted = session_cookie(attacker)
    inbox = app.test_client()
    inbox.set_cookie("portal_session", planted)
    assert log_in(inbox, "anna").status_code == 303
    assert inbox.get("/inbox/").status_code == 200
    assert session_cookie(inbox).split(".")[0] != planted.split(".")[0]
    assert attacker.get("/inbox/").status_code in (302, 303), "the planted cookie is not signed in"


def test_the_log_in_form_of_a_light_session_is_refused_after_the_idle_minutes(app, monkeypatch):
    from accounts import passphrase_of
    from inbox_pages import current_code

    inbox = app.test_client()
    page = inbox.get("/inbox/login")
    real_now = clock.now
    idle = timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"])
    monkeypatch.setattr(clock, "now", lambda: real_now() + idle + timedelta(minutes=1))
    refused = inbox.post("/inbox/login", data={"csrf_token": csrf_token(page), "username": "anna",
                                                "passphrase": passphrase_of("anna"), "code": current_code("anna")})
    assert refused.status_code == 400 and "This form expired. Please try again." in refused.get_data(as_text=True)
    assert stored_sessions(app) == 0
    assert inbox.get("/inbox/").status_code in (302, 303), "not signed in"
