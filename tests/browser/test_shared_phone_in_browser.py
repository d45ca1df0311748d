"""A worker reports on a phone her family shares, in a real browser, JavaScript off.

After "I wrote it down. Finish" the next person to pick up the phone presses
Back, reloads, sends the old page again, opens the form: none of it shows the
report or its receipt, and the portal still holds exactly one report.
"""

import uuid

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import func, select

from portal.models import Case

pytestmark = pytest.mark.browser


def what_the_phone_shows(page) -> str:
    """The page's text and every value its form fields hold, as the next person would see them."""
    values = [field.input_value() for field in page.locator("textarea, input[type=text]").all()]
    return page.content() + "\n".join(values)


def test_after_finish_back_reload_and_resend_show_nothing_and_store_nothing(
    phone, live_server, vietnamese, session_factory, facility_ids,
):
    _ = vietnamese
    origin = live_server.origin
    canary = f"Tổ trưởng khóa cửa thoát hiểm {uuid.uuid4().hex[:10]}"
    context = phone.new_context()
    page = context.new_page()
    page.goto(f"{origin}/vi/report")
    page.locator("select[name=facility]").select_option(str(facility_ids[0]))
    page.get_by_label(_("Pay, overtime pay or social insurance")).check()
    page.get_by_label(_("What happened? Tell us in your own words.")).fill(canary)
    page.get_by_label(_("Yes, but without my name or contact details")).check()  # asked, never assumed
    sent_form = {name: page.locator(f"input[name={name}]").input_value() for name in ("csrf_token", "submission")}
    page.get_by_role("button", name=_("Send"), exact=True).click()
    receipt = page.locator(".receipt")
    receipt.wait_for()
    digits = receipt.inner_text().strip()

    page.get_by_role("button", name=_("I wrote it down. Finish")).click()
    page.wait_for_url(f"{origin}/vi/report")
    seen = [("after Finish", what_the_phone_shows(page))]

    for step in ("back", "reload", "back", "reload", "forward", "reload"):
        try:
            {"back": page.go_back, "reload": page.reload, "forward": page.go_forward}[step]()
        except PlaywrightError as error:  # Chromium may refuse to show a page it must not keep
            seen.append((step, str(error)))
        seen.append((f"{step} -> {page.url}", what_the_phone_shows(page)))

    # The old form sent again by hand, with the phone's cookies.
    resent = context.request.post(f"{origin}/vi/report", multipart={
        **sent_form, "facility": str(facility_ids[0]), "categories": "wages", "description": canary,
        "ongoing": "unknown", "people_affected": "unknown", "consent": "none"})
    seen.append(("resend", resent.text()))
    assert resent.status == 409

    page.goto(f"{origin}/vi/report")
    seen.append(("the form opened again", what_the_phone_shows(page)))
    for when, shown in seen:
        assert canary not in shown, f"{when}: the report shows again"
        assert digits not in shown and digits.replace(" ", "") not in shown, f"{when}: the receipt shows again"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
