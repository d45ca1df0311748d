"""A worker reports from a phone, gets a receipt, and comes back with it."""

import io
import re

import pytest
from reporter_pages import (
    csrf_token,
    draft_id,
    log_in_with_receipt,
    open_form,
    receipt_on,
    right_looking_receipts,
    send_report,
)
from sqlalchemy import func, select

import crypto
from portal.models import Case, CaseItem
from portal.services import cases, evidence, messaging, users


def count_cases(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_a_worker_reports_in_vietnamese_and_gets_a_receipt_in_four_groups(app, client, facility_ids):
    response = send_report(client, facility_ids[0], lang="vi",
                           description="Chúng tôi không được trả lương làm thêm giờ.")
    assert response.status_code == 200
    receipt = receipt_on(response)
    groups = receipt.split(" ")
    assert [len(g) for g in groups] == [4, 4, 4, 4] and receipt.replace(" ", "").isdigit()
    assert count_cases(app) == 1


def test_the_report_is_stored_encrypted_for_the_investigators_and_the_recovery_key(
    app, client, facility_ids, investigators, recovery_identity
):
    send_report(client, facility_ids[0], description="Overtime unpaid since May", contact="Signal +60 12")
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        report = next(item for item in case.items if item.kind == "report")
        assert b"Overtime" not in report.blob
        for _user, identity in investigators.values():
            assert b"Overtime unpaid since May" in crypto.decrypt(report.blob, identity)
        assert b"Signal +60 12" in crypto.decrypt(report.blob, recovery_identity)
        assert case.category_codes == ["wages"]
        assert case.language == "en"
        assert (case.acknowledge_due - case.received_on).days == 7


def test_pressing_send_again_after_a_dropped_connection_creates_no_second_report(app, client, facility_ids):
    form = open_form(client)
    data = {"csrf_token": csrf_token(form), "submission": draft_id(form), "facility": str(facility_ids[0]),
            "categories": ["wages"], "description": "Unpaid overtime", "ongoing": "yes", "people_affected": "few",
            "consent": "none"}
    first = client.post("/en/report", data=data)
    second = client.post("/en/report", data=data)
    assert first.status_code == second.status_code == 200
    assert receipt_on(first) == receipt_on(second)
    assert "already arrived" in second.get_data(as_text=True)
    assert count_cases(app) == 1


def test_two_reports_written_in_two_tabs_of_one_phone_are_both_stored(app, client, facility_ids):
    first_tab, second_tab = open_form(client), open_form(client)
    assert draft_id(first_tab) != draft_id(second_tab)
    receipts = []
    for tab, text in ((first_tab, "Wages withheld in October"), (second_tab, "Fire exits locked on line 3")):
        sent = client.post("/en/report", data={
            "csrf_token": csrf_token(tab), "submission": draft_id(tab), "facility": str(facility_ids[0]),
            "categories": ["wages"], "description": text, "ongoing": "yes", "people_affected": "few",
            "consent": "none"})
        assert "already arrived" not in sent.get_data(as_text=True)
        receipts.append(receipt_on(sent))
    assert receipts[0] != receipts[1] and count_cases(app) == 2


@pytest.mark.parametrize("kind", ["report", "retaliation"])
def test_on_a_shared_phone_the_receipt_is_shown_once_and_nothing_is_sent_twice(app, client, facility_ids, kind):
    """Reopening the form shows a blank one; after Finish, sending the old form again (Back, reload)
    shows nothing of it and stores nothing, in the same session, a new one, or none."""
    url = f"/en/{'report' if kind == 'report' else 'retaliation'}"
    if kind == "retaliation":
        # A claim from the start page goes to the retaliation officers only.
        with app.extensions["portal.sessions"]() as session:
            users.create(session, "rosa", "Rosa", "retaliation_officer", "rosa correct horse battery staple",
                         work_factor=10)
    form = client.get(url)
    secret = "Supervisor Tran locked the fire exit"
    data = {"csrf_token": csrf_token(form), "submission": draft_id(form), "facility": str(facility_ids[0]),
            "categories": ["wages"], "description": secret, "ongoing": "yes", "people_affected": "few",
            "consent": "none", "types": ["dismissal"]}
    receipt_page = client.post(url, data=data)
    assert receipt_page.status_code == 200
    receipt = receipt_on(receipt_page)

    reopened = client.get(url).get_data(as_text=True)
    assert 'class="receipt"' not in reopened and receipt not in reopened and secret not in reopened

    finish = client.post("/en/report/new", data={"csrf_token": csrf_token(receipt_page)})
    assert finish.status_code == 303
    for who in (client, client, app.test_client()):
        if who is client:
            who.get(url)  # a new form opened after Finish: a new session
        again = who.post(url, data=data)
        shown = again.get_data(as_text=True)
        assert again.status_code == 409
        assert secret not in shown and receipt not in shown and receipt.replace(" ", "") not in shown
    assert count_cases(app) == 1


def test_the_worker_comes_back_reads_the_reply_and_answers(app, client, facility_ids, investigators):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi"))
    anna, anna_identity = investigators["anna"]
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        messaging.post_to_reporter(session, case, anna, "Cảm ơn bạn. Ai không được trả lương?")

    returning = app.test_client()
    opened = log_in_with_receipt(returning, receipt, lang="vi")
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/vi/case")
    page = returning.get("/vi/case")
    assert page.status_code == 200
    assert "Ai không được trả lương?" in page.get_data(as_text=True)

    answer = returning.post("/vi/case", data={"csrf_token": csrf_token(page), "message": "Cả tổ 3."})
    assert answer.status_code == 303
    with app.extensions["portal.sessions"]() as session:
        reply = session.scalars(
            select(CaseItem).where(CaseItem.kind == "message", CaseItem.author == "reporter")
        ).one()
        assert crypto.decrypt(reply.blob, anna_identity) == "Cả tổ 3.".encode()
        assert reply.created_at is None, "a reporter's message keeps no precise time"


def test_a_receipt_typed_with_dashes_or_thai_digits_opens_the_report(app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0]))
    digits = receipt.replace(" ", "")
    thai = "".join(chr(0x0E50 + int(d)) for d in digits)
    assert log_in_with_receipt(app.test_client(), "-".join([digits[:8], digits[8:]])).status_code == 303
    assert log_in_with_receipt(app.test_client(), thai).status_code == 303


