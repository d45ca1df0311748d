"""Every language on a cheap phone: the pages fit, nothing spills out, axe finds nothing.

The portal is served by gunicorn offering all 20 languages. For each one,
Debian's Chromium (360x640, JavaScript off for the page, Noto fonts from
Debian) opens the start page, the report form and the follow-up page, and:

- the page does not scroll sideways (the document is no wider than the screen);
- no element's content is wider than its box, and no line of text leaves the
  box of the element that holds it or the screen;
- the page's direction is right-to-left for Urdu, left-to-right otherwise;
- the start page's text is drawn with the Noto font of its script (for Han,
  of its language: Traditional Chinese and Korean are not drawn with the
  Simplified Chinese font), as Chromium reports through DevTools;
- axe-core (npm package, pinned in tests/browser/axe) finds no violation of
  its rules (WCAG 2 A and AA and best practices, colour contrast included).

The start page is also measured with its language picker open. Playwright
evaluates the measurements in the page even with the page's JavaScript off;
axe needs timers, which do not run then, so it runs in a second browser
context, the same phone with JavaScript on (the pages have no script, so they
render the same). Nothing is added to the pages as a script tag, and their
Content-Security-Policy stays on. Every page is saved as a screenshot in
``screenshots/locales/<locale>-<page>.png`` (git-ignored), for a person to look at.
"""

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "screenshots" / "locales"
LOCALES = ["en", "zh_Hans", "zh_Hant", "vi", "ms", "ne", "my", "bn", "id", "th", "fil", "es", "hi", "ta", "km",
           "cs", "ko", "nl", "fr", "ur"]
RIGHT_TO_LEFT = {"ur"}
# The font that draws most of the start page's text, where the script is not Latin
# (the Noto fonts Debian packages, as Android has them): the page's font stack at work.
SCRIPT_FONTS = {
    "zh_Hans": "Noto Sans CJK SC", "zh_Hant": "Noto Sans CJK TC", "ko": "Noto Sans CJK KR",
    "ne": "Noto Sans Devanagari", "hi": "Noto Sans Devanagari", "bn": "Noto Sans Bengali",
    "my": "Noto Sans Myanmar", "th": "Noto Sans Thai", "ta": "Noto Sans Tamil", "km": "Noto Sans Khmer",
    "ur": "Noto Nastaliq Urdu",
}
PAGES = {"start": "/{lang}/", "report": "/{lang}/report", "follow-up": "/{lang}/follow-up"}
# What does not fit: the document, elements whose content is wider than their box,
# and lines of text outside the element that holds them or outside the screen.
# Hidden things (the honeypot field is aria-hidden and off-screen on purpose) do not count.
MEASURE = """
() => {
  const slack = 1;  // CSS pixels, for sub-pixel rounding
  const screen = document.documentElement.clientWidth;
  const hidden = el => !!el.closest('[aria-hidden="true"], [hidden], details:not([open]) > :not(summary)') ||
    getComputedStyle(el).visibility === 'hidden' || el.getClientRects().length === 0;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const problems = [];
  const flagged = [];  // an element inside one already reported is not reported again
  for (const el of document.body.querySelectorAll('*')) {
    if (hidden(el) || el.closest('select') || flagged.some(outer => outer.contains(el))) continue;
    const box = el.getBoundingClientRect();
    if (el.tagName !== 'SELECT' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + slack) {
      problems.push(`${name(el)}: content ${el.scrollWidth}px wide in a box of ${el.clientWidth}px`);
      flagged.push(el);
    } else if (box.width > 0 && (box.left < -slack || box.right > screen + slack)) {
      problems.push(`${name(el)}: from ${Math.round(box.left)}px to ${Math.round(box.right)}px on a ${screen}px screen`);
      flagged.push(el);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const holder = node.parentElement;
    if (!node.textContent.trim() || hidden(holder) || holder.closest('select, textarea')) continue;
    const box = holder.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const line of range.getClientRects()) {
      if (line.width === 0) continue;
      if (line.left < box.left - slack || line.right > box.right + slack ||
          line.left < -slack || line.right > screen + slack) {
        problems.push(`text "${node.textContent.trim().slice(0, 40)}" in ${name(holder)}: ` +
          `line ${Math.round(line.left)}-${Math.round(line.right)}px, box ${Math.round(box.left)}-${Math.round(box.right)}px`);
        break;
      }
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth, clientWidth: screen,
    lang: document.documentElement.lang, dir: document.documentElement.dir, problems,
  };
}
"""

