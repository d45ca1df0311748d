"""Investigators at their desks, in a real browser, against a real server.

Playwright drives Debian's Chromium (headless, 1280x800, JavaScript off) at
the portal served by gunicorn. A worker reports in Vietnamese from a phone,
with a photo that carries GPS EXIF, as in the reporter's journey; the case is
made six days old, so its acknowledgement is due tomorrow. Anna logs in with
her passphrase and authenticator code, sees the case marked "due soon",
opens it, downloads the photo (no location left in it), acknowledges and
replies. The worker comes back with the receipt and reads both. Anna hands
the case to Chandra; Chandra logs in, reads it and removes Anna, who can no
longer open it.
"""

import io
import re
import uuid
from datetime import timedelta

import pytest
from accounts import passphrase_of
from babel.dates import format_date
from PIL import ExifTags, Image
from sqlalchemy import select
from test_reporter_in_browser import PHOTO_SIZE, RECEIPT, photo_with_gps

import crypto
from portal import i18n
from portal.models import Case, CaseItem, Keyholder, User
from portal.services import clock, deadlines

pytestmark = pytest.mark.browser

DESK_WIDTH = 1280


def report_in_vietnamese(phone, origin, _, facility_id, description, photo) -> str:
    """The worker's first visit, as in the reporter's journey: the receipt it ends with."""
    context = phone.new_context()
    page = context.new_page()
    page.goto(f"{origin}/vi/report")
    page.locator("select[name=facility]").select_option(str(facility_id))
    page.get_by_label(_("Pay, overtime pay or social insurance")).check()
    page.get_by_label(_("What happened? Tell us in your own words.")).fill(description)
    page.get_by_label(_("Yes, but without my name or contact details")).check()  # asked, never assumed
    page.get_by_label(_("Take a photo")).set_input_files(
        files=[{"name": "IMG_20261120_071502.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.get_by_role("button", name=_("Send"), exact=True).click()
    receipt_box = page.locator(".receipt")
    receipt_box.wait_for()
    receipt = receipt_box.inner_text().strip()
    assert RECEIPT.match(receipt), f"not a receipt: {receipt!r}"
    context.close()
    return receipt


def log_in(page, origin, _, username, code):
    """Type the credentials into the log-in form the inbox redirects to."""
    assert page.url.startswith(f"{origin}/inbox/login"), page.url
    assert page.get_by_role("heading", level=1).inner_text() == _("Log in")
    page.get_by_label(_("Username")).fill(username)
    page.get_by_label(_("Passphrase")).fill(passphrase_of(username))
    page.get_by_label(_("Code from your authenticator app, or a recovery code")).fill(code)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=_("Log in")).click()
    status = navigation.value.status
    assert status == 200, f"the log-in of {username} answered {status}"
    assert not page.url.startswith(f"{origin}/inbox/login"), f"{username} is still at the log-in"


def submit(page, button):
    """Click a form's button and wait for the page the redirect after the POST lands on."""
    with page.expect_navigation() as navigation:
        button.click()
    response = navigation.value
    assert response.status == 200, f"{page.url} answered {response.status}"
    assert response.request.redirected_from is not None, "the form did not redirect after the POST"
    assert response.request.redirected_from.method == "POST"
    return response


def assert_fits_the_desk(page, what):
    """No sideways scrolling at 1280px.

    (Playwright evaluates in its own isolated world: the page's JavaScript stays off.)
    """
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DESK_WIDTH, f"the {what} is {width}px wide on a {DESK_WIDTH}px screen"


def keyholder_names(page, _):
    """The names under "Who holds this case", each followed by its Remove button."""
    return [text.strip().removesuffix(_("Remove")).strip().removesuffix("(%s)" % _("lead")).strip()
            for text in page.locator("#keyholders + ul > li").all_inner_texts()]


def test_investigators_acknowledge_answer_and_hand_over_a_vietnamese_report(
    phone, desk, live_server, vietnamese, english, authenticator, screenshots, session_factory,
    investigators, colleague, facility_ids,
):
    origin = live_server.origin
    canary = f"canary-{uuid.uuid4().hex}"
    description = f"Chúng tôi không được trả lương làm thêm giờ tháng 10. {canary}"

    # --- A worker reports from a phone, with a located photo. ----------------
    receipt = report_in_vietnamese(phone, origin, vietnamese, facility_ids[0], description,
                                   photo_with_gps())

    # --- Six days later: the acknowledgement is due tomorrow. ----------------
    received = clock.today() - timedelta(days=6)
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        case.received_on = received
        case.acknowledge_due = received + timedelta(days=7)
        case.feedback_due = deadlines.feedback_due(received, 3)
        session.commit()
        case_id, reference, feedback_due = case.id, case.reference, case.feedback_due
    case_url = f"{origin}/inbox/cases/{case_id}"

    # --- Anna logs in and finds the case near the top of her work. -----------
    _ = english
    anna_desk = desk.new_context()
    anna = anna_desk.new_page()
    anna.goto(f"{origin}/inbox/")
    log_in(anna, origin, _, "anna", authenticator.code("anna"))
    assert anna.url == f"{origin}/inbox/", "after log-in anna should land on the list she asked for"
    assert anna.locator("html").get_attribute("lang") == "en"
    (cookie,) = anna_desk.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    row = anna.locator("table.cases tbody tr").filter(
        has=anna.get_by_role("link", name=reference, exact=True))
    assert row.count() == 1, f"case {reference} is not listed once"
    cells = row.locator("td")  # the case's reference heads the row: next action, lead, received...
    assert cells.nth(5).inner_text() == i18n.NATIVE_NAMES["vi"]
    assert cells.nth(6).inner_text() == _("Received")
    assert cells.nth(7).locator(".badge.soon").inner_text() == _("due soon")
    assert cells.nth(8).locator(".badge").count() == 0, "only the acknowledgement is due soon"
    assert cells.nth(0).locator(".badge").all_inner_texts() == [_("Due soon")], "the row's need, in words"
    assert cells.nth(9).inner_text().strip() == "2", "the report and its photo are unread"
    anna.screenshot(path=screenshots / "1-inbox.png", full_page=True)
    assert_fits_the_desk(anna, "case list")

    # --- She opens it and reads it. ------------------------------------------
    anna.get_by_role("link", name=reference, exact=True).click()
    anna.wait_for_url(case_url)
    assert anna.get_by_role("heading", level=1).inner_text() == _("Case %(reference)s") % {
        "reference": reference}
    assert anna.locator("dl.report dd.text").first.inner_text() == description
    anna.screenshot(path=screenshots / "2-case.png", full_page=True)
    assert_fits_the_desk(anna, "case page")

    # --- The photo she downloads has no location in it. ----------------------
    file_link = anna.get_by_role("link", name=_("File %(number)s") % {"number": 1}, exact=True)
    with anna.expect_download() as download_info:
        file_link.click()
    download = download_info.value
    assert download.failure() is None
    name = download.suggested_filename
    assert re.fullmatch(rf"case-{re.escape(reference)}-file-\d+\.jpg", name), name
    photo = download.path().read_bytes()
    with Image.open(io.BytesIO(photo)) as image:
        assert image.format == "JPEG"
        assert image.size == PHOTO_SIZE
        exif = image.getexif()
        assert len(exif) == 0, f"EXIF left in the photo: {dict(exif)}"
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo), "GPS left in the photo"
        assert "exif" not in image.info
    assert b"Exif\x00\x00" not in photo and b"SM-A135F" not in photo
    assert anna.url == case_url, "the download must not leave the case page"

    # --- She acknowledges: the worker gets a message in Vietnamese. ----------
    anna.get_by_label(_("New status")).select_option(label=_("Acknowledged"))
    submit(anna, anna.get_by_role("button", name=_("Change status"), exact=True))
    assert anna.url == case_url
    assert anna.locator("dl.status dd").first.inner_text() == _("Acknowledged")
    acknowledgement = vietnamese(
        "We have received your report and we have read it. Thank you for telling us. "
        "We will tell you what we did by %(date)s. Come back with your receipt to read our "
        "messages and to answer our questions."
    ) % {"date": format_date(feedback_due, format="long", locale="vi")}
    assert "Chúng tôi đã nhận được phản ánh của bạn" in acknowledgement, "not translated"
    handler_texts = anna.locator("article.message.handler .text")
    assert handler_texts.all_inner_texts() == [acknowledgement]

    # --- And she asks a question. --------------------------------------------
    reply = f"Cảm ơn bạn. Những ai không được trả lương? ({uuid.uuid4().hex[:8]})"
    anna.get_by_label(_("Message to the reporter")).fill(reply)
    submit(anna, anna.get_by_role("button", name=_("Send to the reporter"), exact=True))
    assert anna.url == f"{case_url}#thread"
    assert handler_texts.all_inner_texts() == [acknowledgement, reply]
    assert anna.locator("article.message.handler .meta").last.inner_text().startswith("Anna · ")

    # --- The worker comes back with the receipt and reads both. --------------
    worker = phone.new_context().new_page()
    worker.goto(f"{origin}/vi/follow-up")
    worker.get_by_label(vietnamese("Your receipt (16 digits)")).fill(receipt)
    worker.get_by_role("button", name=vietnamese("Open my report")).click()
    worker.wait_for_url(f"{origin}/vi/case")
    assert worker.locator("dl.status dd").first.inner_text() == vietnamese(
        "We answered you. Read the messages below.")
    worker_reads = worker.locator("article.message.handler .text").all_inner_texts()
    assert worker_reads == [acknowledgement, reply]
    worker.screenshot(path=screenshots / "3-worker-reads.png", full_page=True)

    # --- Anna hands the case to Chandra. -------------------------------------
    assert keyholder_names(anna, _) == ["Anna", "Binh"]
    assert anna.locator("#keyholders + ul > li").first.inner_text().startswith("Anna (%s)" % _("lead")), \
        "the first routed keyholder leads the case"
    anna.get_by_label(_("Colleague")).select_option(label="Chandra")
    submit(anna, anna.get_by_role("button", name=_("Hand over a copy"), exact=True))
    assert anna.url == f"{case_url}#keyholders"
    assert keyholder_names(anna, _) == ["Anna", "Binh", "Chandra"]
    anna.screenshot(path=screenshots / "4-case-handed-over.png", full_page=True)
    assert_fits_the_desk(anna, "case page after the hand-over")

    # --- Chandra logs in at her own desk and reads it. -----------------------
    chandra = desk.new_context().new_page()
    chandra.goto(f"{origin}/inbox/")
    log_in(chandra, origin, _, "chandra", authenticator.code("chandra"))
    assert chandra.locator("nav").get_by_role("link", name="Chandra").count() == 1
    chandra_row = chandra.locator("table.cases tbody tr")
    assert chandra_row.count() == 1
    assert chandra_row.locator(".badge.done").inner_text() == _("done"), "acknowledged already"
    chandra.get_by_role("link", name=reference, exact=True).click()
    chandra.wait_for_url(case_url)
    assert chandra.locator("dl.report dd.text").first.inner_text() == description
    chandra_reads = chandra.locator("article.message.handler .text").all_inner_texts()
    assert chandra_reads == [acknowledgement, reply]

    # --- She takes Anna off the case. ----------------------------------------
    anna_item = chandra.locator("#keyholders + ul > li").filter(has_text=re.compile(r"^\s*Anna\b"))
    assert anna_item.count() == 1
    submit(chandra, anna_item.get_by_role("button", name=_("Remove"), exact=True))
    assert chandra.url == f"{case_url}#keyholders"
    assert keyholder_names(chandra, _) == ["Binh", "Chandra"]

    # --- Anna's page, reloaded, is gone; so is the row in her list. ----------
    gone = anna.reload()
    assert gone.status == 404
    anna.goto(f"{origin}/inbox/")
    assert anna.get_by_role("link", name=reference, exact=True).count() == 0
    assert anna.locator("table.cases tbody").inner_text().strip() == _("No cases match.")
    gone = anna.goto(case_url)
    assert gone.status == 404

    # --- Nothing left the server's origin. -----------------------------------
    requested = phone.requested + desk.requested
    assert desk.requested, "no request was recorded at the desks"
    elsewhere = [url for url in requested if not url.startswith((f"{origin}/", "data:"))]
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"
    assert f"{origin}/static/inbox.css" in desk.requested

    # --- What the database holds: Anna's key opens nothing of the case. ------
    _anna, anna_identity = investigators["anna"]
    _chandra, chandra_identity = colleague
    with session_factory() as session:
        holders = session.scalars(
            select(User.username).join(Keyholder, Keyholder.user_id == User.id)
            .where(Keyholder.case_id == case_id).order_by(User.username)).all()
        items = session.scalars(select(CaseItem).where(CaseItem.case_id == case_id)
                                .order_by(CaseItem.id)).all()
        case = session.get(Case, case_id)
        assert (case.status, case.acknowledged_on) == ("acknowledged", clock.today())
    assert holders == ["binh", "chandra"]
    assert [(item.kind, item.author) for item in items] == [
        ("report", "reporter"), ("attachment", "reporter"),
        ("message", "handler"), ("message", "handler"),
    ]
    for item in items:
        crypto.decrypt(item.blob, chandra_identity)
        with pytest.raises(crypto.AgeError):
            crypto.decrypt(item.blob, anna_identity)

    assert canary not in live_server.log(), "the report's text reached the server's log"
    assert reply not in live_server.log(), "a message's text reached the server's log"
