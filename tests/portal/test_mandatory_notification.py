"""The contract's mandatory notification: a report of suspected forced or child
labour is notified to Electronics Watch AND the contracting authority.

Two portal instances on loopback ports (the contractor's and Electronics
Watch's, as in test_forwarding_between_instances). When Electronics Watch has
the case, every active account of the contracting authority gets an e-mail
with the reference, the day and the categories, never what the worker wrote;
the case page and the oversight pages say each day apart. Without an authority
account, the case page says the authority was not notified, the administrators
are alerted, and the notice goes once an account exists.
"""

import re

import pytest
import test_audit_and_notifications as notification_tests
import test_forwarding_between_instances as forwarding_tests
from accounts import passphrase_of, totp_secret_of
from flask_babel import format_date
from inbox_pages import log_in
from reporter_pages import csrf_token, receipt_on, send_report
from sqlalchemy import select
from test_forwarding_between_instances import partner_each_other, run_portal
from test_no_trace_of_time import fine_times_tied_to_a_case_or_a_reporter

from portal.models import Case, OutboxEmail, RoutingAlert, User
from portal.services import clock, users

# The fixtures of the two instances and of the mail server, shared with the tests that made them.
two_instances = forwarding_tests.two_instances
monitor_database_url = forwarding_tests.monitor_database_url
smtp_server = notification_tests.smtp_server

DESCRIPTION = "They keep our passports in the office safe."
CONTACT = "Signal +60 11 2233 4455"


def client_of(app, username):
    client = app.test_client()
    assert log_in(client, username).status_code == 303
    return client


def worker_reports_forced_labour(app, facility, recipient_choice="contractor"):
    worker = app.test_client()
    receipt_on(send_report(worker, facility, categories=["forced_labour", "wages"], description=DESCRIPTION,
                           contact=CONTACT, consent="without_identity", recipient_choice=recipient_choice))


def the_case(sessions):
    with sessions() as session:
        case = session.scalars(select(Case)).one()
        session.expunge(case)
        return case


def forward_mandatorily(anna, case_id):
    form = anna.get(f"/inbox/cases/{case_id}/forward?mandatory=1")
    partner = re.search(r'<option[^>]*value="(\d+)"[^>]*>Electronics Watch<', form.get_data(as_text=True)).group(1)
    sent = anna.post(f"/inbox/cases/{case_id}/forward",
                     data={"csrf_token": csrf_token(form), "partner": partner, "report": "y"})
    assert sent.status_code == 303


def shown_day(app, day):
    with app.test_request_context():
        return format_date(day)


def oversight_notification_row(page: str, reference: str) -> str:
    section = page.split('id="mandatory-notifications"', 1)[1]
    return re.search(rf"<tr><td><a [^>]*>{reference}</a>.*?</tr>", section).group(0)


def test_a_forced_labour_report_sent_to_both_reaches_electronics_watch_and_the_authority_is_told_by_e_mail(
        two_instances, facility_ids):
    world = two_instances
    app_a = world["a"]
    with world["sessions_a"]() as session:
        users.create(session, "vera", "Vera", "authority", passphrase_of("vera"), work_factor=10,
                     totp_secret=totp_secret_of("vera"), email="vera@authority.example")
        users.create(session, "olaf", "Olaf", "authority", passphrase_of("olaf"), work_factor=10,
                     email="olaf@authority.example")
        closed = users.create(session, "cleo", "Cleo", "authority", passphrase_of("cleo"), work_factor=10,
                              email="cleo@authority.example")
        closed.active = False
        session.commit()
    partner_each_other(world)

    # The worker chooses the company's investigators and Electronics Watch: the report goes to EW at once.
    worker_reports_forced_labour(app_a, facility_ids[0], recipient_choice="both")
    case = the_case(world["sessions_a"])
    today = clock.today()
    assert (case.mandatory_notified_on, case.authority_notified_on) == (today, today)

    with world["sessions_a"]() as session:
        notices = session.scalars(select(OutboxEmail).where(OutboxEmail.to_address.like("%@authority.example"))
                                  .order_by(OutboxEmail.to_address)).all()
        assert [n.to_address for n in notices] == ["olaf@authority.example", "vera@authority.example"]
        for notice in notices:
            text = notice.subject + notice.body
            assert case.reference in text and today.isoformat() in text
            assert "forced_labour" in text and "wages" in text
            assert f"/oversight/cases/{case.id}" in text
            assert "passports" not in text and "4455" not in text and "Signal" not in text

    # The investigator's case page says each day apart.
    anna = client_of(app_a, "anna")
    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    day = shown_day(app_a, today)
    assert f"Electronics Watch was notified on {day}." in page
    assert f"The contracting authority was notified on {day}." in page
    assert "has not been notified" not in page

    # The authority's oversight page lists it with both days, and opens its record.
    vera = client_of(app_a, "vera")
    row = oversight_notification_row(vera.get("/oversight/").get_data(as_text=True), case.reference)
    assert row.count(f'datetime="{today.isoformat()}"') == 2
    record = vera.get(f"/oversight/cases/{case.id}")
    assert record.status_code == 200
    assert DESCRIPTION not in record.get_data(as_text=True) and CONTACT not in record.get_data(as_text=True)

    # Told as the worker's report arrived: nothing of it keeps a time finer than the day.
    found, _staff_times = fine_times_tied_to_a_case_or_a_reporter(world["sessions_a"].kw["bind"])
    assert found == []


