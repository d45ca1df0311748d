"""Bad input gets a clear message in the worker's language, the right status,
and nothing half-written: the text the worker typed is kept in the form."""

import html
import io

from reporter_pages import csrf_token, draft_id, open_form, receipt_on, report_fields, send_report
from sqlalchemy import func, select

from portal.models import Case, CaseItem


def cases_and_items(app):
    with app.extensions["portal.sessions"]() as session:
        return (session.scalar(select(func.count()).select_from(Case)),
                session.scalar(select(func.count()).select_from(CaseItem)))


def test_a_report_without_a_description_is_refused_in_vietnamese_keeping_the_text(app, client, facility_ids):
    response = send_report(client, facility_ids[0], lang="vi", description="", when="tháng Mười")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Hãy" in page or "hãy" in page, "the message is in Vietnamese"
    assert "Please tell us what happened." not in page
    assert 'value="tháng Mười"' in page, "what the worker typed is still in the form"
    assert cases_and_items(app) == (0, 0)


def test_missing_categories_and_an_unknown_facility_are_refused(app, client, facility_ids):
    assert send_report(client, facility_ids[0], categories=[]).status_code == 400
    assert send_report(client, 999999).status_code == 400
    assert send_report(client, "other", facility_other="").status_code == 400
    assert cases_and_items(app) == (0, 0)


def test_a_workplace_not_in_the_list_is_accepted_as_free_text(app, client, facility_ids):
    response = send_report(client, "other", facility_other="Unlisted plant, Johor Bahru")
    assert response.status_code == 200
    with app.extensions["portal.sessions"]() as session:
        assert session.scalars(select(Case)).one().facility_id is None


def test_text_longer_than_the_limit_is_refused_with_a_message(app, client, facility_ids):
    app.config["MAX_TEXT_CHARS"] = 50
    response = send_report(client, facility_ids[0], description="x" * 51)
    assert response.status_code == 400
    assert "too long" in response.get_data(as_text=True)
    assert cases_and_items(app) == (0, 0)


