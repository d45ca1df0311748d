"""Retaliation through the pages: a worker who reported is dismissed and says so
from the follow-up page; the retaliation officer protects, disciplines and
remedies; the worker confirms one remedy and disputes the other; the
administrators keep the escalation record the contracting authority reads."""

import io
import re
from datetime import timedelta

import pikepdf
import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from PIL import Image
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

from portal.models import Case, Remedy
from portal.services import clock, users

TEST_WORK_FACTOR = 10


@pytest.fixture
def people(session_factory, recovery_identity):
    """Rosa, the retaliation officer; Root, an administrator; Vera, of the contracting authority; Max, a monitor."""
    made = {}
    with session_factory() as session:
        for username, role in (("rosa", "retaliation_officer"), ("root", "administrator"),
                               ("vera", "authority"), ("max", "monitor")):
            made[username] = users.create(session, username, username.title(), role, passphrase_of(username),
                                          work_factor=TEST_WORK_FACTOR, totp_secret=totp_secret_of(username)).id
    return made


def client_of(app, username):
    client = app.test_client()
    assert log_in(client, username).status_code == 303
    return client


def worker_reports_and_comes_back(app, facility, lang="vi"):
    worker = app.test_client()
    receipt = receipt_on(send_report(worker, facility, lang=lang))
    assert log_in_with_receipt(worker, receipt, lang=lang).status_code == 303
    return worker, receipt


def photo_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


def file_claim(worker, lang="vi", **overrides):
    form = worker.get(f"/{lang}/case/claim")
    assert form.status_code == 200
    token = re.search(r'name="submission" type="hidden" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    data = {"csrf_token": csrf_token(form), "submission": token, "types": ["dismissal", "threats"],
            "when": "Tuần trước", "by_whom": "Tổ trưởng chuyền 4",
            "description": "Tôi bị đuổi việc hai ngày sau khi gửi báo cáo."}
    data.update(overrides)
    return worker.post(f"/{lang}/case/claim", data=data, content_type="multipart/form-data"), data


def claim_id_of(session_factory):
    with session_factory() as session:
        return session.scalars(select(Case.id).where(Case.kind == "retaliation")).one()


