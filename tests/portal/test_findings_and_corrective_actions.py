"""Findings and corrective actions: an investigator writes what the investigation found on a
Vietnamese worker's report, and a finding the facility shares with a second report; records the
actions with owners and due dates, evidence on one, moves them along; the worker reads, in their
language, only what was shared with them; the inbox shows what is overdue; statistics count the
actions; Electronics Watch verifies one. Someone holding another case reads and changes nothing."""

import csv
import io
import re
from datetime import timedelta

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from PIL import Image
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

from portal.models import Case, CorrectiveAction, Finding
from portal.services import clock, findings, users

FOUND = "Chúng tôi thấy tiền làm thêm giờ tháng Mười chưa được trả."
WILL_CHANGE = "Công ty sẽ trả đủ tiền làm thêm giờ cho mọi người."
# What only the keyholders may ever read: none of it may reach the worker's page.
INTERNAL = ("INTERNAL-FINDING-TEXT", "INTERNAL-ACTION-TEXT", "OWNER-PAYROLL-MANAGER",
            "UNSHARED-SUMMARY-FOUND", "UNSHARED-SUMMARY-CHANGE", "MONITOR-COMMENT")


@pytest.fixture
def root(session_factory, recovery_identity):
    with session_factory() as session:
        users.create(session, "root", "Root", "administrator", passphrase_of("root"), work_factor=10,
                     totp_secret=totp_secret_of("root"))


def client_of(app, username):
    client = app.test_client()
    assert log_in(client, username).status_code == 303
    return client


