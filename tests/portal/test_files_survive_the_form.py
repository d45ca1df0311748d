"""Files chosen on a form survive the form coming back.

A worker who forgot a box, or whose page was open too long, is not made to
find her photos again: they were cleaned and kept, sealed, for the next send of
that same form, and the page lists them. A file that cannot be sent is named,
and everything else she wrote and chose stays. Kept files go when the form is
sent, when she leaves, and when her session ends.
"""

import html
import io
import re
from datetime import timedelta
from pathlib import Path

from accounts import passphrase_of, totp_secret_of
from PIL import Image
from reporter_pages import csrf_token, draft_id, log_in_with_receipt, open_form, receipt_on, report_fields, send_report
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import crypto
from portal.models import Case, CaseItem, KeptFile
from portal.services import clock, kept_files, notifications, users

KEPT_PHOTO = re.compile(r"Kept: Photo, [0-9.,]+\s?[kM]B")


def photo(colour=(20, 120, 200)):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def kept_rows(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(KeptFile))


def cases(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Case))


def photos_the_investigator_reads(app, identity):
    """The photos stored with cases, opened with an investigator's key: their sizes in pixels."""
    with app.extensions["portal.sessions"]() as session:
        items = session.scalars(select(CaseItem).where(CaseItem.kind == "attachment")).all()
        return [Image.open(io.BytesIO(crypto.decrypt(item.blob, identity))).size for item in items
                if item.content_type.startswith("image/")]


def page_text(response):
    return html.unescape(response.get_data(as_text=True))


def send_again(client, page, facility, lang="en", files=None, **overrides):
    """Press Send on the form ``page`` came back with, the mistake corrected."""
    data = report_fields(facility, **overrides)
    data["csrf_token"] = csrf_token(page)
    data["submission"] = draft_id(page)
    data.update(files or {})
    return client.post(f"/{lang}/report", data=data, content_type="multipart/form-data")


def test_a_photo_chosen_with_the_category_forgotten_is_kept_and_sent_with_the_corrected_form(
        app, client, facility_ids, investigators):
    came_back = send_report(client, facility_ids[0], categories=[],
                            files={"photo": [(io.BytesIO(photo()), "IMG_2231.jpg")]})
    assert came_back.status_code == 400
    assert "Please check the fields marked below." in page_text(came_back)
    assert KEPT_PHOTO.search(page_text(came_back)), "the page lists the photo as kept"
    assert "You do not need to choose them again." in page_text(came_back)
    assert (cases(app), kept_rows(app)) == (0, 1)

    sent = send_again(client, came_back, facility_ids[0], categories=["wages"])
    assert sent.status_code == 200
    receipt_on(sent)
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == [(40, 30)]
    assert kept_rows(app) == 0, "sent: the kept photo is deleted"


def test_a_photo_chosen_on_a_form_whose_token_expired_is_kept(app, client, facility_ids, investigators):
    form = open_form(client)
    data = report_fields(facility_ids[0], description="Wages late again")
    data.update(csrf_token="expired", submission=draft_id(form), photo=[(io.BytesIO(photo()), "a.jpg")])
    came_back = client.post("/en/report", data=data, content_type="multipart/form-data")
    assert came_back.status_code == 400
    assert "This form was open too long. Please press Send again." in page_text(came_back)
    assert "Wages late again" in page_text(came_back) and KEPT_PHOTO.search(page_text(came_back))
    sent = send_again(client, came_back, facility_ids[0], description="Wages late again")
    assert sent.status_code == 200
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == [(40, 30)]
    assert kept_rows(app) == 0


def test_a_photo_chosen_on_a_form_whose_session_ended_is_kept(app, client, facility_ids, investigators):
    form = open_form(client)
    client.delete_cookie("portal_session")
    data = report_fields(facility_ids[0])
    data.update(csrf_token=csrf_token(form), submission=draft_id(form), photo=[(io.BytesIO(photo()), "a.jpg")])
    came_back = client.post("/en/report", data=data, content_type="multipart/form-data")
    assert came_back.status_code == 400
    assert KEPT_PHOTO.search(page_text(came_back))
    assert send_again(client, came_back, facility_ids[0]).status_code == 200
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == [(40, 30)]