def test_a_report_the_worker_sent_to_electronics_watch_alone_is_not_passed_on_to_the_authority(
        two_instances, facility_ids):
    world = two_instances
    app_a = world["a"]
    with world["sessions_a"]() as session:
        users.create(session, "vera", "Vera", "authority", passphrase_of("vera"), work_factor=10,
                     totp_secret=totp_secret_of("vera"), email="vera@authority.example")
        # Electronics Watch also has an account on the contractor's portal.
        users.create(session, "mia", "Mia", "monitor", passphrase_of("mia"), work_factor=10,
                     totp_secret=totp_secret_of("mia"))
    partner_each_other(world)
    worker_reports_forced_labour(app_a, facility_ids[0], recipient_choice="monitor")
    case = the_case(world["sessions_a"])
    assert case.mandatory_notified_on == clock.today() and case.authority_notified_on is None
    with world["sessions_a"]() as session:
        assert session.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "vera@authority.example")).all() \
            == []
        assert session.scalars(select(RoutingAlert)).all() == []

    page = client_of(app_a, "mia").get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert f"Electronics Watch was notified on {shown_day(app_a, clock.today())}." in page
    assert "The reporter chose Electronics Watch only: this portal does not notify the contracting authority" \
        in page
    assert "The contracting authority was notified" not in page and "has not been notified" not in page
    vera = client_of(app_a, "vera")
    assert case.reference not in vera.get("/oversight/").get_data(as_text=True)
    assert vera.get(f"/oversight/cases/{case.id}").status_code == 404


def test_without_an_authority_account_the_page_says_so_the_administrators_are_alerted_and_the_notice_follows(
        two_instances, facility_ids, smtp_server, monkeypatch):
    world = two_instances
    app_a = world["a"]
    with world["sessions_a"]() as session:
        session.scalars(select(User).where(User.username == "root")).one().email = "root@contractor.example"
        session.commit()
    partner_each_other(world)
    worker_reports_forced_labour(app_a, facility_ids[0])
    case = the_case(world["sessions_a"])

    # Anna sends the mandatory forward; Electronics Watch has it at once.
    anna = client_of(app_a, "anna")
    forward_mandatorily(anna, case.id)
    case = the_case(world["sessions_a"])
    today = clock.today()
    assert case.mandatory_notified_on == today and case.authority_notified_on is None

    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert f"Electronics Watch was notified on {shown_day(app_a, today)}." in page
    assert "The contracting authority has not been notified: it has no active account with an e-mail address." \
        in page
    assert "The contracting authority was notified" not in page

    # The administrators are alerted: an open alert, and their users page says what to do.
    with world["sessions_a"]() as session:
        alerts = session.scalars(select(RoutingAlert).where(RoutingAlert.case_id == case.id)).all()
        assert [(a.code, a.resolved_at) for a in alerts] == [("no_authority", None)]
        to_root = session.scalars(select(OutboxEmail.body).where(OutboxEmail.to_address == "root@contractor.example"))
        assert any(case.reference in body and "/admin/users#authority-notices" in body for body in to_root)
    root = client_of(app_a, "root")
    users_page = root.get("/admin/users").get_data(as_text=True)
    assert "Mandatory notifications the contracting authority has not received" in users_page
    assert case.reference in users_page
    row = oversight_notification_row(root.get("/oversight/").get_data(as_text=True), case.reference)
    assert "not yet" in row and row.count(f'datetime="{today.isoformat()}"') == 1

    # An administrator creates the authority's account; the notifications job tells it of the case.
    form = root.get("/admin/users")
    assert root.post("/admin/users", data={
        "csrf_token": csrf_token(form), "username": "vera", "display_name": "Vera", "role": "authority",
        "email": "vera@authority.example"}).status_code == 200
    controller, handler = smtp_server
    monkeypatch.setenv("PORTAL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PORTAL_SMTP_PORT", str(controller.port))
    job = run_portal(app_a.config["DATABASE_URL"], world["dir_a"], "notifications", "send")
    assert job.returncode == 0 and "1 mandatory notifications to the contracting authority" in job.stdout, job.stderr
    to_vera = [m.content.decode() for m in handler.messages if "vera@authority.example" in m.rcpt_tos]
    notice = next(text for text in to_vera if "Mandatory notification" in text)
    assert case.reference in notice and "forced_labour" in notice and "passports" not in notice

    case = the_case(world["sessions_a"])
    assert case.authority_notified_on == today
    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert f"The contracting authority was notified on {shown_day(app_a, today)}." in page
    assert "has not been notified" not in page
    assert "Mandatory notifications the contracting authority has not received" not in \
        root.get("/admin/users").get_data(as_text=True)
    with world["sessions_a"]() as session:
        assert all(a.resolved_at is not None for a in session.scalars(select(RoutingAlert)))