def test_a_forged_csrf_token_is_refused_and_the_text_kept(app, client, facility_ids):
    open_form(client, "ms")
    data = report_fields(facility_ids[0], description="Gaji tidak dibayar")
    data["csrf_token"] = "forged"
    response = client.post("/ms/report", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Gaji tidak dibayar" in page
    assert cases_and_items(app) == (0, 0)
    # The page carries a fresh token: sending again works.
    data["csrf_token"] = csrf_token(response)
    assert client.post("/ms/report", data=data).status_code == 200


def test_a_form_sent_without_its_session_asks_to_send_again(app, facility_ids):
    client = app.test_client()
    data = report_fields(facility_ids[0], description="Lost my session")
    response = client.post("/en/report", data=data)
    assert response.status_code == 400
    assert "Lost my session" in response.get_data(as_text=True)
    assert cases_and_items(app) == (0, 0)


def test_a_file_of_an_unknown_type_is_refused_whatever_its_name(app, client, facility_ids):
    response = send_report(client, facility_ids[0],
                           files={"files": [(io.BytesIO(b"MZ\x90\x00 not a photo"), "photo.jpg")]})
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert '"\u2068photo.jpg\u2069" could not be sent: this kind of file is not accepted' in page
    assert cases_and_items(app) == (0, 0)


def test_a_damaged_photo_is_refused_and_nothing_is_stored(app, client, facility_ids):
    damaged = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    response = send_report(client, facility_ids[0], files={"photo": [(io.BytesIO(damaged), "a.jpg")]})
    assert response.status_code == 400
    assert cases_and_items(app) == (0, 0)


def test_a_file_over_the_size_limit_gets_a_friendly_page_in_the_workers_language(app, client, facility_ids):
    app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024
    response = send_report(client, facility_ids[0], lang="vi",
                           files={"files": [(io.BytesIO(b"%PDF-1.4" + b"0" * 20 * 1024), "big.pdf")]})
    assert response.status_code == 413
    assert "MB" in response.get_data(as_text=True)
    assert cases_and_items(app) == (0, 0)


def test_a_request_over_the_total_limit_gets_a_413_page_not_a_reset(app, client, facility_ids):
    form = open_form(client, "zh-Hans")
    oversized = app.config["MAX_CONTENT_LENGTH"] + 1
    response = client.post(
        "/zh-Hans/report",
        data={"csrf_token": csrf_token(form), "files": [(io.BytesIO(b"0" * oversized), "x.bin")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert 'lang="zh-Hans"' in response.get_data(as_text=True)
    assert cases_and_items(app) == (0, 0)


def test_too_many_files_are_refused(app, client, facility_ids):
    app.config["MAX_ATTACHMENTS"] = 1
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 10
    response = send_report(client, facility_ids[0],
                           files={"files": [(io.BytesIO(png), "a.png"), (io.BytesIO(png), "b.png")]})
    assert response.status_code == 400
    assert cases_and_items(app) == (0, 0)


def test_the_honeypot_field_stops_a_bot(app, client, facility_ids):
    response = send_report(client, facility_ids[0], website="http://spam.example")
    assert response.status_code == 400
    assert cases_and_items(app) == (0, 0)


def test_an_unknown_language_prefix_is_a_404(client):
    assert client.get("/xx/report").status_code == 404


def test_the_root_picks_the_language_from_accept_language(client):
    assert client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).headers["Location"] == "/zh-Hans/"
    assert client.get("/", headers={"Accept-Language": "ms-MY"}).headers["Location"] == "/ms/"
    assert client.get("/", headers={"Accept-Language": "de-DE"}).headers["Location"] == "/en/"


def test_text_that_is_not_valid_utf8_is_refused_not_stored_garbled(app, client, facility_ids):
    form = open_form(client, "vi")
    boundary = "----portal-test"
    fields = {"csrf_token": csrf_token(form).encode(), "facility": str(facility_ids[0]).encode(),
              "categories": b"wages", "description": "lương".encode() + b"\xff\xfe",
              "ongoing": b"yes", "people_affected": b"few", "consent": b"none"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in fields.items()
    ) + f"--{boundary}--\r\n".encode()
    response = client.post("/vi/report", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert "Some characters could not be read" not in response.get_data(as_text=True), "in Vietnamese"
    assert cases_and_items(app) == (0, 0)


def test_a_workplace_changed_while_the_form_is_open_is_judged_as_it_stands_now(app, client, facility_ids):
    """The blank form's choices are kept a few seconds; a report is never judged by them alone."""
    from portal.models import Facility
    from portal.services import facilities

    form = open_form(client)  # the choices of this language are now kept
    sessions = app.extensions["portal.sessions"]
    with sessions() as session:
        added = facilities.add(session, country="TH", name="Ayutthaya Circuits", local_name="Ayutthaya Circuits",
                               supplier="Northlight", address="Rojana Industrial Park").id
        session.get(Facility, facility_ids[0]).active = False
        session.commit()
    assert f'value="{added}"'.encode() not in form.get_data(), "the form opened before the workplace existed"

    def send(facility):
        page = open_form(client)
        data = dict(report_fields(facility), csrf_token=csrf_token(page), submission=draft_id(page))
        return client.post("/en/report", data=data, content_type="multipart/form-data")

    # Added after the form was opened: accepted at once, a receipt for it.
    accepted = send(added)
    assert accepted.status_code == 200 and receipt_on(accepted)
    # Closed after the form was opened: refused with its field marked, nothing stored.
    refused = send(facility_ids[0])
    assert refused.status_code == 400
    assert 'id="facility-error"' in refused.get_data(as_text=True)
    assert f'value="{facility_ids[0]}"' not in refused.get_data(as_text=True)
    assert cases_and_items(app) == (1, 1)