def test_a_refused_file_is_named_and_the_text_choices_and_accepted_photo_are_kept(
        app, client, facility_ids, investigators):
    came_back = send_report(client, facility_ids[0], lang="en", description="Locked fire exit on line 3",
                            people_affected="few", files={
                                "photo": [(io.BytesIO(photo()), "good.jpg")],
                                "files": [(io.BytesIO(b"MZ\x90\x00 a program"), "IMG_2231.jpg")]})
    page = page_text(came_back)
    assert came_back.status_code == 400
    assert '"\u2068IMG_2231.jpg\u2069" could not be sent: this kind of file is not accepted.' in page
    assert "good.jpg" not in page, "only the refused file is named"
    assert "Locked fire exit on line 3" in page
    assert re.search(r'<input checked[^>]*value="few"', page), "the choices are kept"
    assert len(KEPT_PHOTO.findall(page)) == 1, "the accepted photo is kept"
    assert cases(app) == 0, "nothing is sent while a file is refused"

    assert send_again(client, came_back, facility_ids[0]).status_code == 200
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == [(40, 30)]


def test_the_refused_files_name_is_stored_nowhere(app, client, facility_ids):
    came_back = send_report(client, facility_ids[0], categories=[], files={
        "photo": [(io.BytesIO(photo()), "Canary-Name-7731.jpg")],
        "files": [(io.BytesIO(b"not a file we take"), "Canary-Refused-7731.txt")]})
    assert "Canary-Refused-7731.txt" in page_text(came_back)
    url = app.extensions["portal.engine"].url
    if url.get_backend_name() == "sqlite":
        database = Path(url.database)
        for path in database.parent.glob(database.name + "*"):
            assert b"Canary" not in path.read_bytes(), path.name


def test_a_file_over_the_size_limit_is_named_and_the_others_kept(app, client, facility_ids):
    app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024
    came_back = send_report(client, facility_ids[0], files={
        "photo": [(io.BytesIO(photo()), "small.jpg")],
        "files": [(io.BytesIO(b"%PDF-1.4" + b"0" * 20 * 1024), "payslip.pdf")]})
    assert came_back.status_code == 413
    assert '"\u2068payslip.pdf\u2069" could not be sent: it is too big.' in page_text(came_back)
    assert KEPT_PHOTO.search(page_text(came_back))


def test_a_kept_photo_the_worker_leaves_out_is_not_sent(app, client, facility_ids, investigators):
    came_back = send_report(client, facility_ids[0], categories=[],
                            files={"photo": [(io.BytesIO(photo()), "a.jpg")]})
    handle = re.search(r'name="remove_kept" value="([^"]+)"', came_back.get_data(as_text=True)).group(1)
    assert "Do not send it" in page_text(came_back)
    sent = send_again(client, came_back, facility_ids[0], remove_kept=[handle])
    assert sent.status_code == 200
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == []
    assert kept_rows(app) == 0


def test_kept_files_go_when_the_worker_leaves(app, client, facility_ids):
    came_back = send_report(client, facility_ids[0], categories=[],
                            files={"photo": [(io.BytesIO(photo()), "a.jpg")]})
    assert kept_rows(app) == 1
    client.post("/en/logout", data={"csrf_token": csrf_token(came_back)})
    assert kept_rows(app) == 0


def test_kept_files_go_when_the_session_ends_unused(app, client, facility_ids, monkeypatch):
    send_report(client, facility_ids[0], categories=[], files={"photo": [(io.BytesIO(photo()), "a.jpg")]})
    assert kept_rows(app) == 1
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=3))
    assert client.get("/en/report").status_code == 200
    assert kept_rows(app) == 0, "the ended session's files went with it"


def test_kept_files_of_a_session_that_never_came_back_are_purged_after_their_day(
        app, client, facility_ids, monkeypatch):
    send_report(client, facility_ids[0], categories=[], files={"photo": [(io.BytesIO(photo()), "a.jpg")]})
    with app.extensions["portal.sessions"]() as session:
        assert kept_files.purge(session) == 0, "still today: kept"
        real_today = clock.today
        monkeypatch.setattr(clock, "today", lambda: real_today() + timedelta(days=kept_files.DAYS_KEPT + 1))
        assert kept_files.purge(session) == 1
        session.commit()
    assert kept_rows(app) == 0
    came_back = send_report(client, facility_ids[0], categories=[])
    assert came_back.status_code == 400


def test_the_follow_up_answer_keeps_its_photo_when_the_page_was_open_too_long(
        app, client, facility_ids, investigators):
    receipt = receipt_on(send_report(client, facility_ids[0]))
    assert log_in_with_receipt(client, receipt).status_code == 303
    came_back = client.post("/en/case", data={"csrf_token": "expired", "message": "Here is the notice.",
                                              "photo": [(io.BytesIO(photo()), "notice.jpg")]},
                            content_type="multipart/form-data")
    assert came_back.status_code == 400
    assert "Here is the notice." in page_text(came_back) and KEPT_PHOTO.search(page_text(came_back))
    assert KEPT_PHOTO.search(page_text(client.get("/en/case"))), "the page lists it while the session lasts"
    sent = client.post("/en/case", data={"csrf_token": csrf_token(came_back), "message": "Here is the notice."},
                       content_type="multipart/form-data")
    assert sent.status_code == 303
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == [(40, 30)]
    assert kept_rows(app) == 0