@pytest.fixture
def staff(session_factory, recovery_identity):
    """Root, an administrator; Vera, of the contracting authority."""
    with session_factory() as session:
        for username, role in (("root", "administrator"), ("vera", "authority")):
            users.create(session, username, username.title(), role, passphrase_of(username), work_factor=10,
                         totp_secret=totp_secret_of(username))


def table_body(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_the_authority_reads_the_audit_entries_of_an_escalated_case_and_of_no_other(
        app, facility_ids, staff, session_factory):
    for description in ("Escalated case", "Quiet case"):
        assert send_report(app.test_client(), facility_ids[0], description=description).status_code == 200
    with session_factory() as session:
        escalated, quiet = session.scalars(select(Case).order_by(Case.id)).all()
        escalated_id, quiet_id, escalated_ref, quiet_ref = escalated.id, quiet.id, escalated.reference, quiet.reference
    anna = client_of(app, "anna")
    assert anna.get(f"/inbox/cases/{quiet_id}").status_code == 200
    assert anna.get(f"/inbox/cases/{escalated_id}").status_code == 200
    root = client_of(app, "root")
    record = f"/oversight/cases/{escalated_id}"
    page = root.get(record)
    assert root.post(record, data={"csrf_token": csrf_token(page), "step": "breach_indicated"},
                     content_type="multipart/form-data").status_code == 303

    vera = client_of(app, "vera")
    trail = vera.get("/oversight/audit")
    assert trail.status_code == 200
    rows = table_body(trail.get_data(as_text=True))
    assert escalated_ref in rows and "Escalation step recorded" in rows and "Opened the case" in rows
    assert quiet_ref not in rows
    assert "Logged in" not in rows, "entries of no case are not the authority's"

    # Filtered like the administrators' page; a case it may not see is answered as one that does not exist.
    only_steps = table_body(vera.get("/oversight/audit", query_string={"action": "escalation_step"})
                            .get_data(as_text=True))
    assert "Escalation step recorded" in only_steps and "Opened the case" not in only_steps
    asked = vera.get("/oversight/audit", query_string={"case": quiet_ref})
    assert asked.status_code == 400 and "No case has this reference." in asked.get_data(as_text=True)
    assert quiet_ref not in table_body(asked.get_data(as_text=True))
    assert vera.get(f"/oversight/cases/{quiet_id}").status_code == 404
    # From the escalation record, the link to the case's own entries.
    record_page = vera.get(f"/oversight/cases/{escalated_id}").get_data(as_text=True)
    link = re.search(r'href="(/oversight/audit\?case=[^"]+)">Audit trail of this case<', record_page).group(1)
    own = table_body(vera.get(link).get_data(as_text=True))
    assert escalated_ref in own and "Escalation step recorded" in own

    # Neither the whole trail nor the administrators' page.
    assert vera.get("/admin/audit").status_code == 404
    assert anna.get("/oversight/audit").status_code == 404
