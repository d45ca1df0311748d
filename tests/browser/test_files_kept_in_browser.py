"""A worker forgets to tick what her report is about, with a photo chosen.

In a real browser on a cheap phone (JavaScript off), the form comes back
telling her what is missing, in Vietnamese, and saying the photo is kept: she
does not choose it again. She ticks the box and presses Send. The investigator
then finds the photo on the case, downloads it and it opens, without the
location the phone wrote into it.
"""

import io
import re

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select
from test_inbox_in_browser import log_in
from test_reporter_in_browser import PHOTO_SIZE, RECEIPT, photo_with_gps

from portal.models import Case, KeptFile

pytestmark = pytest.mark.browser


def test_a_worker_forgets_the_category_ticks_it_and_the_investigator_gets_the_photo(
    phone, desk, live_server, vietnamese, english, authenticator, session_factory, investigators, facility_ids,
    screenshots,
):
    origin = live_server.origin
    _ = vietnamese
    page = phone.new_context().new_page()
    page.goto(f"{origin}/vi/report")
    page.locator("select[name=facility]").select_option(str(facility_ids[0]))
    description = "Cửa thoát hiểm ở chuyền 3 bị khóa."
    page.get_by_label(_("What happened? Tell us in your own words.")).fill(description)
    page.get_by_label(_("Yes, but without my name or contact details")).check()
    page.get_by_label(_("Take a photo")).set_input_files(
        files=[{"name": "IMG_20261120_071502.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}])

    # --- She presses Send without ticking what it is about. -------------------
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=_("Send"), exact=True).click()
    assert navigation.value.status == 400
    assert _("Please check the fields marked below.") in page.get_by_role("alert").inner_text()
    assert _("Choose at least one.") in page.locator("#categories-error").inner_text()
    assert page.get_by_label(_("What happened? Tell us in your own words.")).input_value() == description
    kept = page.locator(".kept li")
    assert kept.count() == 1, "the page says the photo is kept"
    listed = re.escape(_("Kept: %(kind)s, %(size)s")).replace(re.escape("%(kind)s"), re.escape(_("Photo")))
    assert re.match(listed.replace(re.escape("%(size)s"), r"[0-9.,]+\s?[kM]B"), kept.inner_text()), \
        kept.inner_text()
    assert page.get_by_label(_("Take a photo")).input_value() == "", "the browser forgot it; the portal did not"
    page.screenshot(path=screenshots / "kept-photo.png", full_page=True)

    # --- She ticks it and sends, without choosing the photo again. -------------
    page.get_by_label(_("Pay, overtime pay or social insurance")).check()
    page.get_by_role("button", name=_("Send"), exact=True).click()
    receipt_box = page.locator(".receipt")
    receipt_box.wait_for()
    assert RECEIPT.match(receipt_box.inner_text().strip())
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        case_id, reference = case.id, case.reference
        assert session.scalar(select(func.count()).select_from(KeptFile)) == 0, "sent: nothing kept any more"

    # --- The investigator finds the photo, and it opens. -----------------------
    _ = english
    anna = desk.new_context().new_page()
    anna.goto(f"{origin}/inbox/cases/{case_id}")
    log_in(anna, origin, _, "anna", authenticator.code("anna"))
    assert anna.get_by_role("heading", level=1).inner_text() == _("Case %(reference)s") % {"reference": reference}
    with anna.expect_download() as download_info:
        anna.get_by_role("link", name=_("File %(number)s") % {"number": 1}, exact=True).click()
    download = download_info.value
    assert download.failure() is None
    photo = download.path().read_bytes()
    with Image.open(io.BytesIO(photo)) as image:
        image.load()
        assert image.format == "JPEG" and image.size == PHOTO_SIZE
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo), "GPS left in the photo"
