"""A staff member or a monitoring partner enters a report for a worker they met, and the worker
leaves with a printed receipt slip in their own language, shown once and kept nowhere."""

import io
import json
import re

import pytest
from accounts import passphrase_of, totp_secret_of
from evidence import stored_files
from flask_babel import force_locale, gettext
from inbox_pages import log_in
from PIL import Image
from reporter_pages import csrf_token, draft_id, log_in_with_receipt, receipt_on
from sqlalchemy import select
from stored_rows import stored_text_anywhere

from portal.models import AuditEntry, Case, CaseItem, Keyholder, User
from portal.services import users

PAGE = "/inbox/report-for-a-worker"
ONION = "portal" + "a" * 50 + ".onion"
USER_WORK_FACTOR = 10


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def entered_fields(page, facility, **overrides):
    fields = {"csrf_token": csrf_token(page), "submission": draft_id(page), "channel": "phone",
              "worker_language": "vi", "facility": str(facility), "categories": ["wages"],
              "description": "Overtime in October was not paid.", "ongoing": "yes",
              "people_affected": "many", "consent": "none", "recipient_choice": "contractor"}
    fields.update(overrides)
    return fields


def enter_report(client, facility, files=None, **overrides):
    page = client.get(PAGE)
    assert page.status_code == 200
    data = entered_fields(page, facility, **overrides)
    data.update(files or {})
    return client.post(PAGE, data=data, content_type="multipart/form-data")


def in_language(app, language, text):
    with app.test_request_context(), force_locale(language):
        return gettext(text)


@pytest.fixture
def partner(session_factory, recovery_identity):
    """Lan, a monitoring partner's interviewer: she enters reports and can do nothing else."""
    with session_factory() as session:
        return users.create(session, "lan", "Lan", "intake_partner", passphrase_of("lan"),
                            work_factor=USER_WORK_FACTOR, totp_secret=totp_secret_of("lan")).id


def stored(app):
    with app.extensions["portal.sessions"]() as session:
        cases = session.scalars(select(Case)).all()
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "report_entered")).all()
        holders = {(k.case_id, k.user_id) for k in session.scalars(select(Keyholder))}
        return cases, entries, holders


def test_an_investigator_enters_a_phone_report_and_the_worker_gets_a_vietnamese_slip_once(
        app, client, investigators, facility_ids):
    anna = investigators["anna"][0]
    log_in(client, "anna")
    slip = enter_report(client, facility_ids[0], files={"photo": [(io.BytesIO(photo()), "IMG_2041.jpg")]})

    assert slip.status_code == 200
    html = slip.get_data(as_text=True)
    assert slip.headers["Cache-Control"] == "no-store"
    # The worker's language, forced: the slip reads in Vietnamese, the note to Anna in English.
    assert '<html lang="vi"' in html
    assert in_language(app, "vi", "Your report was received") in html
    assert in_language(app, "vi", "Your report was received") != "Your report was received"
    assert "give the paper to the worker" in html
    # The slip: the receipt grouped in fours, the follow-up address, the promises with their dates.
    receipt = receipt_on(slip)
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", receipt)
    assert "http://127.0.0.1:5000/vi/follow-up" in html
    assert "Tor" not in html and "SMS" not in html  # no onion address, no SMS number configured
    # No navigation: nothing on the page to click but the paper's words.
    assert "<nav" not in html and "Log out" not in html

    cases, entries, holders = stored(app)
    assert len(cases) == 1
    case = cases[0]
    assert (case.language, case.channel) == ("vi", "phone")
    assert [(e.actor_user_id, e.case_id, json.loads(e.detail)) for e in entries] == [
        (anna.id, case.id, {"channel": "phone"})]
    # Routed as any report: both default recipients hold it, and Anna only because routing made her one.
    assert holders == {(case.id, investigators["anna"][0].id), (case.id, investigators["binh"][0].id)}
    # Anna reads it because routing made her a keyholder; the case says how it came in.
    case_page = client.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert "Entered for the worker by staff" in case_page and "Phone call" in case_page
    # The photo went through the same cleaning as a worker's upload.
    [(content_type, _record, data)] = stored_files(app, investigators["binh"][1])
    assert content_type == "image/jpeg" and data != photo()


