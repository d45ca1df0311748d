"""A worker opens the form on a cheap phone: Chromium draws it from one response.

The start page, the report form and the follow-up page are each one request:
no stylesheet, no icon, nothing else. The page's inline style is applied (the
Content-Security-Policy allows it by its hash), and a script or style slipped
into the page by someone else is not: the same page served without the policy
does run them, so the policy is what stops them.
"""

import pytest

pytestmark = pytest.mark.browser

INJECTED = ('<script>document.title = "script ran"</script>'
            "<style>main { display: none }</style>"
            '<p id="injected" style="display: none">injected</p>')


def test_each_first_page_is_drawn_from_one_response_with_its_own_style(phone, live_server):
    origin = live_server.origin
    for path in ("/vi/", "/vi/report", "/vi/follow-up"):
        context = phone.new_context()
        page = context.new_page()
        refused = []
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        before = len(phone.requested)
        page.goto(f"{origin}{path}", wait_until="load")
        assert phone.requested[before:] == [f"{origin}{path}"], phone.requested[before:]
        # The inline stylesheet applies: the dark bar and the page's width.
        bar = page.evaluate("getComputedStyle(document.querySelector('header.bar')).backgroundColor")
        assert bar == "rgb(34, 34, 34)", f"{path}: the page's own style was not applied"
        assert refused == [], refused
        context.close()


def test_a_script_or_style_slipped_into_a_page_is_blocked_by_the_policy(browser, live_server):
    origin = live_server.origin

    def open_with_injection(keep_policy: bool):
        context = browser.new_context(java_script_enabled=True)

        def inject(route):
            answer = route.fetch()
            headers = {key: value for key, value in answer.headers.items()
                       if key.lower() not in ("content-encoding", "content-length")}
            if not keep_policy:
                headers.pop("content-security-policy", None)
            body = answer.text().replace("</main>", INJECTED + "</main>")
            route.fulfill(status=answer.status, headers=headers, body=body)

        context.route(f"{origin}/en/report", inject)
        page = context.new_page()
        page.goto(f"{origin}/en/report", wait_until="load")
        seen = page.evaluate("""() => ({
            title: document.title,
            main: getComputedStyle(document.querySelector('main')).display,
            attribute: getComputedStyle(document.getElementById('injected')).display,
            bar: getComputedStyle(document.querySelector('header.bar')).backgroundColor,
        })""")
        context.close()
        return seen

    guarded = open_with_injection(keep_policy=True)
    assert guarded["title"] != "script ran", "an injected script ran"
    assert guarded["main"] != "none" and guarded["attribute"] != "none", "an injected style applied"
    assert guarded["bar"] == "rgb(34, 34, 34)", "the page's own style did not apply"

    # The control: without the policy the same injection works, so the policy is what stops it.
    unguarded = open_with_injection(keep_policy=False)
    assert unguarded["title"] == "script ran" and unguarded["main"] == "none"
