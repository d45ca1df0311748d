"""A retaliation claim follows the worker's choices, in a real browser.

A worker who chose both the company's investigators and Electronics Watch,
on a phone (JavaScript off, Vietnamese) reports and
leaves handlers out, is then punished for reporting, comes back with the
receipt and files a claim from the follow-up page, ticking someone the claim
must not reach. Meanwhile an officer declared a conflict of interest with the
workplace. Every person of the instance then logs in at a desk and tries to
open the claim: those the worker allowed read it, everyone else gets 404.
"""

import uuid

import pytest
from accounts import passphrase_of, totp_secret_of
from sqlalchemy import select
from test_inbox_in_browser import log_in, submit
from test_reporter_in_browser import send_and_read_receipt

from portal.models import Case, User
from portal.services import routing, users

pytestmark = pytest.mark.browser

STAFF = {  # username: role; Anna and Binh (new cases by default) and Chandra come from the shared fixtures
    "rosa": "retaliation_officer", "olga": "retaliation_officer", "tomas": "retaliation_officer",
    "max": "monitor",
}
SHOWN_TO_WORKERS = ("anna", "binh", "rosa", "tomas")
EVERYONE = ("anna", "binh", "chandra", "rosa", "olga", "tomas", "max")

CASES = [
    # choice, left out on the report, left out on the claim -> who reads the claim. "Both" crosses
    # both sides in the browser; each choice's readers, "Electronics Watch only" included, are held
    # over HTTP by tests/portal/test_claims_follow_choices.py, in a fraction of the time.
    pytest.param("both", ["Anna"], ["Tomas"], {"binh", "rosa", "max"}, id="both"),
]


@pytest.fixture
def staff(session_factory, investigators, colleague):
    with session_factory() as session:
        for username, role in STAFF.items():
            users.create(session, username, username.title(), role, passphrase_of(username), work_factor=10,
                         totp_secret=totp_secret_of(username))
        for user in session.scalars(select(User).where(User.username.in_(SHOWN_TO_WORKERS))):
            user.shown_to_reporters = True
        session.commit()


@pytest.fixture
def server(staff, live_server):
    """The portal, serving once the staff are in its database."""
    return live_server


@pytest.mark.parametrize("choice, report_leaves_out, claim_leaves_out, readers", CASES)
def test_a_workers_claim_reaches_only_whom_the_worker_allowed(
    phone, desk, server, vietnamese, english, authenticator, session_factory, facility_ids,
    choice, report_leaves_out, claim_leaves_out, readers,
):
    origin, v = server.origin, vietnamese
    worker = phone.new_context().new_page()

    # --- The worker reports, choosing who receives it and leaving people out. -
    worker.goto(f"{origin}/vi/report")
    worker.locator("select[name=facility]").select_option(str(facility_ids[0]))
    worker.get_by_label(v("Pay, overtime pay or social insurance")).check()
    worker.get_by_label(v("What happened? Tell us in your own words.")).fill(
        "Chúng tôi không được trả lương làm thêm giờ.")
    worker.locator(f"input[name=recipient_choice][value={choice}]").check()
    for name in report_leaves_out:
        worker.get_by_label(name, exact=True).check()
    # Sending to Electronics Watch means sharing with it: "not with Electronics Watch" would be refused.
    consent = "No, only the people named above" if choice == "contractor" else (
        "Yes, but without my name or contact details")
    worker.get_by_label(v(consent), exact=True).check()
    receipt = send_and_read_receipt(worker, v)

    # --- Olga declares a conflict of interest with the workplace. ------------
    with session_factory() as session:
        olga = session.scalar(select(User.id).where(User.username == "olga"))
        routing.add_exclusion(session, olga, facility_id=facility_ids[0])

    # --- Fired, the worker comes back and files a claim. ---------------------
    canary = f"canary-{uuid.uuid4().hex}"
    worker.goto(f"{origin}/vi/follow-up")
    worker.get_by_label(v("Your receipt (16 digits)")).fill(receipt)
    worker.get_by_role("button", name=v("Open my report")).click()
    worker.wait_for_url(f"{origin}/vi/case")
    worker.get_by_role("link", name=v("Something happened to me because I reported")).click()
    worker.wait_for_url(f"{origin}/vi/case/claim")
    leave_out = worker.get_by_role("group", name=v(
        "Is there someone here who must NOT read this, for example the person who did it? Tick them."))
    for name in ("Anna", "Binh", "Rosa", "Tomas"):  # the handlers shown to workers
        assert leave_out.get_by_label(name, exact=True).count() == 1, name
    for name in claim_leaves_out:
        leave_out.get_by_label(name, exact=True).check()
    worker.get_by_label(v("Suspended or dismissed (fired)")).check()
    worker.get_by_label(v("What happened? Tell us in your own words.")).fill(
        f"Hai ngày sau khi tôi gửi báo cáo, tổ trưởng đuổi việc tôi. {canary}")
    submit(worker, worker.get_by_role("button", name=v("Send"), exact=True))
    assert worker.url == f"{origin}/vi/case?claim=1#claims"
    assert v("Suspended or dismissed (fired)") in worker.locator("section.claim").inner_text()
    with session_factory() as session:
        claim_id = session.scalars(select(Case.id).where(Case.kind == "retaliation")).one()
    claim_url = f"{origin}/inbox/cases/{claim_id}"

    # --- Everyone tries to open it: only those the worker allowed can. -------
    _ = english
    opened = set()
    for username in EVERYONE:
        page = desk.new_context().new_page()
        page.goto(f"{origin}/inbox/")
        log_in(page, origin, _, username, authenticator.code(username))
        answer = page.goto(claim_url)
        if answer.status == 200:
            assert canary in page.locator("dl.report").inner_text(), f"{username} cannot read the claim"
            opened.add(username)
        else:
            assert answer.status == 404, f"{username} got {answer.status}"
            assert canary not in page.content()
        page.context.close()
    assert opened == readers
