"""Investigators log in, see their cases by deadline, read, answer and hand over."""

from datetime import timedelta

from inbox_pages import current_code, log_in, post_on_case
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select, update

import crypto
from portal.models import Case, CaseItem
from portal.services import clock


def the_case(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalars(select(Case)).one()


def received_days_ago(app, case_id, days):
    with app.extensions["portal.sessions"]() as session:
        received = clock.today() - timedelta(days=days)
        session.execute(update(Case).where(Case.id == case_id).values(
            received_on=received, acknowledge_due=received + timedelta(days=7),
            feedback_due=received + timedelta(days=90)))
        session.commit()


def test_an_investigator_logs_in_and_sees_a_vietnamese_report_due_soon(app, client, facility_ids):
    send_report(client, facility_ids[0], lang="vi", description="Không trả lương làm thêm")
    case = the_case(app)
    received_days_ago(app, case.id, 6)
    inbox = app.test_client()
    assert log_in(inbox, "anna").status_code == 303
    listing = inbox.get("/inbox/").get_data(as_text=True)
    assert case.reference in listing
    assert "due soon" in listing
    assert "Tiếng Việt" in listing
    page = inbox.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert "Không trả lương làm thêm" in page


def test_overdue_cases_are_marked_and_can_be_filtered(app, client, facility_ids):
    send_report(client, facility_ids[0])
    case = the_case(app)
    received_days_ago(app, case.id, 10)
    inbox = app.test_client()
    log_in(inbox, "anna")
    assert "overdue" in inbox.get("/inbox/").get_data(as_text=True)
    assert case.reference in inbox.get("/inbox/?overdue=1").get_data(as_text=True)
    assert case.reference not in inbox.get("/inbox/?status=closed").get_data(as_text=True)
    assert case.reference in inbox.get("/inbox/?category=wages&language=en&sort=newest").get_data(as_text=True)
    assert case.reference not in inbox.get("/inbox/?category=child_labour").get_data(as_text=True)


def test_wrong_passphrase_wrong_code_and_a_reused_code_are_refused(app, client):
    inbox = app.test_client()
    assert log_in(inbox, "anna", passphrase="not my passphrase at all").status_code == 401
    assert log_in(inbox, "anna", code="000000").status_code == 401
    code = current_code("anna")
    assert log_in(inbox, "anna", code=code).status_code == 303
    again = log_in(app.test_client(), "anna", code=code)
    assert again.status_code == 401
    assert "not right" in again.get_data(as_text=True)


def test_failed_log_ins_are_throttled_per_account_with_a_clear_message(app, client):
    inbox = app.test_client()
    for _ in range(5):
        assert log_in(inbox, "anna", passphrase="wrong wrong wrong wrong", code="123456").status_code == 401
    refused = log_in(inbox, "anna", code=current_code("anna"))
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert log_in(app.test_client(), "binh").status_code == 303, "other accounts are not affected"


def test_the_session_is_new_after_log_in_and_ends_with_log_out_by_post(app, client):
    inbox = app.test_client()
    inbox.get("/inbox/login")
    before = inbox.get_cookie("portal_session").value
    log_in(inbox, "anna")
    after = inbox.get_cookie("portal_session").value
    assert before.split(".")[0] != after.split(".")[0]
    assert inbox.get("/inbox/logout").status_code == 405
    page = inbox.get("/inbox/")
    assert inbox.post("/inbox/logout", data={"csrf_token": csrf_token(page)}).status_code == 303
    assert inbox.get("/inbox/").status_code == 303


def test_an_idle_session_expires(app, client):
    inbox = app.test_client()
    log_in(inbox, "anna")
    app.config["USER_SESSION_MINUTES"] = 0
    inbox.get("/inbox/")
    expired = inbox.get("/inbox/")
    assert expired.headers["Location"].startswith("/inbox/login")
    assert "session ended" in inbox.get(expired.headers["Location"]).get_data(as_text=True)


def test_acknowledging_sends_the_reporter_a_message_in_their_language(app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi"))
    case = the_case(app)
    inbox = app.test_client()
    log_in(inbox, "anna")
    assert post_on_case(inbox, case.id, "status", status="acknowledged").status_code == 303
    assert the_case(app).status == "acknowledged"
    reporter = app.test_client()
    log_in_with_receipt(reporter, receipt, lang="vi")
    page = reporter.get("/vi/case").get_data(as_text=True)
    with app.app_context():
        from flask_babel import force_locale, gettext
        with force_locale("vi"):
            expected = gettext("Received and read by the investigators")
    assert expected in page


def test_closing_needs_an_outcome_and_follows_the_order_of_steps(app, client, facility_ids):
    send_report(client, facility_ids[0])
    case = the_case(app)
    inbox = app.test_client()
    log_in(inbox, "anna")
    assert post_on_case(inbox, case.id, "status", status="closed").status_code == 400
    post_on_case(inbox, case.id, "status", status="acknowledged")
    post_on_case(inbox, case.id, "status", status="feedback_given")
    assert post_on_case(inbox, case.id, "status", status="closed", outcome="").status_code == 400
    assert post_on_case(inbox, case.id, "status", status="closed", outcome="partly_substantiated").status_code == 303
    closed = the_case(app)
    assert closed.status == "closed" and closed.outcome == "partly_substantiated" and closed.closed_on


def test_a_reply_reaches_the_reporter_and_a_note_does_not(app, client, facility_ids, investigators):
    receipt = receipt_on(send_report(client, facility_ids[0]))
    case = the_case(app)
    inbox = app.test_client()
    log_in(inbox, "anna")
    post_on_case(inbox, case.id, "messages", text="Which line do you work on?")
    post_on_case(inbox, case.id, "notes", text="Supervisor named in the report: do not contact.")
    reporter = app.test_client()
    log_in_with_receipt(reporter, receipt)
    page = reporter.get("/en/case").get_data(as_text=True)
    assert "Which line do you work on?" in page
    assert "Supervisor named" not in page
    with app.extensions["portal.sessions"]() as session:
        note = session.scalars(select(CaseItem).where(CaseItem.kind == "note")).one()
        assert crypto.decrypt(note.blob, investigators["binh"][1]).startswith(b"Supervisor")
        stanzas = crypto.split_header(note.blob)[0].count(b"-> mlkem768x25519")
        assert stanzas == 3, "two keyholders and the recovery key, not the reporter"


def test_handing_over_adds_a_colleague_and_removal_locks_the_first_out(app, client, facility_ids, colleague,
                                                                        investigators):
    send_report(client, facility_ids[0], description="Hand-over story")
    case = the_case(app)
    with app.extensions["portal.sessions"]() as session:
        payloads = {i.id: crypto.split_header(i.blob)[1] for i in session.scalars(select(CaseItem))}

    anna = app.test_client()
    log_in(anna, "anna")
    chandra_user, chandra_identity = colleague
    assert post_on_case(anna, case.id, "keyholders", user=str(chandra_user.id)).status_code == 303
    with app.extensions["portal.sessions"]() as session:
        for item in session.scalars(select(CaseItem)):
            assert crypto.split_header(item.blob)[1] == payloads[item.id], "payloads are not re-encrypted"
            assert crypto.decrypt(item.blob, chandra_identity)

    chandra = app.test_client()
    log_in(chandra, "chandra")
    assert "Hand-over story" in chandra.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    anna_user, anna_identity = investigators["anna"]
    assert post_on_case(chandra, case.id, f"keyholders/{anna_user.id}/remove").status_code == 303
    assert anna.get(f"/inbox/cases/{case.id}").status_code == 404
    with app.extensions["portal.sessions"]() as session:
        report = session.scalars(select(CaseItem).where(CaseItem.kind == "report")).one()
        try:
            crypto.decrypt(report.blob, anna_identity)
            raise AssertionError("the removed keyholder can still open the report")
        except crypto.NoIdentityError:
            pass
        assert crypto.decrypt(report.blob, chandra_identity)
