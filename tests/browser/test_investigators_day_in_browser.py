"""An investigator's day, in a real browser against a real server (JavaScript off).

Three workers have reported: one in Burmese says someone is in danger now, one in
Vietnamese waited ten days without an acknowledgement, one in English wrote today.
Anna starts her day: the header says what needs action, the danger case comes first
and the overdue one next, each row saying its next action and its lead. She opens the
danger case, acknowledges it with the Burmese template (English beside it), edited
before sending; the worker reads it in Burmese. She finds the case again by a Burmese
word of the report, exports it to a lawyer's age key, and the export opens with the
standard age tool and passes ``portal cases verify-export``.
"""

import shutil
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from babel.dates import format_date
from sqlalchemy import select
from test_inbox_in_browser import assert_fits_the_desk, log_in, submit
from test_locales import AXE

from portal.models import Case, User
from portal.services import clock, deadlines, findings

pytestmark = pytest.mark.browser

AGE, AGE_KEYGEN = shutil.which("age"), shutil.which("age-keygen")
PORTAL = Path(sys.executable).with_name("portal")
# "Chemicals" in Burmese: a word inside a line without spaces, as Burmese is written.
CHEMICALS = "ဓာတုပစ္စည်း"
BURMESE = f"စက်ရုံထဲမှာ{CHEMICALS}ယိုစိမ့်နေပြီး အလုပ်သမားနှစ်ယောက် မူးလဲသွားတယ်။"
ACKNOWLEDGEMENT = ("We have received your report and we have read it. Thank you for telling us. "
                   "We will tell you what we did by %(date)s. Come back with your receipt to read our "
                   "messages and to answer our questions.")


@pytest.fixture
def server_languages():
    return ["en", "vi", "my"]


@pytest.fixture
def burmese(compiled_catalogs):
    from babel.support import Translations

    return Translations.load(str(compiled_catalogs), ["my"]).gettext


def report(phone, origin, lang, facility_id, description, *, danger=False) -> str:
    """A worker's report, sent from a phone; the receipt it ends with."""
    page = phone.new_context().new_page()
    page.goto(f"{origin}/{lang}/report")
    page.locator("select[name=facility]").select_option(str(facility_id))
    page.locator("input[name=categories][value=health_safety]").check()
    page.locator("textarea[name=description]").fill(description)
    if danger:
        page.locator("input[name=immediate_danger]").check()
    page.locator("input[name=consent][value=without_identity]").check()
    page.locator("form button[type=submit]").last.click()
    receipt = page.locator(".receipt")
    receipt.wait_for()
    text = receipt.inner_text().strip()
    page.context.close()
    return text


