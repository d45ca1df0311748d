"""Small things that decide whether a page can be used, in a real browser.

- A worker on a 360px phone (JavaScript off) can hit every checkbox, radio and
  file button with a thumb: each is at least 44x44 CSS pixels on every reporter
  page, in a left-to-right and a right-to-left language.
- Every label puts the cursor in its own box: on the report form and on the
  investigator's case page, a click on each label and typing lands the text in
  the box that label names (the internal note never goes into the reply to the
  worker), and a click on a choice's label ticks that choice.
- Text a worker wrote with direction controls (U+202E and friends) does not turn
  the investigator's page around: every piece of the page's own Latin text is
  still drawn from left to right.
"""

import uuid

import pytest
from test_inbox_in_browser import log_in
from test_reporter_in_browser import RECEIPT

pytestmark = pytest.mark.browser

TAP = 44  # CSS pixels
# Every visible checkbox, radio and file button that is smaller than a thumb.
SMALL_TARGETS = """
(minimum) => [...document.querySelectorAll('input[type=checkbox], input[type=radio], input[type=file]')]
  .filter(el => !el.closest('[aria-hidden="true"]') && el.getClientRects().length > 0)
  .map(el => ({name: el.name + '=' + el.value, box: el.getBoundingClientRect()}))
  .filter(t => t.box.width < minimum - 0.5 || t.box.height < minimum - 0.5)
  .map(t => `${t.name}: ${Math.round(t.box.width)}x${Math.round(t.box.height)}`)
"""
COUNT_TARGETS = "() => document.querySelectorAll('input[type=checkbox], input[type=radio], input[type=file]').length"
# Each label with a "for", and what it names.
LABELS = """
() => [...document.querySelectorAll('label[for]')]
  .filter(l => l.getClientRects().length > 0 && !l.closest('[aria-hidden="true"]')).map(l => {
  const target = document.getElementById(l.htmlFor);
  return {for: l.htmlFor, kind: target ? (target.tagName.toLowerCase() + ':' + (target.type || '')) : 'missing'};
})
"""
# The page's own text outside what people typed: Latin words whose letters are drawn right to left.
REVERSED_PAGE_TEXT = """
() => {
  const reversed = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const holder = node.parentElement;
    if (holder.closest('bdi, textarea, select, option, script, style') || holder.getClientRects().length === 0) continue;
    const text = node.textContent;
    const word = /[A-Za-z]{3,}/.exec(text);
    if (!word) continue;
    const range = document.createRange();
    range.setStart(node, word.index);
    range.setEnd(node, word.index + 1);
    const first = range.getBoundingClientRect();
    range.setStart(node, word.index + word[0].length - 1);
    range.setEnd(node, word.index + word[0].length);
    const last = range.getBoundingClientRect();
    if (Math.abs(first.top - last.top) < 2 && first.left > last.left) reversed.push(word[0]);
  }
  return reversed;
}
"""
HOSTILE = "\u2069\u202e Lương tháng 10 chưa trả \u2066 open"


def report_and_open_the_case(phone, origin, _, facility_id, language="vi", **written) -> tuple:
    """A report sent through the phone's form; the worker's page of it, opened with the receipt."""
    page = phone.new_context().new_page()
    page.goto(f"{origin}/{language}/report")
    page.locator("select[name=facility]").select_option(written.get("facility", str(facility_id)))
    if "facility_other" in written:
        page.locator("input[name=facility_other]").fill(written["facility_other"])
    page.get_by_label(_("Pay, overtime pay or social insurance")).check()
    page.get_by_label(_("What happened? Tell us in your own words.")).fill(written.get("description", "Unpaid"))
    page.locator("input[name=when]").fill(written.get("when", ""))
    page.get_by_label(_("No, only the people named above")).check()
    page.get_by_role("button", name=_("Send"), exact=True).click()
    receipt_box = page.locator(".receipt")
    receipt_box.wait_for()
    receipt = receipt_box.inner_text().strip()
    assert RECEIPT.match(receipt), receipt
    page.get_by_role("button", name=_("I wrote it down. Finish")).click()
    page.goto(f"{origin}/{language}/follow-up")
    page.get_by_label(_("Your receipt (16 digits)")).fill(receipt)
    page.get_by_role("button", name=_("Open my report")).click()
    page.wait_for_url(f"{origin}/{language}/case")
    return page, receipt