def test_a_wrong_receipt_is_refused_in_the_workers_language(app, client, facility_ids):
    send_report(client, facility_ids[0])
    wrong = log_in_with_receipt(app.test_client(), "1234 5678 9012 3456", lang="vi")
    assert wrong.status_code == 403
    malformed = log_in_with_receipt(app.test_client(), "1234", lang="en")
    assert malformed.status_code == 400
    assert "16 digits" in malformed.get_data(as_text=True)


def test_receipt_guessing_is_held_back_by_one_budget_for_everyone(app, facility_ids, session_factory):
    """Guesses whose check code is right (each costs an Argon2id) share one budget; the rest are refused
    before it (tests/portal/test_receipt_flood.py)."""
    app.config["RECEIPT_ATTEMPTS_PER_MINUTE"] = 3
    statuses = [log_in_with_receipt(app.test_client(), guess).status_code
                for guess in right_looking_receipts(session_factory, 5)]
    assert statuses[:3] == [403, 403, 403]
    assert statuses[3:] == [429, 429]


def test_the_case_page_needs_a_receipt_session_and_logout_ends_it(app, client, facility_ids):
    assert client.get("/en/case").status_code == 303
    receipt = receipt_on(send_report(client, facility_ids[0]))
    returning = app.test_client()
    log_in_with_receipt(returning, receipt)
    page = returning.get("/en/case")
    out = returning.post("/en/logout", data={"csrf_token": csrf_token(page)})
    assert out.status_code == 303
    assert returning.get("/en/case").status_code == 303