def photo():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_findings_reach_the_worker_in_their_language_and_the_actions_are_followed(
        app, facility_ids, investigators, colleague, root, session_factory):
    worker = app.test_client()
    receipt = receipt_on(send_report(worker, facility_ids[0], lang="vi"))
    receipt_on(send_report(app.test_client(), facility_ids[0], lang="vi"))
    with session_factory() as session:
        case_id, other_id = session.scalars(select(Case.id).order_by(Case.id)).all()
    anna = client_of(app, "anna")
    token = csrf_token(anna.get(f"/inbox/cases/{case_id}"))

    def post(path, **fields):
        return anna.post(f"/inbox/cases/{case_id}/{path}", data={"csrf_token": token, **fields},
                         content_type="multipart/form-data")

    assert post("findings", text="INTERNAL-FINDING-TEXT", found=FOUND, will_change=WILL_CHANGE,
                shared="y").status_code == 303
    assert post("findings", text="A second finding, kept from the worker", found="UNSHARED-SUMMARY-FOUND",
                will_change="UNSHARED-SUMMARY-CHANGE").status_code == 303
    # The facility's finding, shared by both reports (both agreed to share them).
    assert post("findings", text="Payroll software drops overtime at the facility", found="Phần mềm tính lương sai.",
                will_change="Phần mềm sẽ được sửa.", shared="y", cases=[str(other_id)]).status_code == 303
    with session_factory() as session:
        shared_id, unshared_id, facility_finding = session.scalars(select(Finding.id).order_by(Finding.id)).all()
        assert session.get(Finding, facility_finding).facility_id == facility_ids[0]
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    next_month = (clock.today() + timedelta(days=31)).isoformat()
    # Three actions on the shared finding: one overdue, one done with evidence, one done. Seven more on
    # the other finding, so that statistics have counts of five to show.
    for number, due in enumerate([yesterday, next_month, next_month]):
        assert post(f"findings/{shared_id}/actions", description=f"INTERNAL-ACTION-TEXT {number}",
                    owner="OWNER-PAYROLL-MANAGER", due_on=due).status_code == 303
    for number in range(7):
        assert post(f"findings/{unshared_id}/actions", description="INTERNAL-ACTION-TEXT",
                    due_on=yesterday if number < 4 else next_month).status_code == 303
    with session_factory() as session:
        actions = session.scalars(select(CorrectiveAction.id).order_by(CorrectiveAction.id)).all()
    overdue_one, with_evidence, done_one = actions[:3]
    added = post(f"actions/{with_evidence}/evidence", files=[(io.BytesIO(photo()), "receipt-photo.jpg")])
    assert added.status_code == 303
    for action_id in [with_evidence, done_one, *actions[7:]]:
        assert post(f"actions/{action_id}/state", state="done").status_code == 303
    assert post(f"actions/{actions[8]}/state", state="done").status_code == 400  # done already

    page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert "INTERNAL-FINDING-TEXT" in page and "OWNER-PAYROLL-MANAGER" in page
    assert "5 corrective actions are overdue." in page
    assert f'<a href="#action-{overdue_one}">' in page
    listing = anna.get("/inbox/").get_data(as_text=True)
    assert f"/inbox/cases/{case_id}#action-{overdue_one}" in listing  # the list says so too
    file_link = re.search(rf'/inbox/cases/{case_id}/actions/{with_evidence}/files/(\d+)', page)
    download = anna.get(file_link.group(0))
    assert download.status_code == 200 and download.data[:3] == b"\xff\xd8\xff"
    # The facility finding has its own page, reachable from each linked case.
    assert f"/inbox/cases/{case_id}/findings/{facility_finding}" in page
    other_page = anna.get(f"/inbox/cases/{other_id}").get_data(as_text=True)
    assert "Payroll software drops overtime" in other_page and "INTERNAL-FINDING-TEXT" not in other_page
    facility_page = anna.get(f"/inbox/cases/{other_id}/findings/{facility_finding}").get_data(as_text=True)
    assert f"/inbox/cases/{case_id}#finding-{facility_finding}" in facility_page

    # Bad input: refused in words, nothing written.
    too_long = post(f"findings/{shared_id}/actions", description="x" * (findings.TEXT_LIMIT + 1))
    assert too_long.status_code == 400 and "This text is too long." in too_long.get_data(as_text=True)
    not_hers = post("findings", text="Linked to a case she does not hold", cases=["999999"])
    assert not_hers.status_code == 400
    forged = anna.post(f"/inbox/cases/{case_id}/findings/{shared_id}/actions", data={"description": "forged"})
    assert forged.status_code == 400
    assert anna.post(f"/inbox/cases/{case_id}/actions/{done_one}/verdict",
                     data={"csrf_token": token, "verdict": "verified"}).status_code == 403  # not a monitor
    with session_factory() as session:
        assert len(session.scalars(select(CorrectiveAction.id)).all()) == 10
        assert len(session.scalars(select(Finding.id)).all()) == 3

    # Electronics Watch verifies the done action, by its public reference (the monitor channel's call).
    with session_factory() as session:
        reference = session.get(CorrectiveAction, done_one).reference
        findings.record_monitor_verdict(session, reference, "verified", "MONITOR-COMMENT")
        with pytest.raises(findings.FindingError):
            findings.record_monitor_verdict(session, session.get(CorrectiveAction, overdue_one).reference,
                                            "verified")
    assert "MONITOR-COMMENT" in anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)

    # The worker reads what was shared, in Vietnamese, and nothing written for the keyholders.
    assert log_in_with_receipt(worker, receipt, lang="vi").status_code == 303
    seen = worker.get("/vi/case").get_data(as_text=True)
    assert FOUND in seen and WILL_CHANGE in seen and "Phần mềm sẽ được sửa." in seen
    assert 'lang="vi"' in seen
    for secret in INTERNAL:
        assert secret not in seen, secret
    # Each of the shared finding's actions, by its state and due month only.
    assert re.search(r'<ul class="remedies">(.*?)</ul>', seen, re.S).group(1).count("<li>") == 3

    # Someone holding only the other case reads and changes nothing of this one.
    assert anna.post(f"/inbox/cases/{other_id}/keyholders",
                     data={"csrf_token": token, "user": str(colleague[0].id)}).status_code == 303
    chandra = client_of(app, "chandra")
    handed = chandra.get(f"/inbox/cases/{other_id}/findings/{facility_finding}")
    assert handed.status_code == 200 and "Payroll software drops overtime" in handed.get_data(as_text=True)
    assert chandra.get(f"/inbox/cases/{case_id}/findings/{shared_id}").status_code == 404
    assert chandra.get(f"/inbox/cases/{other_id}/findings/{shared_id}").status_code == 404
    chandra_token = csrf_token(chandra.get(f"/inbox/cases/{other_id}"))
    for path in (f"{case_id}/actions/{overdue_one}/state", f"{other_id}/actions/{overdue_one}/state"):
        assert chandra.post(f"/inbox/cases/{path}", data={"csrf_token": chandra_token, "state": "done"}).status_code == 404
    assert chandra.get(f"/inbox/cases/{other_id}/actions/{with_evidence}/files/{file_link.group(1)}").status_code == 404
    with session_factory() as session:
        assert session.get(CorrectiveAction, overdue_one).state == "planned"

    # Statistics: ten actions, five done or verified, five overdue; small counts withheld.
    response = client_of(app, "root").get("/oversight/statistics/corrective-actions.csv")
    assert response.status_code == 200
    rows = {row[0]: row[1] for row in csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))}
    assert rows["All corrective actions"] == "10"
    assert rows["Planned"] == "5" and rows["Overdue today (past the due date, not done)"] == "5"
    assert rows["Done"] == rows["Verified by Electronics Watch"] == "fewer than 5 or withheld"  # 4 and 1