AXE = """
async (source) => {
  if (typeof window.axe === 'undefined') { (0, eval)(source); }
  const late = new Promise((_, reject) => setTimeout(() => reject(new Error('axe ran for more than 20 s')), 20000));
  const results = await Promise.race([window.axe.run(document, {resultTypes: ['violations']}), late]);
  return results.violations.map(v => `${v.id} (${v.impact}): ${v.help}; ` +
    v.nodes.slice(0, 3).map(n => `${n.target.join(' ')}: ${n.failureSummary.replace(/\\s+/g, ' ')}`).join(' | '));
}
"""


@pytest.fixture
def server_languages():
    return LOCALES


def test_every_page_fits_a_360px_phone_and_passes_axe_in_every_language(phone, live_server, axe_source):
    started = time.monotonic()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = phone.new_context().new_page()
    scripted = phone.browser.new_context(**{**phone.options, "java_script_enabled": True})
    phone.contexts.append(scripted)
    axe_page = scripted.new_page()
    devtools = page.context.new_cdp_session(page)
    problems = []

    def fonts_of(selector):
        """Each font that draws the element's text, with its number of glyphs, most used first."""
        devtools.send("DOM.enable")
        devtools.send("CSS.enable")
        root = devtools.send("DOM.getDocument")["root"]["nodeId"]
        node = devtools.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = devtools.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return sorted(((f["familyName"], f["glyphCount"]) for f in fonts), key=lambda f: -f[1])

    def measure(where, expected_lang):
        measured = page.evaluate(MEASURE)
        assert measured["lang"] == expected_lang, f"{where}: <html lang={measured['lang']}>"
        expected_dir = "rtl" if locale in RIGHT_TO_LEFT else "ltr"
        assert measured["dir"] == expected_dir, f"{where}: <html dir={measured['dir']}>"
        if measured["scrollWidth"] > measured["clientWidth"]:
            problems.append(f"{where}: scrolls sideways, {measured['scrollWidth']}px wide "
                            f"on a {measured['clientWidth']}px screen")
        problems.extend(f"{where}: {problem}" for problem in measured["problems"])

    for locale in LOCALES:
        code = locale.replace("_", "-")
        for page_name, path in PAGES.items():
            where = f"{locale} {page_name}"
            url = live_server.origin + path.format(lang=code)
            response = page.goto(url)
            assert response.status == 200, f"{where}: HTTP {response.status}"
            page.screenshot(path=SCREENSHOTS / f"{locale}-{page_name}.png", full_page=True)
            measure(where, code)
            if page_name == "start":
                if locale in SCRIPT_FONTS:
                    for selector in ("h1", "main p"):
                        fonts = fonts_of(selector)
                        if fonts[0][0] != SCRIPT_FONTS[locale]:
                            problems.append(f"{where}: {selector} is drawn with {fonts}, "
                                            f"not mostly {SCRIPT_FONTS[locale]}")
                page.locator("summary").click()
                measure(f"{where}, language picker open", code)
            assert axe_page.goto(url).status == 200
            problems.extend(f"{where}: axe: {violation}" for violation in axe_page.evaluate(AXE, axe_source))
    elapsed = time.monotonic() - started
    assert not problems, f"{len(problems)} problems (screenshots in {SCREENSHOTS}):\n" + "\n".join(problems)
    print(f"{len(LOCALES) * len(PAGES)} pages checked in {elapsed:.0f}s; screenshots in {SCREENSHOTS}")