@pytest.mark.parametrize("language", ["vi", "ur"])
def test_every_checkbox_radio_and_file_button_on_the_reporter_pages_fits_a_thumb(
        phone, live_server, facility_ids, compiled_catalogs, language):
    from babel.support import Translations

    _ = Translations.load(str(compiled_catalogs), [language]).gettext
    origin = live_server.origin
    checked, problems = 0, []
    visitor = phone.new_context().new_page()
    for path in ("/{lang}/report", "/{lang}/retaliation", "/{lang}/follow-up", "/{lang}/"):
        visitor.goto(origin + path.format(lang=language))
        problems += [f"{path}: {small}" for small in visitor.evaluate(SMALL_TARGETS, TAP)]
        checked += visitor.evaluate(COUNT_TARGETS)
    worker, _receipt = report_and_open_the_case(phone, origin, _, facility_ids[0], language)
    for path in ("/{lang}/case", "/{lang}/case/claim"):
        worker.goto(origin + path.format(lang=language))
        problems += [f"{path}: {small}" for small in worker.evaluate(SMALL_TARGETS, TAP)]
        checked += worker.evaluate(COUNT_TARGETS)
    assert checked >= 30, f"only {checked} checkboxes, radios and file buttons found"
    assert not problems, "smaller than 44x44 CSS pixels:\n" + "\n".join(problems)


def type_through_every_label(page):
    """Click each label, type; the text must land in the box the label names (or the choice be ticked)."""
    problems, typed_into = [], 0
    for label in page.evaluate(LABELS):
        name, kind = label["for"], label["kind"]
        target = page.locator(f"[id='{name}']")
        if kind == "missing":
            problems.append(f"label for {name} names nothing")
            continue
        if kind.endswith(":file"):
            continue  # a click opens the phone's file chooser; its box was measured above
        # A box ticked when the page opens ("Change my voice") is unticked by its label.
        was_ticked = kind == "input:checkbox" and target.is_checked()
        page.locator(f"label[for='{name}']").first.click()
        if kind in ("input:checkbox", "input:radio"):
            if target.is_checked() == was_ticked:
                problems.append(f"the label of {name} did not {'untick' if was_ticked else 'tick'} it")
            continue
        focused = page.evaluate("document.activeElement && document.activeElement.id")
        if focused != name:
            problems.append(f"the label of {name} put the cursor in #{focused}")
            continue
        if kind.startswith("textarea") or kind in ("input:text", "input:password", "input:"):
            marker = f"typed-{uuid.uuid4().hex[:6]}"
            page.keyboard.type(marker)
            if marker not in target.input_value():
                problems.append(f"text typed through the label of {name} is not in #{name}")
            typed_into += 1
    return problems, typed_into


def test_each_label_puts_the_cursor_in_its_own_box_for_the_worker_and_the_investigator(
        phone, desk, live_server, facility_ids, vietnamese, english, authenticator):
    origin = live_server.origin
    form = phone.new_context().new_page()
    form.goto(f"{origin}/vi/report")
    problems, typed = type_through_every_label(form)
    assert not problems, "\n".join(problems)
    assert typed >= 3

    report_and_open_the_case(phone, origin, vietnamese, facility_ids[0])
    anna = desk.new_context().new_page()
    anna.goto(f"{origin}/inbox/")
    log_in(anna, origin, english, "anna", authenticator.code("anna"))
    anna.locator("table.cases a").first.click()
    reply = anna.get_by_label(english("Message to the reporter"))
    note = anna.get_by_label(english("Internal note (only keyholders read it)"))
    anna.get_by_text(english("Internal note (only keyholders read it)"), exact=True).click()
    anna.keyboard.type("Only for us: the line leader is the manager's cousin")
    assert note.input_value() == "Only for us: the line leader is the manager's cousin"
    assert reply.input_value() == "", "the internal note went into the reply to the worker"
    problems, typed = type_through_every_label(anna)
    assert not problems, "\n".join(problems)
    assert typed >= 2


def test_direction_controls_a_worker_typed_do_not_turn_the_investigators_page_around(
        phone, desk, live_server, facility_ids, vietnamese, english, authenticator):
    origin = live_server.origin
    report_and_open_the_case(phone, origin, vietnamese, facility_ids[0], facility="other",
                             facility_other=HOSTILE, description=f"{HOSTILE}\n\u202eline two",
                             when="\u202eTuesday")
    anna = desk.new_context().new_page()
    anna.goto(f"{origin}/inbox/")
    log_in(anna, origin, english, "anna", authenticator.code("anna"))
    anna.locator("table.cases a").first.click()
    assert anna.locator("bdi").count() >= 3, "the worker's text is not drawn isolated"
    assert "Lương tháng 10" in anna.locator("dl.report").inner_text()
    assert anna.evaluate(REVERSED_PAGE_TEXT) == []