def post_form(client, page_url, action_url, **fields):
    """Send a form of ``page_url``; a form drawn with a prefix ("remedy-kind") has its token prefixed too."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    token = csrf_token(page)
    tokens = {f"{name.split('-')[0]}-csrf_token": token for name in fields if "-" in name}
    return client.post(action_url, data={"csrf_token": token, **tokens, **fields},
                       content_type="multipart/form-data")


def test_a_dismissed_worker_files_a_claim_and_the_officer_sees_it_but_not_the_accused(
        app, facility_ids, people, investigators, colleague, session_factory):
    worker, _receipt = worker_reports_and_comes_back(app, facility_ids[0])
    case_page = worker.get("/vi/case").get_data(as_text=True)
    assert "/vi/case/claim" in case_page
    form = worker.get("/vi/case/claim").get_data(as_text=True)
    assert "Anna" in form and "Binh" in form  # the keyholders the claim may be about
    sent, data = file_claim(worker, about=[str(investigators["anna"][0].id)],
                            photo=(io.BytesIO(photo_bytes()), "proof.jpg"))
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/vi/case?claim=1#claims")
    resent = {name: value for name, value in data.items() if name != "photo"}
    again = worker.post("/vi/case/claim", data=resent, content_type="multipart/form-data")
    assert again.status_code == 303
    claim_id = claim_id_of(session_factory)  # the resent form filed nothing more
    page = worker.get("/vi/case?claim=1").get_data(as_text=True)
    assert "Suspended or dismissed" not in page  # the forms of retaliation are shown in Vietnamese
    assert f'id="claim-{claim_id}"' in page

    rosa = client_of(app, "rosa")
    listing = rosa.get("/inbox/").get_data(as_text=True)
    assert f"/inbox/cases/{claim_id}" in listing
    opened = rosa.get(f"/inbox/cases/{claim_id}").get_data(as_text=True)
    assert "Tổ trưởng chuyền 4" in opened and "Tôi bị đuổi việc" in opened
    assert "image/jpeg" in opened and "What cleaning did: " in opened

    anna = client_of(app, "anna")
    assert anna.get(f"/inbox/cases/{claim_id}").status_code == 404
    with session_factory() as session:
        original = session.get(Case, claim_id).related_case_id
    assert f"/inbox/cases/{claim_id}" not in anna.get(f"/inbox/cases/{original}").get_data(as_text=True)
    binh = client_of(app, "binh")
    assert f"/inbox/cases/{claim_id}" in binh.get(f"/inbox/cases/{original}").get_data(as_text=True)
    chandra = client_of(app, "chandra")
    assert chandra.get(f"/inbox/cases/{claim_id}").status_code == 404


def test_the_officer_protects_disciplines_and_remedies_and_the_worker_answers(
        app, facility_ids, people, session_factory):
    worker, _receipt = worker_reports_and_comes_back(app, facility_ids[0])
    file_claim(worker)
    claim_id = claim_id_of(session_factory)
    rosa = client_of(app, "rosa")
    page = f"/inbox/cases/{claim_id}"

    def act(action, **fields):
        return post_form(rosa, page, f"/inbox/claims/{claim_id}/{action}", **fields)

    assert act("status", status="substantiated").status_code == 400  # not before the risk assessment
    assert act("risk", **{"risk-level": "high", "risk-measure": "dismissal_suspended",
                          "risk-measure_text": "Dismissal suspended pending investigation"}).status_code == 303
    assert act("measures", **{"measure-measure": "paid_leave",
                              "measure-measure_text": "Paid leave for two weeks"}).status_code == 303
    assert act("status", status="investigating").status_code == 303
    assert act("status", status="substantiated").status_code == 303
    assert act("discipline", **{"discipline-who": "Line 4 supervisor", "discipline-kind": "suspension",
                                "discipline-state": "taken"}).status_code == 303
    refused = act("remedies", **{"remedy-kind": "back_pay", "remedy-details": "Six weeks", "remedy-amount": "12,000"})
    assert refused.status_code == 400 and "digits" in refused.get_data(as_text=True)
    due = (clock.today() + timedelta(days=14)).isoformat()
    overdue = (clock.today() - timedelta(days=1)).isoformat()
    assert act("remedies", **{"remedy-kind": "reinstatement", "remedy-details": "Back on line 4, same shift",
                              "remedy-due_on": due}).status_code == 303
    assert act("remedies", **{"remedy-kind": "back_pay", "remedy-details": "Six weeks of wages",
                              "remedy-amount": "9600000", "remedy-currency": "vnd",
                              "remedy-due_on": overdue}).status_code == 303
    assert act("breach", **{"breach-reported_on": ""}).status_code == 303

    shown = rosa.get(page).get_data(as_text=True)
    for text in ("High", "Dismissal suspended pending investigation", "Paid leave for two weeks",
                 "Line 4 supervisor", "Suspension", "Substantiated", "₫9,600,000"):
        assert text in shown, text
    listing = rosa.get("/inbox/").get_data(as_text=True)
    assert "Overdue remedies" in listing and "Pay you are owed (back pay)" in listing

    with session_factory() as session:
        reinstatement, back_pay = session.scalars(select(Remedy).order_by(Remedy.id)).all()
        ids = reinstatement.id, back_pay.id
    for remedy_id in ids:
        for state in ("agreed", "delivered"):
            assert act(f"remedies/{remedy_id}/state", state=state).status_code == 303

    worker_page = worker.get("/vi/case").get_data(as_text=True)
    assert "Back on line 4, same shift" in worker_page and "9.600.000\xa0₫" in worker_page  # as Vietnamese write it
    assert "Line 4 supervisor" not in worker_page and "Paid leave for two weeks" not in worker_page
    for remedy_id, answer in zip(ids, ("received", "not_received")):
        answered = post_form(worker, "/vi/case", f"/vi/case/claims/{claim_id}/remedies/{remedy_id}", answer=answer)
        assert answered.status_code == 303
    again = post_form(worker, "/vi/case", f"/vi/case/claims/{claim_id}/remedies/{ids[0]}", answer="not_received")
    assert again.status_code == 409
    with session_factory() as session:
        assert [r.state for r in session.scalars(select(Remedy).order_by(Remedy.id))] == ["confirmed", "disputed"]
        assert session.get(Case, claim_id).breach_reported_on == clock.today()
    assert "Disputed by the reporter" in rosa.get(page).get_data(as_text=True)


def test_a_claim_without_types_is_refused_in_the_workers_language(app, facility_ids, people, session_factory):
    worker, _receipt = worker_reports_and_comes_back(app, facility_ids[0])
    refused, _data = file_claim(worker, types=[])
    assert refused.status_code == 400
    assert "Please check the fields marked below." not in refused.get_data(as_text=True)  # said in Vietnamese
    with session_factory() as session:
        assert session.scalars(select(Case).where(Case.kind == "retaliation")).first() is None


def test_a_worker_without_a_report_files_a_claim_from_the_start_page_and_follows_it(
        app, facility_ids, people, session_factory):
    worker = app.test_client()
    assert "/ms/retaliation" in worker.get("/ms/").get_data(as_text=True)
    form = worker.get("/ms/retaliation")
    sent = worker.post("/ms/retaliation", data={
        "csrf_token": csrf_token(form), "facility": str(facility_ids[1]), "types": ["licence_cancelled"],
        "description": "Permit kerja saya dibatalkan selepas saya mengadu.", "by_whom": "Ejen"})
    assert sent.status_code == 200
    receipt = receipt_on(sent)
    resent = worker.post("/ms/retaliation", data={"csrf_token": csrf_token(form), "facility": str(facility_ids[1]),
                                                  "types": ["licence_cancelled"], "description": "again"})
    assert receipt_on(resent) == receipt
    follower = app.test_client()
    assert log_in_with_receipt(follower, receipt, lang="ms").status_code == 303
    page = follower.get("/ms/case").get_data(as_text=True)
    assert "Permit kerja saya dibatalkan" in page
    claim_id = claim_id_of(session_factory)
    rosa = client_of(app, "rosa")
    assert "Ejen" in rosa.get(f"/inbox/cases/{claim_id}").get_data(as_text=True)


def test_the_escalation_record_goes_step_by_step_and_the_authority_reads_it_without_content(
        app, facility_ids, people, session_factory):
    worker, _receipt = worker_reports_and_comes_back(app, facility_ids[0])
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        case_id, reference = case.id, case.reference
    root = client_of(app, "root")
    opened = post_form(root, "/oversight/", "/oversight/", reference=reference)
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/oversight/cases/{case_id}")
    assert post_form(root, "/oversight/", "/oversight/", reference="2026-99999").status_code == 400
    record = f"/oversight/cases/{case_id}"
    assert post_form(root, record, record, step="notice_of_default").status_code == 400
    statement = pikepdf.new()
    statement.add_blank_page()
    pdf = io.BytesIO()
    statement.save(pdf)
    pdf = pdf.getvalue()
    for step, note in (("breach_indicated", "Unpaid overtime at Bac Ninh"),
                       ("cooperation_started", ""), ("statement_requested", "Measures within 30 days"),
                       ("statement_received", ""), ("meeting_held", "Met the regional director"),
                       ("remedial_action_required", ""), ("notice_of_default", "Registered letter sent")):
        fields = {"step": step, "note": note}
        if step == "statement_received":
            fields["documents"] = (io.BytesIO(pdf), "statement.pdf")
        assert post_form(root, record, record, **fields).status_code == 303, step
    assert post_form(root, record, record, step="breach_indicated").status_code == 400

    vera = client_of(app, "vera")
    assert vera.get("/inbox/").headers["Location"].endswith("/oversight/")
    timeline = vera.get(record).get_data(as_text=True)
    assert timeline.index("Breach indicated") < timeline.index("Notice of default given")
    assert "Registered letter sent" in timeline and "Record the next step" not in timeline
    document = re.search(r'href="(/oversight/cases/\d+/documents/\d+)"', timeline).group(1)
    assert vera.get(document).data.startswith(b"%PDF")
    assert "We were not paid for overtime" not in timeline
    assert vera.get(f"/inbox/cases/{case_id}").status_code == 404
    assert post_form(vera, record, record, step="penalty_applied").status_code == 200  # read only: nothing recorded
    with session_factory() as session:
        from portal.services import retaliation
        assert retaliation.timeline(session, case_id)[-1].step == "notice_of_default"
    anna = client_of(app, "anna")
    assert anna.get(record).status_code == 404 and anna.get("/oversight/statistics").status_code == 404


def test_statistics_hide_small_counts_for_the_authority_and_the_monitor(app, facility_ids, people):
    for number in range(5):
        worker = app.test_client()
        form = worker.get("/en/retaliation")
        worker.post("/en/retaliation", data={
            "csrf_token": csrf_token(form), "facility": str(facility_ids[0]),
            "types": ["dismissal"] + (["threats"] if number == 0 else []), "description": f"Fired, worker {number}"})
    for username in ("vera", "max"):
        page = client_of(app, username).get("/oversight/statistics").get_data(as_text=True)
        dismissal = re.search(r"Suspended or dismissed \(fired\)</bdi></th><td>([^<]+)<", page).group(1)
        threats = re.search(r"Threats or attempts to do any of these</bdi></th><td>(.*?)</td>", page).group(1)
        assert dismissal == "5" and "withheld" in threats
        assert "Fired, worker" not in page


def test_oversight_opens_only_what_was_escalated_or_notified_and_never_a_monitor_only_case(
        app, facility_ids, people, session_factory):
    for description in ("Quiet case", "Escalated case", "Notified case", "Sent to the monitor alone"):
        assert send_report(app.test_client(), facility_ids[0], description=description).status_code == 200
    with session_factory() as session:
        quiet, escalated, notified, monitor_only = session.scalars(select(Case).order_by(Case.id)).all()
        # Electronics Watch and the contracting authority were told of it (the mandatory notification).
        notified.mandatory_notification = True
        notified.mandatory_notified_on = notified.authority_notified_on = clock.today()
        # Stored as a case the worker sent to Electronics Watch alone.
        monitor_only.recipient_choice = "monitor"
        session.commit()
        ids = {name: case.id for name, case in (("quiet", quiet), ("escalated", escalated),
                                                 ("notified", notified), ("monitor_only", monitor_only))}
        references = {name: case.reference for name, case in (("monitor_only", monitor_only),)}
    root = client_of(app, "root")
    record = f"/oversight/cases/{ids['escalated']}"
    assert post_form(root, record, record, step="breach_indicated").status_code == 303

    vera = client_of(app, "vera")
    opens = {name: vera.get(f"/oversight/cases/{case_id}").status_code for name, case_id in ids.items()}
    assert opens == {"quiet": 404, "escalated": 200, "notified": 200, "monitor_only": 404}

    assert root.get(f"/oversight/cases/{ids['quiet']}").status_code == 200, "an administrator starts a record"
    assert root.get(f"/oversight/cases/{ids['monitor_only']}").status_code == 404
    found = post_form(root, "/oversight/", "/oversight/", reference=references["monitor_only"])
    assert found.status_code == 400, "a monitor-only case is not found by its reference either"
    assert root.get(f"/oversight/cases/{ids['monitor_only']}/documents/1").status_code == 404


def _escalate(client, record, step, days_ago=0, **fields):
    day = (clock.today() - timedelta(days=days_ago)).isoformat()
    return post_form(client, record, record, step=step, happened_on=day, **fields)


def test_the_escalation_record_follows_the_contract_and_dates_move_forward(
        app, facility_ids, people, session_factory):
    assert send_report(app.test_client(), facility_ids[0]).status_code == 200
    with session_factory() as session:
        case_id = session.scalar(select(Case.id))
    root = client_of(app, "root")
    record = f"/oversight/cases/{case_id}"
    assert _escalate(root, record, "breach_indicated", days_ago=30).status_code == 303
    for skipped in ("penalty_applied", "notice_of_default", "remedial_action_required"):
        assert _escalate(root, record, skipped, days_ago=29).status_code == 400, skipped
    assert _escalate(root, record, "cooperation_started", days_ago=31).status_code == 400, "dated before the breach"
    for step, days_ago in (("cooperation_started", 28), ("statement_requested", 27), ("statement_received", 20),
                           ("statement_requested", 19), ("statement_received", 17), ("meeting_held", 15),
                           ("meeting_held", 12)):
        assert _escalate(root, record, step, days_ago).status_code == 303, "statements and meetings may repeat"
    assert _escalate(root, record, "penalty_applied", 11).status_code == 400, "a penalty only after a notice"
    for step, days_ago in (("remedial_action_required", 10), ("notice_of_default", 5), ("penalty_applied", 2),
                           ("resolved", 1)):
        assert _escalate(root, record, step, days_ago).status_code == 303, step
    page = root.get(record).get_data(as_text=True)
    assert "Record the next step" not in page and "Resolved" in page
    with session_factory() as session:
        from portal.models import AuditEntry
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)).all()
    assert actions.count("escalation_step") == 12 and "status" not in actions


def test_a_correction_is_a_new_entry_and_the_authority_sets_due_dates_that_go_overdue(
        app, facility_ids, people, session_factory):
    assert send_report(app.test_client(), facility_ids[0]).status_code == 200
    with session_factory() as session:
        case_id = session.scalar(select(Case.id))
    root = client_of(app, "root")
    record = f"/oversight/cases/{case_id}"
    assert _escalate(root, record, "breach_indicated", 20, note="First note").status_code == 303
    assert _escalate(root, record, "cooperation_started", 10).status_code == 303
    with session_factory() as session:
        from portal.models import EscalationStep
        breach, cooperation = session.scalars(select(EscalationStep).order_by(EscalationStep.id)).all()
        breach_id, cooperation_id = breach.id, cooperation.id

    correct = f"{record}/steps/{breach_id}/correct"
    day = (clock.today() - timedelta(days=9)).isoformat()
    assert post_form(root, record, correct, happened_on=day).status_code == 400, "not after the step it precedes"
    assert post_form(root, record, correct, withdrawn="y").status_code == 400, "only the latest can be withdrawn"
    day = (clock.today() - timedelta(days=18)).isoformat()
    assert post_form(root, record, correct, happened_on=day, note="Corrected note").status_code == 303
    page = root.get(record).get_data(as_text=True)
    assert "Corrected note" in page and "corrected" in page and "<del>" in page
    with session_factory() as session:
        rows = session.scalars(select(EscalationStep).order_by(EscalationStep.id)).all()
    assert len(rows) == 3 and rows[0].happened_on == clock.today() - timedelta(days=20), "nothing edited away"
    assert rows[2].corrects_id == breach_id

    withdraw = f"{record}/steps/{cooperation_id}/correct"
    assert post_form(root, record, withdraw, withdrawn="y").status_code == 303
    assert "Cooperation started" not in root.get(record).get_data(as_text=True).split("Record the next step")[0]

    vera = client_of(app, "vera")
    due = f"{record}/due"
    past = (clock.today() - timedelta(days=25)).isoformat()
    assert post_form(vera, record, due, due_on=past).status_code == 400, "not due before it happened"
    overdue_day = (clock.today() - timedelta(days=3)).isoformat()
    assert post_form(vera, record, due, due_on=overdue_day).status_code == 303
    assert "The next step is overdue." in vera.get(record).get_data(as_text=True)
    assert "overdue" in vera.get("/oversight/").get_data(as_text=True)
    assert _escalate(root, record, "cooperation_started", 1).status_code == 303
    assert "The next step is overdue." not in vera.get(record).get_data(as_text=True)
    assert post_form(vera, record, record, step="resolved").status_code == 200
    with session_factory() as session:
        from portal.models import AuditEntry
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)).all()
    assert actions.count("escalation_corrected") == 2 and actions.count("escalation_due") == 1


def _seed_claims(session_factory, claims, remedies):
    """Claims as the database holds them (types and status only), and remedies in their states."""
    from portal.models import CaseCategory

    with session_factory() as session:
        for number, (types, status) in enumerate(claims):
            claim = Case(kind="retaliation", received_on=clock.today(), status=status, language="en",
                         acknowledge_due=clock.today(), feedback_due=clock.today(),
                         submission_digest=number.to_bytes(32, "big"), reporter_recipient="")
            claim.categories = [CaseCategory(code=code) for code in types]
            session.add(claim)
            session.flush()
            for state in remedies if number == 0 else ():
                session.add(Remedy(case_id=claim.id, kind="back_pay", state=state,
                                   state_changed_on=clock.today()))
        session.commit()


def _what_subtraction_tells(figures) -> list[int]:
    """Every count an attacker gets by subtracting one shown figure, or all of a table, from another."""
    told = []
    total, cells = figures["claims"], [v for v in figures["by_type"].values() if v is not None]
    if total is not None:
        told += [total - cell for cell in cells] + [total - sum(cells)]
    if figures["remedies_delivered"] is not None and figures["remedies_confirmed"] is not None:
        told.append(figures["remedies_delivered"] - figures["remedies_confirmed"])
    return told


def test_no_subtraction_of_shown_statistics_reveals_a_count_under_five(session_factory, recovery_identity):
    import random

    from portal.services import retaliation

    chooser = random.Random(20261207)
    types = ("dismissal", "threats", "demotion")
    for _round in range(150):
        with session_factory() as session:
            for table in (Remedy.__table__, Case.__table__):
                session.execute(table.delete())
            session.commit()
        claims = [(chooser.sample(types, chooser.choice((1, 1, 1, 2))),
                   chooser.choice(("received", "substantiated", "not_substantiated", "closed")))
                  for _ in range(chooser.randrange(0, 16))]
        remedies = [chooser.choice(("proposed", "delivered", "confirmed", "disputed"))
                    for _ in range(chooser.randrange(0, 14))]
        _seed_claims(session_factory, claims, remedies)
        with session_factory() as session:
            figures = retaliation.statistics(session)
        shown = [v for v in [figures["claims"], figures["remedies_delivered"], figures["remedies_confirmed"],
                             *figures["by_type"].values()] if v is not None]
        assert all(value >= 5 for value in shown), (claims, remedies, figures)
        assert all(not 0 < value < 5 for value in _what_subtraction_tells(figures)), (claims, remedies, figures)
        if figures["share_substantiated"] is not None:
            decided = [c for c in claims if c[1] != "received"]
            substantiated = [c for c in decided if c[1] == "substantiated"]
            assert len(substantiated) >= 5 and len(decided) - len(substantiated) >= 5


def test_the_authority_cannot_subtract_one_category_from_the_total(app, people, session_factory):
    # Seven claims, five of them about dismissal: "7 - 5" would tell that two were about something else.
    _seed_claims(session_factory, [(["dismissal"], "received")] * 5 + [(["threats"], "received")] * 2,
                 ["delivered"] * 2 + ["confirmed"] * 5)
    page = client_of(app, "vera").get("/oversight/statistics").get_data(as_text=True)
    dismissal = re.search(r"Suspended or dismissed \(fired\)</bdi></th><td>(.*?)</td>", page).group(1)
    claims = re.search(r"Retaliation claims</dt><dd>(.*?)</dd>", page).group(1)
    delivered = re.search(r"Remedies delivered</dt><dd>(.*?)</dd>", page).group(1)
    confirmed = re.search(r"Remedies confirmed by the reporter</dt><dd>(.*?)</dd>", page).group(1)
    assert claims == "7" and "withheld" in dismissal
    assert delivered == "7" and "withheld" in confirmed