def test_reload_or_back_after_the_slip_shows_nothing_and_nothing_keeps_the_receipt(
        app, client, investigators, facility_ids):
    app.config.update(ONION_ADDRESS=ONION, SMS_NUMBER="+84 90 000 0000")
    log_in(client, "anna")
    page = client.get(PAGE)
    fields = entered_fields(page, facility_ids[0], worker_language="en")
    slip = client.post(PAGE, data=dict(fields), content_type="multipart/form-data")
    receipt = receipt_on(slip)
    # The ways back the slip gives: the web, the onion address and the SMS number the instance has.
    html = slip.get_data(as_text=True)
    for address in ("http://127.0.0.1:5000/en/follow-up", f"http://{ONION}/en/follow-up",
                    "+84 90 000 0000"):
        assert address in html
    digits = receipt.replace(" ", "")

    resent = client.post(PAGE, data=dict(fields), content_type="multipart/form-data")
    assert resent.status_code == 409
    body = resent.get_data(as_text=True)
    assert digits not in body.replace(" ", "") and receipt not in body
    assert len(stored(app)[0]) == 1
    # Neither the staff member's cookie nor any row of the database holds the receipt.
    for cookie in client._cookies.values():
        assert digits not in cookie.value
    assert stored_text_anywhere(app, digits) == [] and stored_text_anywhere(app, receipt) == []

    # The slip's receipt opens the worker's follow-up page.
    opened = log_in_with_receipt(app.test_client(), receipt, lang="en")
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/en/case")


def test_a_partner_interviewer_enters_reports_and_sees_no_case_not_even_her_own(
        app, client, investigators, facility_ids, partner):
    log_in(client, "lan")
    home = client.get("/inbox/")
    assert home.status_code == 303 and home.headers["Location"].endswith(PAGE)
    slip = enter_report(client, facility_ids[1], channel="partner_interview", worker_language="en")
    assert slip.status_code == 200

    cases, entries, holders = stored(app)
    [case] = cases
    assert [(e.actor_user_id, json.loads(e.detail)) for e in entries] == [(partner, {"channel": "partner_interview"})]
    assert partner not in {user_id for _, user_id in holders} and holders
    for path in (f"/inbox/cases/{case.id}", "/inbox/search", "/inbox/claims/", "/admin/users",
                 "/oversight/statistics", "/oversight/"):
        assert client.get(path).status_code == 404, path
    assert "Find a case" not in client.get(PAGE).get_data(as_text=True)


def test_an_investigator_who_enters_a_report_holds_it_only_if_routing_says_so(
        app, client, investigators, colleague, facility_ids):
    chandra = colleague[0]
    log_in(client, "chandra")
    assert enter_report(client, facility_ids[0], channel="letter").status_code == 200
    [case], _entries, holders = stored(app)
    assert chandra.id not in {user_id for _, user_id in holders}
    assert client.get(f"/inbox/cases/{case.id}").status_code == 404


def test_bad_input_is_told_in_the_staff_members_language_and_nothing_is_stored(
        app, client, session_factory, investigators, facility_ids):
    with session_factory() as session:
        session.get(User, investigators["anna"][0].id).language = "fr"
        session.commit()
    log_in(client, "anna")
    missing = enter_report(client, facility_ids[0], description="", channel="", worker_language="vi")
    assert missing.status_code == 400
    html = missing.get_data(as_text=True)
    # Anna reads French; the worker's Vietnamese is for the slip alone.
    for message in ("Please check the fields marked below.", "Please tell us what happened."):
        assert in_language(app, "fr", message) in html and in_language(app, "fr", message) != message
    assert '<html lang="fr"' in html

    both = enter_report(client, facility_ids[0], recipient_choice="both", consent="none")
    assert both.status_code == 400

    odd = enter_report(client, facility_ids[0], channel="carrier_pigeon", worker_language="xx")
    assert odd.status_code == 400

    page = client.get(PAGE)
    forged = client.post(PAGE, data=entered_fields(page, facility_ids[0], csrf_token="forged"),
                         content_type="multipart/form-data")
    assert forged.status_code == 400
    cases, entries, _ = stored(app)
    assert cases == [] and entries == []
    with app.extensions["portal.sessions"]() as session:
        assert session.scalars(select(CaseItem)).all() == []


def test_only_handlers_and_partner_interviewers_may_enter_a_report(app, client, session_factory, recovery_identity,
                                                                   investigators):
    with session_factory() as session:
        users.create(session, "mona", "Mona", "monitor", passphrase_of("mona"), work_factor=USER_WORK_FACTOR,
                     totp_secret=totp_secret_of("mona"))
    log_in(client, "mona")
    assert client.get(PAGE).status_code == 404
    assert app.test_client().get(PAGE).status_code == 303  # not logged in: to the log-in page
