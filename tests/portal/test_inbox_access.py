"""Nobody reaches a case they hold no key for; every change needs its CSRF token;
whatever a reporter types stays inert text in the inbox."""

import io
import itertools
from html.parser import HTMLParser

import pytest
from inbox_pages import log_in, post_on_case
from PIL import Image
from reporter_pages import csrf_token, send_report
from sqlalchemy import func, select

from portal.models import AuditEntry, Case, CaseItem

XSS = [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg/onload=alert(1)>",
    "javascript:alert(1)",
    "<a href=\"javascript:alert(1)\">click</a>",
    "{{ 7*7 }}{% raw %}",
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    "&lt;script&gt;",
    "\u202egnp.exe",
]


class ActiveContent(HTMLParser):
    """Collects whatever in a page could run: script-like tags, event handlers, javascript: links."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "svg", "style", "object", "embed"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}={value}")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("img src=x")


@pytest.fixture
def two_cases(app, client, facility_ids, colleague):
    """Case A held by anna and binh; case B handed to chandra only."""
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    send_report(client, facility_ids[0], description="case A",
                files={"files": [(io.BytesIO(png.getvalue()), "a.png")]})
    send_report(app.test_client(), facility_ids[1], description="case B")
    with app.extensions["portal.sessions"]() as session:
        first, second = session.scalars(select(Case).order_by(Case.id)).all()
        attachment = session.scalar(select(CaseItem.id).where(CaseItem.kind == "attachment"))
    anna = app.test_client()
    log_in(anna, "anna")
    chandra_user, _identity = colleague
    post_on_case(anna, second.id, "keyholders", user=str(chandra_user.id))
    post_on_case(anna, second.id, f"keyholders/{_user_id(app, 'anna')}/remove")
    binh = app.test_client()
    log_in(binh, "binh")
    post_on_case(binh, second.id, f"keyholders/{_user_id(app, 'binh')}/remove")
    return {"A": first.id, "B": second.id, "attachment": attachment}


def _user_id(app, username):
    from portal.models import User

    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(User.id).where(User.username == username))


def case_urls(case_id, attachment_id):
    return [
        ("GET", f"/inbox/cases/{case_id}"),
        ("GET", f"/inbox/cases/{case_id}/files/{attachment_id}"),
        ("GET", f"/inbox/cases/{case_id}/files/{attachment_id}/preview"),
        ("GET", f"/inbox/cases/{case_id}/files/{attachment_id}/pages/1"),
        ("POST", f"/inbox/cases/{case_id}/messages"),
        ("POST", f"/inbox/cases/{case_id}/notes"),
        ("POST", f"/inbox/cases/{case_id}/status"),
        ("POST", f"/inbox/cases/{case_id}/keyholders"),
        ("POST", f"/inbox/cases/{case_id}/keyholders/1/remove"),
    ]


def test_every_url_of_a_case_is_404_for_every_user_without_its_keys(app, two_cases):
    holders = {"anna": {"A"}, "binh": {"A"}, "chandra": {"B"}}
    clients = {}
    for username in holders:
        clients[username] = app.test_client()
        assert log_in(clients[username], username).status_code == 303
    token = {name: csrf_token(c.get("/inbox/account")) for name, c in clients.items()}
    for (username, held), label in itertools.product(holders.items(), ("A", "B")):
        client = clients[username]
        for method, url in case_urls(two_cases[label], two_cases["attachment"]):
            response = (client.get(url) if method == "GET"
                        else client.post(url, data={"csrf_token": token[username], "text": "x", "user": "1",
                                                    "status": "acknowledged"}))
            if label in held:
                assert response.status_code != 404 or "files" in url, (username, url)
            else:
                assert response.status_code == 404, (username, url, response.status_code)
    outsiders = [_user_id(app, "anna"), _user_id(app, "binh")]
    with app.extensions["portal.sessions"]() as session:
        written = session.scalar(select(func.count()).select_from(CaseItem).where(
            CaseItem.case_id == two_cases["B"], CaseItem.author_user_id.in_(outsiders)))
        assert written == 0, "nothing was added to a case by users without its keys"


def test_logged_out_visitors_are_sent_to_the_login_page(app, two_cases):
    visitor = app.test_client()
    for method, url in case_urls(two_cases["A"], two_cases["attachment"]):
        response = visitor.get(url) if method == "GET" else visitor.post(url)
        assert response.status_code == 303 and "/inbox/login" in response.headers["Location"]


def test_every_state_changing_request_needs_a_valid_csrf_token(app, two_cases):
    anna = app.test_client()
    log_in(anna, "anna")
    case_id = two_cases["A"]
    with app.extensions["portal.sessions"]() as session:
        before = (session.scalar(select(func.count()).select_from(CaseItem)),
                  session.scalar(select(func.count()).select_from(AuditEntry)))
    for action, fields in (("messages", {"text": "x"}), ("notes", {"text": "x"}),
                           ("status", {"status": "acknowledged"}), ("keyholders", {"user": "3"})):
        response = anna.post(f"/inbox/cases/{case_id}/{action}", data={"csrf_token": "forged", **fields})
        assert response.status_code == 400, action
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(func.count()).select_from(CaseItem)) == before[0]
        assert session.get(Case, case_id).status == "received"


def test_an_attachment_downloads_decrypted_as_a_safe_attachment(app, two_cases):
    anna = app.test_client()
    log_in(anna, "anna")
    response = anna.get(f"/inbox/cases/{two_cases['A']}/files/{two_cases['attachment']}")
    assert response.status_code == 200
    assert response.data.startswith(b"\x89PNG")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.png"')
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_text_from_reporters_renders_inert_in_every_field(app, client, facility_ids):
    for payload in XSS:
        response = send_report(app.test_client(), "other", description=payload, when=payload, contact=payload,
                               facility_other=payload)
        assert response.status_code == 200, payload
    anna = app.test_client()
    log_in(anna, "anna")
    listing = anna.get("/inbox/?sort=newest").get_data(as_text=True)
    with app.extensions["portal.sessions"]() as session:
        case_ids = session.scalars(select(Case.id)).all()
    pages = [listing] + [anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True) for case_id in case_ids]
    for page in pages:
        parser = ActiveContent()
        parser.feed(page)
        assert parser.found == []
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in "".join(pages)


def _numbered_urls(app, number):
    """Every URL of the app with a number in it, that number put in each place."""
    for rule in app.url_map.iter_rules():
        numbered = [name for name, converter in rule._converters.items() if converter.regex == r"\d+"]
        if not numbered:
            continue
        values = {name: ("vi" if name == "lang" else "x") for name in rule.arguments}
        values.update({name: number for name in numbered})
        try:
            url = rule.build(values, append_unknown=False)[1]
        except Exception:  # a rule whose other parts take other shapes (e.g. <any(up, down):action>)
            values.update({name: next(iter(getattr(rule._converters.get(name), "items", ["up"])), "up")
                           for name in rule.arguments if name not in numbered and name != "lang"})
            url = rule.build(values, append_unknown=False)[1]
        yield sorted(rule.methods - {"HEAD", "OPTIONS"})[0], url


@pytest.mark.parametrize("number", [2**31, 2**63, 10**40])
def test_a_number_too_large_for_the_database_is_a_404_on_every_page(app, number):
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    token = csrf_token(anna.get("/inbox/account"))
    urls = list(_numbered_urls(app, number))
    assert len(urls) > 20, "the numbered pages of the inbox, claims, forwards, admin and oversight"
    for method, url in urls:
        for client in (anna, app.test_client()):
            response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
            assert response.status_code == 404, (method, url, response.status_code)


@pytest.mark.parametrize("target", ["/inbox/%0d%0aSet-Cookie:%20x=1", "/inbox/%0aLocation:%20https://evil.example",
                                    "/inbox/%00", "/%5C%5Cevil.example/", "/inbox/%09cases"])
def test_a_log_in_link_whose_next_page_breaks_a_header_is_refused(app, target):
    visitor = app.test_client()
    assert visitor.get(f"/inbox/login?next={target}").status_code == 400
    page = visitor.get("/inbox/login")
    response = visitor.post(f"/inbox/login?next={target}", data={
        "csrf_token": csrf_token(page), "username": "anna", "passphrase": "x", "code": "000000"})
    assert response.status_code == 400
    assert "Set-Cookie" not in str(response.headers.get("Location", ""))
