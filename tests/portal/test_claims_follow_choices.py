"""A retaliation claim reaches only the people the worker allowed.

A worker who reported, then is punished for it, files a claim. The claim
follows the worker's choices for the report: who receives it (the
contractor, Electronics Watch only, or both), the handlers the report left
out, conflicts of interest as they stand on the day of the claim, and the
handlers the claim form leaves out. Each test asks every user of the
instance to open the claim: exactly the allowed ones can.
"""

import re

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in, post_on_case
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import func, select

from portal.models import Case, Keyholder, User
from portal.services import routing, users

CLAIM_TEXT = "Two days after my report the line leader fired me."
NOBODY_MAY_READ = "Nobody you allowed to read this can receive it right now"


@pytest.fixture
def staff(session_factory, investigators, colleague):
    """Besides Anna and Binh (who receive new cases) and Chandra: three retaliation
    officers, Rosa, Olga and Tomas, and Max of Electronics Watch. Workers see Anna,
    Binh, Rosa and Tomas on the forms, to leave them out."""
    with session_factory() as session:
        for username, role in (("rosa", "retaliation_officer"), ("olga", "retaliation_officer"),
                               ("tomas", "retaliation_officer"), ("max", "monitor")):
            users.create(session, username, username.title(), role, passphrase_of(username), work_factor=10,
                         totp_secret=totp_secret_of(username))
        for user in session.scalars(select(User).where(User.username.in_(("anna", "binh", "rosa", "tomas")))):
            user.shown_to_reporters = True
        session.commit()
        return {user.username: user.id for user in session.scalars(select(User))}


def conflict_of_interest(session_factory, username, facility_id):
    with session_factory() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        routing.add_exclusion(session, user_id, facility_id=facility_id)


def worker_reports(app, facility_id, choice, left_out, staff):
    worker = app.test_client()
    sent = send_report(worker, facility_id, recipient_choice=choice,
                       excluded_handlers=[str(staff[name]) for name in left_out])
    assert sent.status_code == 200
    assert log_in_with_receipt(worker, receipt_on(sent)).status_code == 303
    return worker


def claim_form(worker, url="/en/case/claim"):
    form = worker.get(url)
    assert form.status_code == 200
    token = re.search(r'name="submission" type="hidden" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    return form, {"csrf_token": csrf_token(form), "submission": token, "types": ["dismissal"],
                  "description": CLAIM_TEXT}


def files_claim(worker, staff, left_out=()):
    form, data = claim_form(worker)
    data["about"] = [str(staff[name]) for name in left_out]
    return worker.post("/en/case/claim", data=data, content_type="multipart/form-data")


def the_claim(session_factory):
    with session_factory() as session:
        return session.scalars(select(Case.id).where(Case.kind == "retaliation")).one()


def who_can_open(app, claim_id, staff):
    """Every user of the instance tries the claim's page: the names of those who read it."""
    readers = set()
    for username in staff:
        client = app.test_client()
        assert log_in(client, username).status_code == 303, username
        page = client.get(f"/inbox/cases/{claim_id}")
        if page.status_code == 200 and CLAIM_TEXT in page.get_data(as_text=True):
            readers.add(username)
        elif page.status_code == 200:
            raise AssertionError(f"{username} sees the claim's page but cannot read the claim")
        else:
            assert page.status_code == 404, (username, page.status_code)
    return readers


def test_a_claim_to_the_contractor_skips_the_handlers_the_report_left_out_and_todays_conflicts(
        app, staff, facility_ids, session_factory):
    worker = worker_reports(app, facility_ids[0], "contractor", ["anna", "tomas"], staff)
    # Olga's conflict of interest with the workplace is declared after the report, before the claim.
    conflict_of_interest(session_factory, "olga", facility_ids[0])
    sent = files_claim(worker, staff)
    assert sent.status_code == 303
    claim_id = the_claim(session_factory)
    assert who_can_open(app, claim_id, staff) == {"binh", "rosa"}

    # Nor can a reader hand the claim on to anyone the worker or a conflict keeps out.
    binh = app.test_client()
    assert log_in(binh, "binh").status_code == 303
    for kept_out in ("anna", "tomas", "olga"):
        assert post_on_case(binh, claim_id, "keyholders", user=str(staff[kept_out])).status_code == 400, kept_out
    with session_factory() as session:
        assert set(session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)
                                   .where(Keyholder.case_id == claim_id))) == {"binh", "rosa"}


def test_the_claim_form_leaves_out_handlers_the_worker_ticks(app, staff, facility_ids, session_factory):
    worker = worker_reports(app, facility_ids[0], "contractor", [], staff)
    form, _data = claim_form(worker)
    offered = form.get_data(as_text=True)
    for name in ("Anna", "Binh", "Rosa", "Tomas"):  # the handlers shown to workers, not only the keyholders
        assert f"> {name}</label>" in offered or f">{name}</label>" in offered, name
    assert files_claim(worker, staff, left_out=["anna", "rosa"]).status_code == 303
    assert who_can_open(app, the_claim(session_factory), staff) == {"binh", "olga", "tomas"}


def test_a_claim_on_a_report_for_electronics_watch_only_reaches_the_monitor_only(
        app, staff, facility_ids, session_factory):
    worker = worker_reports(app, facility_ids[0], "monitor", ["anna"], staff)
    form, _data = claim_form(worker)
    assert NOBODY_MAY_READ not in form.get_data(as_text=True)
    assert files_claim(worker, staff).status_code == 303
    assert who_can_open(app, the_claim(session_factory), staff) == {"max"}


def test_a_monitor_only_claim_nobody_may_read_is_refused_and_nothing_is_stored(
        app, staff, facility_ids, session_factory):
    worker = worker_reports(app, facility_ids[0], "monitor", [], staff)
    # The monitor's conflict of interest leaves nobody the worker allowed: the officers must not step in.
    conflict_of_interest(session_factory, "max", facility_ids[0])
    form, _data = claim_form(worker)
    assert NOBODY_MAY_READ in form.get_data(as_text=True), "the worker is told before writing"
    refused = files_claim(worker, staff)
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert NOBODY_MAY_READ in page and CLAIM_TEXT in page, "the worker is told, and what they wrote is kept"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Case).where(Case.kind == "retaliation")) == 0


def test_a_claim_to_both_reaches_the_contractors_allowed_people_and_the_monitor(
        app, staff, facility_ids, session_factory):
    worker = worker_reports(app, facility_ids[0], "both", ["anna", "tomas"], staff)
    conflict_of_interest(session_factory, "olga", facility_ids[0])
    assert files_claim(worker, staff).status_code == 303
    assert who_can_open(app, the_claim(session_factory), staff) == {"binh", "rosa", "max"}


def test_a_claim_from_the_start_page_skips_conflicted_and_left_out_officers(
        app, staff, facility_ids, session_factory):
    conflict_of_interest(session_factory, "olga", facility_ids[0])
    worker = app.test_client()
    form, data = claim_form(worker, "/en/retaliation")
    assert "Tomas" in form.get_data(as_text=True)
    data.update(facility=str(facility_ids[0]), about=[str(staff["tomas"])])
    sent = worker.post("/en/retaliation", data=data, content_type="multipart/form-data")
    assert sent.status_code == 200 and receipt_on(sent)
    assert who_can_open(app, the_claim(session_factory), staff) == {"rosa"}