@pytest.fixture
def monitor(session_factory, recovery_identity):
    """Max, Electronics Watch's monitor with an account on this instance."""
    with session_factory() as session:
        users.create(session, "max", "Max", "monitor", passphrase_of("max"), work_factor=10,
                     totp_secret=totp_secret_of("max"))


def test_electronics_watch_verifies_a_done_action_and_finds_another_not_done(
        app, facility_ids, investigators, monitor, session_factory):
    receipt_on(send_report(app.test_client(), facility_ids[0], lang="vi", recipient_choice="both"))
    with session_factory() as session:
        case_id = session.scalars(select(Case.id)).one()
    anna = client_of(app, "anna")
    token = csrf_token(anna.get(f"/inbox/cases/{case_id}"))
    assert anna.post(f"/inbox/cases/{case_id}/findings", data={"csrf_token": token, "text": "Locked exits"}
                     ).status_code == 303
    with session_factory() as session:
        finding_id = session.scalars(select(Finding.id)).one()
    for description in ("Unlock the exits", "Train the guards"):
        assert anna.post(f"/inbox/cases/{case_id}/findings/{finding_id}/actions",
                         data={"csrf_token": token, "description": description}).status_code == 303
    with session_factory() as session:
        done, planned = session.scalars(select(CorrectiveAction.id).order_by(CorrectiveAction.id)).all()
    assert anna.post(f"/inbox/cases/{case_id}/actions/{done}/state",
                     data={"csrf_token": token, "state": "done"}).status_code == 303

    max_ = client_of(app, "max")
    page = max_.get(f"/inbox/cases/{case_id}")
    assert page.status_code == 200 and f'id="action-{done}-verdict"' in page.get_data(as_text=True)
    max_token = csrf_token(page)

    def verdict(action_id, value):
        return max_.post(f"/inbox/cases/{case_id}/actions/{action_id}/verdict",
                         data={"csrf_token": max_token, "verdict": value, "comment": "Seen on 3 December"})

    assert verdict(planned, "verified").status_code == 400  # only a done action can be verified
    assert verdict(done, "verified").status_code == 303
    assert verdict(planned, "not_done").status_code == 303
    with session_factory() as session:
        states = {a.id: a.state for a in session.scalars(select(CorrectiveAction))}
    assert states == {done: "verified", planned: "not_done"}
    # The keyholders cannot undo the monitor's verification; they can take up an action found not done.
    assert anna.post(f"/inbox/cases/{case_id}/actions/{done}/state",
                     data={"csrf_token": token, "state": "in_progress"}).status_code == 400
    assert anna.post(f"/inbox/cases/{case_id}/actions/{planned}/state",
                     data={"csrf_token": token, "state": "in_progress"}).status_code == 303
    history = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert "Seen on 3 December" in history and "(Electronics Watch, Max)" in history