def test_the_retaliation_claim_keeps_its_photo_when_no_box_was_ticked(app, client, facility_ids, investigators):
    receipt = receipt_on(send_report(client, facility_ids[0]))
    assert log_in_with_receipt(client, receipt).status_code == 303
    form = client.get("/en/case/claim")
    fields = {"csrf_token": csrf_token(form), "submission": draft_id(form), "when": "Last week",
              "by_whom": "The line leader", "description": "I was sent home after reporting."}
    came_back = client.post("/en/case/claim", data={**fields, "photo": [(io.BytesIO(photo()), "letter.jpg")]},
                            content_type="multipart/form-data")
    assert came_back.status_code == 400
    assert KEPT_PHOTO.search(page_text(came_back)) and "I was sent home after reporting." in page_text(came_back)
    sent = client.post("/en/case/claim", data={**fields, "csrf_token": csrf_token(came_back),
                                               "submission": draft_id(came_back), "types": ["dismissal"]},
                       content_type="multipart/form-data")
    assert sent.status_code == 303
    assert kept_rows(app) == 0
    with app.extensions["portal.sessions"]() as session:
        claim = session.scalars(select(Case).where(Case.kind == "retaliation")).one()
        assert [item.content_type for item in claim.items if item.kind == "attachment"] == ["image/jpeg"]


def test_the_direct_claim_keeps_its_photo_when_no_box_was_ticked(app, client, facility_ids, session_factory):
    with session_factory() as session:
        users.create(session, "rosa", "Rosa", "retaliation_officer", passphrase_of("rosa"), work_factor=10,
                     totp_secret=totp_secret_of("rosa"))
    form = client.get("/en/retaliation")
    fields = {"csrf_token": csrf_token(form), "submission": draft_id(form), "facility": str(facility_ids[0]),
              "description": "I was moved to night shifts after I complained."}
    came_back = client.post("/en/retaliation", data={**fields, "photo": [(io.BytesIO(photo()), "rota.jpg")]},
                            content_type="multipart/form-data")
    assert came_back.status_code == 400 and KEPT_PHOTO.search(page_text(came_back))
    sent = client.post("/en/retaliation", data={**fields, "csrf_token": csrf_token(came_back),
                                                "submission": draft_id(came_back), "types": ["demotion"]},
                       content_type="multipart/form-data")
    assert sent.status_code == 200
    receipt_on(sent)
    assert kept_rows(app) == 0
    with app.extensions["portal.sessions"]() as session:
        claim = session.scalars(select(Case).where(Case.kind == "retaliation")).one()
        assert [item.content_type for item in claim.items if item.kind == "attachment"] == ["image/jpeg"]


def test_a_send_that_fails_at_the_commit_keeps_the_photo_and_shows_no_receipt(
        app, client, facility_ids, investigators, monkeypatch):
    came_back = send_report(client, facility_ids[0], categories=[],
                            files={"photo": [(io.BytesIO(photo()), "a.jpg")]})

    def disk_full(*_args, **_kwargs):
        raise OperationalError("INSERT INTO outbox", {}, Exception("database or disk is full"))

    monkeypatch.setattr(notifications, "queue_for", disk_full)
    failed = send_again(client, came_back, facility_ids[0])
    assert failed.status_code == 503
    assert 'class="receipt"' not in failed.get_data(as_text=True)
    assert (cases(app), kept_rows(app)) == (0, 1), "nothing half-written, and the photo still kept"
    monkeypatch.undo()
    sent = send_again(client, came_back, facility_ids[0])
    assert sent.status_code == 200
    receipt_on(sent)
    assert photos_the_investigator_reads(app, investigators["anna"][1]) == [(40, 30)]
    assert kept_rows(app) == 0


def test_a_form_another_site_made_the_browser_send_keeps_no_file(app, client, facility_ids):
    form = open_form(client)
    data = {**report_fields(facility_ids[0], categories=[]), "csrf_token": csrf_token(form),
            "submission": draft_id(form), "photo": [(io.BytesIO(photo()), "planted.jpg")]}
    came_back = client.post("/en/report", data=data, content_type="multipart/form-data",
                            headers={"Sec-Fetch-Site": "cross-site"})
    assert came_back.status_code == 400
    assert not KEPT_PHOTO.search(page_text(came_back))
    assert kept_rows(app) == 0
