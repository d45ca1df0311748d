"""What a watched worker needs: no cookie before it is needed, nothing stored
that could identify them, and pages that keep to themselves."""

import io
import logging
import os
import tempfile
from pathlib import Path

from PIL import Image
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

import crypto
from portal.models import CaseItem
from portal.services import evidence

REPORTER_PAGES = ["/en/", "/vi/", "/zh-Hans/", "/ms/", "/en/report", "/en/follow-up"]


def test_the_start_page_sets_no_cookie(client):
    response = client.get("/vi/")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_every_reporter_page_sends_the_protective_headers(app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0]))
    returning = app.test_client()
    log_in_with_receipt(returning, receipt)
    responses = [client.get(path) for path in REPORTER_PAGES] + [returning.get("/en/case")]
    responses.append(client.get("/en/no-such-page"))
    for response in responses:
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy, "reporter pages run no script at all"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookies_are_httponly_strict_and_secure_outside_development(app, facility_ids):
    app.config["DEVELOPMENT"] = False
    cookie = app.test_client().get("/en/report").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie


def test_reporter_pages_reference_nothing_on_another_host(client):
    for path in REPORTER_PAGES:
        html = client.get(path).get_data(as_text=True)
        for attribute in ('src="', "src='", 'href="//', "url("):
            for part in html.split(attribute)[1:]:
                assert not part.startswith(("http:", "https:", "//")), (path, part[:60])
        assert "<script" not in html


def test_no_address_user_agent_or_report_text_reaches_the_database_files_or_logs(
    app, client, facility_ids, instance_dir, caplog, capfd, database_url, tmp_path, monkeypatch
):
    # The temporary folder the application would use, fresh so only its files are in it.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    canary = "CANARY-7f3a9c-overtime"
    address, agent = "203.0.113.77", "CanaryPhone/9.9 (UA-5b1e)"
    caplog.set_level(logging.DEBUG)
    environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent, "HTTP_X_FORWARDED_FOR": address}
    form = client.get("/en/report", environ_base=environ)
    photo = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(photo, "JPEG")
    response = client.post(
        "/en/report",
        data={"csrf_token": csrf_token(form), "facility": str(facility_ids[0]), "categories": ["wages"],
              "description": f"{canary} in line 4", "contact": f"{canary}-contact", "ongoing": "yes",
              "people_affected": "few", "consent": "none",
              "files": [(io.BytesIO(photo.getvalue()), f"{canary}.jpg")]},
        content_type="multipart/form-data",
        environ_base=environ,
    )
    receipt = receipt_on(response)
    log_in_with_receipt(app.test_client(), receipt)
    needles = [canary.encode(), address.encode(), agent.encode(), receipt.replace(" ", "").encode()]

    places = [instance_dir, temporary]
    if database_url.startswith("sqlite"):
        places.append(Path(database_url.removeprefix("sqlite:///")).parent)
    for place in places:
        for path in _files_under(place):
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {path}"
    if not database_url.startswith("sqlite"):
        with app.extensions["portal.engine"].connect() as connection:
            dump = "".join(str(row) for table in ("cases", "case_items", "web_sessions", "budgets")
                           for row in connection.exec_driver_sql(f"SELECT * FROM {table}"))
        for needle in needles:
            assert needle.decode() not in dump
    captured = capfd.readouterr()
    logs = caplog.text + captured.out + captured.err
    for needle in needles:
        assert needle.decode() not in logs


def _files_under(root):
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path.is_file() and path.stat().st_size < 200 * 1024 * 1024:
                yield path


def test_uploads_never_touch_a_temporary_file(app, client, facility_ids, monkeypatch):
    opened = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        real = getattr(tempfile, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            opened.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, spy)
    photo = io.BytesIO()
    Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3)).save(photo, "PNG")
    assert len(photo.getvalue()) > 1024 * 1024, "big enough for Werkzeug to spool to disk"
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(photo.getvalue()), "a.png")]})
    assert response.status_code == 200
    assert opened == []


def test_photos_lose_gps_and_camera_metadata_before_encryption(app, client, facility_ids, investigators):
    exif = Image.Exif()
    exif[0x010F] = "CanaryMaker"
    exif[0x0110] = "CanaryModel"
    exif[0x0112] = 6  # rotated: the stored photo must be turned upright
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (5.0, 21.0, 30.0), 3: "E", 4: (100.0, 17.0, 40.0)})
    photo = io.BytesIO()
    Image.new("RGB", (60, 20), "green").save(photo, "JPEG", exif=exif, comment=b"CanaryComment")
    response = send_report(client, facility_ids[0],
                           files={"photo": [(io.BytesIO(photo.getvalue()), "IMG_20261125_0655.jpg")]})
    assert response.status_code == 200
    _anna, identity = investigators["anna"]
    with app.extensions["portal.sessions"]() as session:
        item = session.scalars(select(CaseItem).where(CaseItem.kind == "attachment")).one()
        assert "rebuilt_from_pixels" in evidence.record_of(item, identity).steps
        clean = crypto.decrypt(item.blob, identity)
    image = Image.open(io.BytesIO(clean))
    assert not image.getexif() and "exif" not in image.info and "comment" not in image.info
    assert image.size == (20, 60)
    for needle in (b"Canary", b"IMG_2026"):
        assert needle not in clean


def test_ended_sessions_leave_nothing_behind(app, client, facility_ids):
    from datetime import timedelta

    from reporter_pages import draft_id, open_form, report_fields
    from sqlalchemy import func, update

    from portal.models import WebSession
    from portal.services import clock

    def keep_a_photo(visitor):
        # A form sent back with a photo keeps it: the session holds it, so it is stored.
        form = open_form(visitor)
        picture = io.BytesIO()
        Image.new("RGB", (40, 30), (20, 120, 200)).save(picture, "JPEG")
        data = report_fields(facility_ids[0], csrf_token="expired", submission=draft_id(form),
                             photo=[(io.BytesIO(picture.getvalue()), "a.jpg")])
        assert visitor.post("/en/report", data=data, content_type="multipart/form-data").status_code == 400

    keep_a_photo(client)
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1
        session.execute(update(WebSession).values(expires_at=clock.now() - timedelta(minutes=1)))
        session.commit()
    from portal.web.common.sessions import CLEAN_ONE_IN

    # New stored sessions clear out ended ones now and then: after a few, none is left.
    for _visitor in range(CLEAN_ONE_IN):
        keep_a_photo(app.test_client())
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == CLEAN_ONE_IN, \
            "only the new visitors' sessions are left"
