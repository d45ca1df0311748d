"""A worker on a cheap phone, in a real browser, against a real server.

Playwright drives Debian's Chromium (headless, 360x640, JavaScript off) at
the portal served by gunicorn. The worker reports in Vietnamese with a photo
that carries GPS EXIF, writes down the receipt, comes back another day with a
fresh browser, reads the investigator's reply and answers. The database then
shows one case, a photo without its metadata, and the answer as typed.

The investigator's reply is posted through the service layer until the
investigators' inbox exists.
"""

import io
import re
import uuid

import pytest
from PIL import ExifTags, Image
from sqlalchemy import select

import crypto
from portal.models import Case, CaseItem
from portal.services import messaging

pytestmark = pytest.mark.browser

RECEIPT = re.compile(r"^\d{4} \d{4} \d{4} \d{4}$")
PHOTO_SIZE = (640, 480)


def photo_with_gps() -> bytes:
    """A JPEG as a phone camera writes it: maker, model and where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Samsung"
    exif[ExifTags.Base.Model] = "SM-A135F"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (21.0, 11.0, 10.5)  # Que Vo, Bac Ninh
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (106.0, 9.0, 30.25)
    width, height = PHOTO_SIZE
    image = Image.new("RGB", PHOTO_SIZE)
    image.putdata([(x * 255 // width, y * 255 // height, 96)
                   for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=85)
    data = out.getvalue()
    # The test means nothing unless the upload really carries the location.
    written = Image.open(io.BytesIO(data)).getexif()
    assert written[ExifTags.Base.Make] == "Samsung"
    assert written.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == (21.0, 11.0, 10.5)
    return data


def send_and_read_receipt(page, _) -> str:
    """Press Send on a filled report form, as the browser allows it, and read the receipt."""
    invalid = page.locator("input:invalid, select:invalid, textarea:invalid")
    assert invalid.count() == 0, "the browser refuses to send; invalid: " + ", ".join(
        f"{field.get_attribute('name')}={field.get_attribute('value')}" for field in invalid.all())
    page.get_by_role("button", name=_("Send"), exact=True).click()
    receipt_box = page.locator(".receipt")
    receipt_box.wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == _("Your report was received")
    receipt = receipt_box.inner_text().strip()
    assert RECEIPT.match(receipt), f"not a receipt: {receipt!r}"
    return receipt


def assert_fits_the_screen(page, what):
    """Nothing wider than the 360px viewport: no sideways scrolling on a phone.

    (Playwright evaluates in its own isolated world: the page's JavaScript stays off.)
    """
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the {what} is {width}px wide on a 360px screen"


def test_a_worker_reports_in_vietnamese_with_a_photo_comes_back_and_answers(
    phone, live_server, vietnamese, screenshots, session_factory, investigators, recovery_identity,
    facility_ids,
):
    _ = vietnamese  # gettext, from the catalog the server reads
    origin = live_server.origin
    canary = f"canary-{uuid.uuid4().hex}"
    description = f"Chúng tôi không được trả lương làm thêm giờ tháng 10. {canary}"
    photo = photo_with_gps()

    # --- Day one: the worker opens the portal and reports. -------------------
    first_visit = phone.new_context()
    page = first_visit.new_page()
    start = page.goto(f"{origin}/")
    assert start.status == 200
    assert page.url == f"{origin}/vi/", "Accept-Language vi should lead to the Vietnamese pages"
    redirect = start.request.redirected_from
    assert redirect is not None and redirect.url == f"{origin}/"
    assert redirect.response().status == 302
    assert page.locator("html").get_attribute("lang") == "vi"

    headers = start.all_headers()
    assert headers["cache-control"] == "no-store"
    policy = [part.strip() for part in headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in policy
    assert headers["referrer-policy"] == "no-referrer"
    assert first_visit.cookies() == [], "the start page alone must not set a cookie"
    page.screenshot(path=screenshots / "1-start.png", full_page=True)
    assert_fits_the_screen(page, "start page")

    page.get_by_role("link", name=_("Make a report"), exact=True).click()
    page.wait_for_url(f"{origin}/vi/report")
    assert page.get_by_role("heading", level=1).inner_text() == _("Make a report")
    page.locator("select[name=facility]").select_option(str(facility_ids[0]))
    page.get_by_label(_("Pay, overtime pay or social insurance")).check()
    page.get_by_label(_("What happened? Tell us in your own words.")).fill(description)
    page.get_by_label(_("Yes, but without my name or contact details")).check()  # asked, never assumed
    page.get_by_label(_("Take a photo")).set_input_files(
        files=[{"name": "IMG_20261120_071502.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.screenshot(path=screenshots / "2-form.png", full_page=True)
    assert_fits_the_screen(page, "report form")
    (cookie,) = first_visit.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # The browser's own form validation must let a correctly filled form go.
    receipt = send_and_read_receipt(page, _)
    page.screenshot(path=screenshots / "3-receipt.png", full_page=True)
    assert_fits_the_screen(page, "receipt page")

    # The worker writes the digits on paper and finishes.
    page.get_by_role("button", name=_("I wrote it down. Finish")).click()
    page.wait_for_url(f"{origin}/vi/report")
    assert page.locator(".receipt").count() == 0
    first_visit.close()

    # --- An investigator answers (through the service layer for now). -------
    reply = f"Cảm ơn bạn. Những ai không được trả lương? ({uuid.uuid4().hex[:8]})"
    anna, anna_identity = investigators["anna"]
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        messaging.post_to_reporter(session, case, anna, reply)

    # --- Another day, a fresh browser: the worker comes back. ---------------
    second_visit = phone.new_context()
    page = second_visit.new_page()
    page.goto(f"{origin}/vi/follow-up")
    page.get_by_label(_("Your receipt (16 digits)")).fill(receipt)
    page.get_by_role("button", name=_("Open my report")).click()
    page.wait_for_url(f"{origin}/vi/case")
    assert page.locator("article.message.handler .text").inner_text() == reply
    page.screenshot(path=screenshots / "4-case.png", full_page=True)
    assert_fits_the_screen(page, "case page")

    answer = f"Cả tổ 3, ca đêm, khoảng 40 người.\nHỏi chị Lan ở kho. {uuid.uuid4().hex[:8]}"
    page.get_by_label(_("Your answer")).fill(answer)
    page.get_by_role("button", name=_("Send"), exact=True).click()
    page.wait_for_url(re.compile(re.escape(f"{origin}/vi/case?sent=1")))
    notice = page.locator(".notice[role=status]")
    assert notice.inner_text() == _("Your answer was sent.")
    # The redirect lands on #thread: the notice must be on the screen there, not scrolled past.
    box = notice.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 640, \
        f"the 'sent' notice is off the screen after the jump to #thread: {box}"
    assert page.locator("article.message.reporter .text").last.inner_text() == answer
    page.screenshot(path=screenshots / "5-case-answered.png")  # what the worker sees
    second_visit.close()

    # --- Nothing left the server's origin. -----------------------------------
    assert phone.requested, "no request was recorded"
    elsewhere = [url for url in phone.requested
                 if not (url.startswith(f"{origin}/") or url.startswith("data:"))]
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"
    # The pages carry their stylesheet inline: each is drawn from its one response.
    assert not [url for url in phone.requested if "/static/" in url or url.endswith("/favicon.ico")]

    # --- What the database holds. --------------------------------------------
    _binh, binh_identity = investigators["binh"]
    with session_factory() as session:
        (case,) = session.scalars(select(Case)).all()
        assert case.language == "vi"
        assert case.facility_id == facility_ids[0]
        assert case.category_codes == ["wages"]
        items = session.scalars(select(CaseItem).where(CaseItem.case_id == case.id)
                                .order_by(CaseItem.id)).all()
    assert [(item.kind, item.author) for item in items] == [
        ("report", "reporter"), ("attachment", "reporter"), ("message", "handler"),
        ("message", "reporter"),
    ]
    report, attachment, _handler_message, reporter_message = items
    for item in items:
        assert canary.encode() not in item.blob
    assert canary in crypto.decrypt(report.blob, anna_identity).decode("utf-8")

    assert attachment.content_type == "image/jpeg" and attachment.evidence_record is not None
    cleaned = crypto.decrypt(attachment.blob, anna_identity)
    assert crypto.decrypt(attachment.blob, recovery_identity) == cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG"
        assert image.size == PHOTO_SIZE
        assert len(image.getexif()) == 0, f"EXIF left in the photo: {dict(image.getexif())}"
        assert "exif" not in image.info
    assert b"Exif\x00\x00" not in cleaned and b"SM-A135F" not in cleaned

    assert crypto.decrypt(reporter_message.blob, binh_identity) == answer.encode("utf-8")
    assert reporter_message.created_at is None, "a reporter's message keeps no precise time"

    assert canary not in live_server.log(), "the report's text reached the server's log"