def test_the_worker_adds_a_photo_from_the_follow_up_page(app, client, facility_ids, investigators):
    from PIL import Image

    receipt = receipt_on(send_report(client, facility_ids[0]))
    returning = app.test_client()
    log_in_with_receipt(returning, receipt)
    page = returning.get("/en/case")
    image = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(image, "PNG")
    response = returning.post("/en/case", data={"csrf_token": csrf_token(page), "message": "",
                                                "photo": [(io.BytesIO(image.getvalue()), "IMG_2026.png")]},
                              content_type="multipart/form-data")
    assert response.status_code == 303
    with app.extensions["portal.sessions"]() as session:
        item = session.scalars(select(CaseItem).where(CaseItem.kind == "attachment")).one()
        _anna, identity = investigators["anna"]
        assert item.content_type == "image/png" and "rebuilt_from_pixels" in evidence.record_of(item, identity).steps
        assert Image.open(io.BytesIO(crypto.decrypt(item.blob, identity))).size == (40, 30)


def test_the_worker_sees_what_each_file_was_and_a_status_that_moves_as_the_investigator_answers(
        app, client, facility_ids, investigators):
    """A photo, a voice note and a PDF each say what they were and how big; the status follows
    the case: received, read, answered, looked at again after she answers, told, closed."""
    import wave

    from PIL import Image

    photo, sound, pdf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    Image.effect_noise((300, 300), 80).convert("RGB").save(photo, "PNG")
    with wave.open(sound, "wb") as recording:
        recording.setnchannels(1), recording.setsampwidth(2), recording.setframerate(8000)
        recording.writeframes(bytes(8000 * 2 * 3))
    Image.new("RGB", (50, 50), "white").save(pdf, "PDF")
    receipt = receipt_on(send_report(client, facility_ids[0], files={"files": [
        (io.BytesIO(photo.getvalue()), "a.png"), (io.BytesIO(sound.getvalue()), "b.wav"),
        (io.BytesIO(pdf.getvalue()), "c.pdf")]}))
    worker = app.test_client()
    log_in_with_receipt(worker, receipt)

    def case_page():
        return worker.get("/en/case").get_data(as_text=True)

    page = case_page()
    assert "A file was added" not in page
    with app.extensions["portal.sessions"]() as session:
        stored = {item.content_type: item.size for item in session.scalars(
            select(CaseItem).where(CaseItem.kind == "attachment"))}
    assert set(stored) == {"image/png", "audio/mp4", "application/pdf"}
    for kind, content_type in (("Photo", "image/png"), ("Voice note", "audio/mp4"), ("PDF document",
                                                                                     "application/pdf")):
        size = stored[content_type]
        shown = f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} kB"
        assert re.search(rf'{kind} · <span dir="ltr">{re.escape(shown)}</span>', page), (kind, shown)
    assert "Received, not yet read" in page

    anna, _identity = investigators["anna"]
    steps = [
        (lambda s, c: cases.change_status(s, anna, c, "acknowledged"), "Received and read by the investigators"),
        (lambda s, c: messaging.post_to_reporter(s, c, anna, "Which line?", commit=False),
         "We answered you. Read the messages below."),
        ("worker answers", "Being investigated"),
        (lambda s, c: cases.change_status(s, anna, c, "investigating"), "Being investigated"),
        (lambda s, c: cases.change_status(s, anna, c, "feedback_given"), "We told you what we did"),
        (lambda s, c: cases.change_status(s, anna, c, "closed", "substantiated"), "Closed"),
    ]
    for step, status in steps:
        if step == "worker answers":
            assert worker.post("/en/case", data={"csrf_token": csrf_token(worker.get("/en/case")),
                                                 "message": "Line 4."}).status_code == 303
        else:
            with app.app_context(), app.extensions["portal.sessions"]() as session:
                step(session, session.scalars(select(Case)).one())
                session.commit()
        shown = re.search(r"<dt>Status</dt>\s*<dd>([^<]*)</dd>", case_page()).group(1)
        assert shown == status