@pytest.mark.skipif(not (AGE and AGE_KEYGEN), reason="the age tool is not installed")
def test_an_investigator_starts_the_day_answers_in_burmese_finds_and_exports_the_case(
    phone, desk, live_server, english, burmese, authenticator, screenshots, session_factory,
    investigators, facility_ids, tmp_path, axe_source,
):
    origin, _ = live_server.origin, english
    danger_receipt = report(phone, origin, "my", facility_ids[0], BURMESE, danger=True)
    report(phone, origin, "vi", facility_ids[0], "Chúng tôi không được trả lương làm thêm giờ tháng 10.")
    report(phone, origin, "en", facility_ids[1], "The canteen water smells of rust.")

    # The Vietnamese worker has waited ten days: the acknowledgement is three days overdue.
    with session_factory() as session:
        cases = {case.language: case for case in session.scalars(select(Case))}
        received = clock.today() - timedelta(days=10)
        late = cases["vi"]
        late.received_on, late.acknowledge_due = received, received + timedelta(days=7)
        late.feedback_due = deadlines.feedback_due(received, 3)
        session.commit()
        danger = cases["my"]
        danger_id, danger_ref, late_ref, feedback_due = danger.id, danger.reference, late.reference, danger.feedback_due
    case_url = f"{origin}/inbox/cases/{danger_id}"

    # --- Anna starts her day: what needs her, in order. ----------------------
    anna = desk.new_context().new_page()
    anna.goto(f"{origin}/inbox/")
    log_in(anna, origin, _, "anna", authenticator.code("anna"))
    header = anna.locator("nav .badge").first.inner_text()
    assert header == _("%(num)d need action") % {"num": 3}, header
    rows = anna.locator("table.cases tbody tr")
    assert rows.nth(0).locator("th a").inner_text() == danger_ref, "the danger case comes first"
    assert rows.nth(1).locator("th a").inner_text() == late_ref, "the overdue case comes next"
    assert _("Someone may be in danger") in rows.nth(0).locator("td.next-action").inner_text()
    assert rows.nth(1).locator("td.next-action").inner_text().strip().endswith(
        _("Acknowledgement overdue by %(num)d days") % {"num": 3})
    assert "Anna" in rows.nth(0).inner_text(), "the lead is named on the row"
    anna.screenshot(path=screenshots / "1-needs-me.png", full_page=True)
    assert_fits_the_desk(anna, "case list")
    # A screen reader's and a keyboard's view: axe on the list and on the case, in her session
    # (axe needs a context with scripts; the pages have none).
    scripted = desk.browser.new_context(**{**desk.options, "java_script_enabled": True})
    desk.contexts.append(scripted)
    scripted.add_cookies(anna.context.cookies())
    checker = scripted.new_page()
    # The case's findings and an overdue corrective action are on the page axe reads too.
    with session_factory() as session:
        holder, identity = investigators["anna"]
        finding = findings.write_finding(session, session.get(User, holder.id), identity, session.get(Case, danger_id),
                                         "The fire exits were locked.", "Cửa thoát hiểm bị khóa.", "Sẽ mở cửa.")
        findings.add_action(session, session.get(User, holder.id), finding, "Unlock the exits", "Facility manager",
                            clock.today() - timedelta(days=1))
        finding_id = finding.id
    for path in ("/inbox/", f"/inbox/cases/{danger_id}", f"/inbox/cases/{danger_id}/findings/{finding_id}"):
        checker.goto(f"{origin}{path}")
        assert checker.evaluate(AXE, axe_source) == [], path

    # --- She acknowledges the danger case with the Burmese template. ---------
    rows.nth(0).locator("th a").click()
    anna.wait_for_url(case_url)
    acknowledge_now = anna.get_by_role("button", name=_("Acknowledge now"), exact=True)
    assert acknowledge_now.bounding_box()["y"] < 800, "the case's actions are at the top, above the fold"
    anna.locator("select#template").select_option("standard:acknowledgement")
    anna.get_by_role("button", name=_("Use this template"), exact=True).click()
    anna.wait_for_url(f"{case_url}?*")
    in_burmese = burmese(ACKNOWLEDGEMENT) % {"date": format_date(feedback_due, format="long", locale="my")}
    assert in_burmese != ACKNOWLEDGEMENT % {"date": format_date(feedback_due, format="long", locale="en")}
    assert anna.locator("#reply-template blockquote[lang=my]").inner_text() == in_burmese
    assert anna.locator("#reply-template blockquote[lang=en]").inner_text() == ACKNOWLEDGEMENT % {
        "date": format_date(feedback_due, format="long", locale="en")}
    message = anna.get_by_label(_("What the reporter reads (when acknowledging or closing)"))
    assert message.input_value() == in_burmese
    edited = in_burmese + " ဘေးကင်းရာကို ချက်ချင်းရွှေ့ပါ။"
    message.fill(edited)
    submit(anna, anna.get_by_role("button", name=_("Change status"), exact=True))
    assert anna.locator("dl.status dd").first.inner_text() == _("Acknowledged")
    anna.screenshot(path=screenshots / "2-acknowledged.png", full_page=True)

    # The worker reads it, in Burmese, once.
    worker = phone.new_context().new_page()
    worker.goto(f"{origin}/my/follow-up")
    worker.locator("input[name=receipt]").fill(danger_receipt)
    worker.locator("form button[type=submit]").last.click()
    worker.wait_for_url(f"{origin}/my/case")
    assert worker.locator("article.message.handler .text").all_inner_texts() == [edited]

    # --- She finds the case again by a Burmese word of the report. -----------
    anna.get_by_role("link", name=_("Find a case")).click()
    anna.get_by_label(_("Words")).fill(CHEMICALS)
    anna.get_by_role("button", name=_("Search"), exact=True).click()
    found = anna.locator("main").get_by_role("link", name=danger_ref, exact=True)
    assert found.count() == 1, "the danger case is found by its Burmese word"
    assert anna.get_by_role("link", name=late_ref, exact=True).count() == 0
    found.click()
    anna.wait_for_url(case_url)

    # --- She exports it for the lawyer, and the export checks out. -----------
    key = tmp_path / "lawyer.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
    lawyer = subprocess.run([AGE_KEYGEN, "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    anna.get_by_role("link", name=_("Export this case")).click()
    anna.get_by_label(_("Another person's age public key")).check()
    anna.get_by_label(_("Their age public key (age1… or age1pq1…)")).fill(lawyer)
    with anna.expect_download() as download_info:
        anna.get_by_role("button", name=_("Export and download"), exact=True).click()
    download = download_info.value
    assert download.suggested_filename == f"case-{danger_ref}.zip.age"
    sealed = tmp_path / download.suggested_filename
    download.save_as(sealed)
    opened = tmp_path / f"case-{danger_ref}.zip"
    with opened.open("wb") as out:
        subprocess.run([AGE, "-d", "-i", str(key), str(sealed)], check=True, stdout=out)
    with zipfile.ZipFile(opened) as archive:
        names = archive.namelist()
        assert {"report.json", "messages.json", "audit.json", "manifest.json", "manifest.sig"} <= set(names)
        assert CHEMICALS in archive.read("report.json").decode("utf-8")
        assert edited in archive.read("messages.json").decode("utf-8")
    checked = subprocess.run([str(PORTAL), "cases", "verify-export", str(opened)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
