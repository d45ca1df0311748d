"""A staff member takes a Burmese worker's report by phone, with a photo, and the worker's
receipt slip comes out in Burmese; the slip's receipt opens the worker's follow-up page."""

import io

import pytest
from PIL import Image
from test_inbox_in_browser import log_in
from test_locales import AXE

pytestmark = pytest.mark.browser

BURMESE = "စက်ရုံထဲမှာ ဓာတုပစ္စည်း ယိုစိမ့်နေတယ်။"


@pytest.fixture
def server_languages():
    return ["en", "vi", "my"]


@pytest.fixture
def burmese(compiled_catalogs):
    from babel.support import Translations

    return Translations.load(str(compiled_catalogs), ["my"]).gettext


def test_a_phone_report_in_burmese_ends_with_a_burmese_slip_whose_receipt_opens_the_follow_up(
    phone, desk, live_server, english, burmese, authenticator, facility_ids, tmp_path, axe_source,
):
    origin, _ = live_server.origin, english
    picture = tmp_path / "leak.jpg"
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (30, 120, 200)).save(out, "JPEG")
    picture.write_bytes(out.getvalue())

    anna = desk.new_context().new_page()
    anna.goto(f"{origin}/inbox/")
    log_in(anna, origin, _, "anna", authenticator.code("anna"))
    anna.get_by_role("link", name=_("Enter a report for a worker")).click()
    anna.wait_for_url(f"{origin}/inbox/report-for-a-worker")
    anna.get_by_label(_("Phone call")).check()
    anna.get_by_label(_("The worker's language (replies and the receipt slip are in it)")).select_option("my")
    anna.locator("select[name=facility]").select_option(str(facility_ids[0]))
    anna.locator("input[name=categories][value=health_safety]").check()
    anna.locator("textarea[name=description]").fill(BURMESE)
    anna.locator("input[name=photo]").set_input_files(str(picture))
    anna.locator("input[name=consent][value=none]").check()
    with anna.expect_navigation() as navigation:
        anna.get_by_role("button", name=_("Send the report and show the receipt slip")).click()
    assert navigation.value.status == 200
    assert navigation.value.headers["cache-control"] == "no-store"

    # The slip: in Burmese, the receipt in big grouped digits, the note to Anna in English.
    assert anna.locator("html").get_attribute("lang") == "my"
    heading = anna.get_by_role("heading", level=1).inner_text()
    assert heading == burmese("Your report was received") != "Your report was received"
    receipt = anna.locator(".receipt").inner_text().strip()
    assert len(receipt.replace(" ", "")) == 16 and receipt.count(" ") == 3
    assert "give the paper to the worker" in anna.locator(".staff-note").inner_text()
    slip_html = anna.content()
    # On paper: the slip alone, without the note to Anna.
    anna.emulate_media(media="print")
    assert anna.locator(".receipt").is_visible() and not anna.locator(".staff-note").is_visible()
    anna.emulate_media(media="screen")

    # axe on the form and on the slip, in Anna's session (axe needs a context with scripts).
    scripted = desk.browser.new_context(**{**desk.options, "java_script_enabled": True})
    desk.contexts.append(scripted)
    scripted.add_cookies(anna.context.cookies())
    checker = scripted.new_page()
    checker.goto(f"{origin}/inbox/report-for-a-worker")
    assert checker.evaluate(AXE, axe_source) == [], "the form"
    checker.set_content(slip_html)
    assert checker.evaluate(AXE, axe_source) == [], "the slip"

    # Reload: the browser sends the form again; the slip is not shown again.
    with anna.expect_navigation() as navigation:
        anna.reload()
    assert navigation.value.status == 409
    assert receipt not in anna.content()

    # The worker, later, on a phone: the slip's receipt opens the follow-up page, in Burmese.
    worker = phone.new_context().new_page()
    worker.goto(f"{origin}/my/follow-up")
    worker.locator("input[name=receipt]").fill(receipt)
    worker.locator("form button[type=submit]").last.click()
    worker.wait_for_url(f"{origin}/my/case")
    assert BURMESE in worker.content()
