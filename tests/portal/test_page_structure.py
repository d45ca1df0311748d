"""Every page of the portal, as each of its readers gets it, after a worker wrote
text full of direction controls everywhere a worker can write:

- no id appears twice on a page, and every label names a box that exists, so a
  label puts the cursor in its own box (not the note in the reply to the worker);
- whatever the worker typed is drawn inside its own ``<bdi>`` with its direction
  controls balanced, so a right-to-left override (U+202E), a stray "pop isolate"
  (U+2069) or an unclosed isolate cannot reverse the investigator's page.

The walk visits every page that answers GET with HTML; a page added later
without being visited here fails the test until it is.
"""

import re
from html.parser import HTMLParser

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from reporter_pages import csrf_token, draft_id, log_in_with_receipt, receipt_on, report_fields, send_report
from sqlalchemy import select

from portal.models import Case, Finding, OutboxEmail, User
from portal.services import users

EMBEDDINGS, ISOLATES, PDF, PDI = "\u202a\u202b\u202d\u202e", "\u2066\u2067\u2068", "\u202c", "\u2069"
BIDI_CONTROLS = EMBEDDINGS + ISOLATES + PDF + PDI + "\u200e\u200f\u061c"
# The ways a writer's text can try to turn the text after it: an override left open, a
# closer of the page's own isolation, an isolate left open, a mix over several lines.
HOSTILE = [
    "Paid 300\u202e000 only",
    "\u2069\u202eevil after a stray pop",
    "open isolate \u2066 and override \u202e",
    "\u202b\u202c\u202c\u2069\u2069 closers of nothing",
    "line one \u202e\nline two \u2067\u2069\u2069 \u202d",
    "\u2068\u202e\u2066\u202b",
]
# Pages that need what this walk does not make: another instance's bundle, or a file download.
NOT_HTML = {"static", "api.well_known", "api.health", "reporter.choose_language", "inbox.download",
            "inbox.preview", "inbox.preview_page", "registry.download", "registry.download_workbook",
            "registry.export", "forwards.bundle", "oversight.document", "oversight.statistics_csv",
            "inbox.action_file", "admin.poster_file", "admin.overrides_po", "forwards.exchange_document"}
# Off unless the organisation publishes it (tests/portal/test_statistics_people_can_read.py reads it).
OFF_BY_DEFAULT = {"transparency.page"}
NEEDS_A_PARTNER_OR_IMPORT = {"registry.show", "registry.columns"}


def hostile(number: int) -> str:
    return f"{HOSTILE[number % len(HOSTILE)]} #{number}"


class PageParts(HTMLParser):
    """Ids, label targets, and where direction controls stand (inside which <bdi>, balanced or not)."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                      "wbr"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.label_targets, self.stack = [], [], []
        self.loose_controls, self.isolated = [], []
        self.bdi_text = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id") is not None:
            self.ids.append(attributes["id"])
        if tag == "label" and attributes.get("for"):
            self.label_targets.append(attributes["for"])
        if tag in self.VOID:
            return
        self.stack.append(tag)
        if tag == "bdi" and self.bdi_text is None:
            self.bdi_text = []

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            if self.stack.pop() == tag:
                break
        if tag == "bdi" and "bdi" not in self.stack and self.bdi_text is not None:
            self.isolated.append("".join(self.bdi_text))
            self.bdi_text = None

    def handle_data(self, data):
        if self.bdi_text is not None:
            self.bdi_text.append(data)
        elif any(c in BIDI_CONTROLS for c in data) and not {"textarea", "title"} & set(self.stack):
            self.loose_controls.append(data)


def unbalanced(text: str) -> str | None:
    """Why ``text`` would reach outside its isolation, or None: each line closes what it opens."""
    for line in re.split("[\n\r\x1c-\x1e\x85\u2029]", text):
        opened = []
        for char in line:
            if char in EMBEDDINGS or char in ISOLATES:
                opened.append(char)
            elif char in (PDF, PDI):
                closes = EMBEDDINGS if char == PDF else ISOLATES
                if not opened or opened.pop() not in closes:
                    return f"U+{ord(char):04X} closes nothing in {line!r}"
        if opened:
            return f"{len(opened)} left open in {line!r}"
    return None


@pytest.fixture
def staff(session_factory, recovery_identity):
    """Rosa, the retaliation officer; Root, an administrator; Vera, of the contracting authority; Max, a monitor."""
    with session_factory() as session:
        for username, role in (("rosa", "retaliation_officer"), ("root", "administrator"),
                               ("vera", "authority"), ("max", "monitor")):
            users.create(session, username, username.title(), role, passphrase_of(username),
                         work_factor=10, totp_secret=totp_secret_of(username))


def staff_client(app, username):
    client = app.test_client()
    assert log_in(client, username).status_code == 303
    return client


def post_page(client, page_url, action_url, **fields):
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    token = csrf_token(page)
    prefixed = {f"{name.split('-')[0]}-csrf_token": token for name in fields if "-" in name}
    return client.post(action_url, data={"csrf_token": token, **prefixed, **fields},
                       content_type="multipart/form-data")


@pytest.fixture
def every_page(app, facility_ids, staff, session_factory):
    """(who, what, html) of every page, after a worker reported, answered and filed a claim, an
    investigator replied and kept a note, and the officer protected and proposed remedies."""
    pages = []
    visited = set()
    adapter = app.url_map.bind("localhost")

    def keep(who, response, what=None):
        assert response.status_code in (200, 400, 404), (who, what, response.status_code)
        path = response.request.path
        if response.status_code != 404:
            visited.add(adapter.match(path, method="GET")[0])
        pages.append((who, what or path, response.get_data(as_text=True)))
        return response

    text = iter(range(1000))
    worker = app.test_client()
    blank = keep("worker", worker.get("/en/report"))
    missing_consent = report_fields("other", facility_other=hostile(next(text)))
    del missing_consent["consent"]
    keep("worker", worker.post("/en/report", data=dict(missing_consent, csrf_token=csrf_token(blank),
                                                       submission=draft_id(blank))), "form sent back")
    sent = keep("worker", send_report(worker, "other", facility_other=hostile(next(text)),
                                      description=hostile(next(text)), when=hostile(next(text)),
                                      contact=hostile(next(text))), "receipt")
    receipt = receipt_on(sent)
    keep("worker", worker.get("/en/"))
    keep("worker", worker.get("/xx/report"), "not found")
    visitor = app.test_client()
    follow_up = keep("visitor", visitor.get("/en/follow-up"))
    keep("visitor", visitor.post("/en/follow-up", data={"csrf_token": csrf_token(follow_up), "receipt": "1"}),
         "wrong receipt")
    keep("visitor", app.test_client().get("/en/retaliation"))

    with session_factory() as session:
        case_id = session.scalars(select(Case.id)).one()
    anna = staff_client(app, "anna")
    case_page = f"/inbox/cases/{case_id}"
    assert post_page(anna, case_page, f"{case_page}/messages", text=hostile(next(text))).status_code == 303
    assert post_page(anna, case_page, f"{case_page}/notes", text=hostile(next(text))).status_code == 303
    assert post_page(anna, case_page, f"{case_page}/findings", text=hostile(next(text)), found=hostile(next(text)),
                     will_change=hostile(next(text)), shared="y").status_code == 303
    with session_factory() as session:
        finding_id = session.scalars(select(Finding.id)).one()
    assert post_page(anna, case_page, f"{case_page}/findings/{finding_id}/actions", description=hostile(next(text)),
                     owner=hostile(next(text)), due_on="2020-01-01").status_code == 303

    assert log_in_with_receipt(worker, receipt).status_code == 303
    reply = post_page(worker, "/en/case", "/en/case", message=hostile(next(text)))
    assert reply.status_code == 303
    claim_form = keep("worker", worker.get("/en/case/claim"))
    token = re.search(r'name="submission" type="hidden" value="([^"]+)"', claim_form.get_data(as_text=True))
    filed = worker.post("/en/case/claim", data={
        "csrf_token": csrf_token(claim_form), "submission": token.group(1), "types": ["dismissal"],
        "when": hostile(next(text)), "by_whom": hostile(next(text)), "description": hostile(next(text))},
        content_type="multipart/form-data")
    assert filed.status_code == 303

    with session_factory() as session:
        claim_id = session.scalars(select(Case.id).where(Case.kind == "retaliation")).one()
    rosa = staff_client(app, "rosa")
    claim_page = f"/inbox/cases/{claim_id}"

    def act(action, **fields):
        assert post_page(rosa, claim_page, f"/inbox/claims/{claim_id}/{action}", **fields).status_code == 303

    act("risk", **{"risk-level": "high", "risk-measure": "dismissal_suspended",
                   "risk-measure_text": hostile(next(text))})
    act("status", status="investigating")
    act("discipline", **{"discipline-who": hostile(next(text)), "discipline-kind": "suspension",
                         "discipline-state": "taken"})
    for kind in ("reinstatement", "apology"):
        act("remedies", **{"remedy-kind": kind, "remedy-details": hostile(next(text))})
    keep("worker", worker.get("/en/case"))
    keep("officer", rosa.get(claim_page), "claim")

    for path in (case_page, f"{case_page}/findings/{finding_id}", "/inbox/", "/inbox/account", f"{case_page}/forward",
                 f"{case_page}/export", "/inbox/search", "/inbox/search?words=%23", "/inbox/search?from=never",
                 "/inbox/report-for-a-worker"):
        keep("investigator", anna.get(path))
    root = staff_client(app, "root")
    with session_factory() as session:
        anna_id = session.scalar(select(User.id).where(User.username == "anna"))
    for path in ("/admin/users", f"/admin/users/{anna_id}", "/admin/routing", "/admin/settings", "/admin/posters",
                 "/admin/translations", "/admin/translations?language=vi&q=receipt", "/admin/audit",
                 "/admin/facilities", "/admin/partners", "/oversight/", f"/oversight/cases/{case_id}",
                 "/oversight/statistics"):
        keep("administrator", root.get(path))
    saved = post_page(root, "/admin/reply-templates", "/admin/reply-templates", name="Visit", language="en",
                      text=hostile(next(text)))
    assert saved.status_code == 200
    keep("administrator", root.get("/admin/reply-templates"))
    for chosen in ("custom:Visit", "standard:closing", "standard:acknowledgement"):
        keep("investigator", anna.get(case_page, query_string={"template": chosen}), chosen)
    # A conflict of interest declared after a second report reached Anna and Binh: its page lists the
    # case, and Binh's case page offers to remove Anna's key.
    assert send_report(app.test_client(), facility_ids[0], description=hostile(next(text))).status_code == 200
    with session_factory() as session:
        second_id = session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    declared = post_page(root, "/admin/routing", "/admin/routing/exclusions", user=str(anna_id),
                         facility=str(facility_ids[0]), supplier="")
    assert declared.status_code == 303
    keep("administrator", root.get(declared.headers["Location"]), "conflict declared")
    keep("investigator", staff_client(app, "binh").get(f"/inbox/cases/{second_id}"), "a holder is conflicted")
    vera = staff_client(app, "vera")
    for path in ("/oversight/", "/oversight/audit"):
        keep("authority", vera.get(path))
    keep("monitor", staff_client(app, "max").get("/inbox/forwards/import"))
    keep("anyone", app.test_client().get("/inbox/login"))
    invited = post_page(root, "/admin/users", "/admin/users", username="dewi", display_name="Dewi",
                        role="investigator", email="dewi@contractor.example")
    assert invited.status_code == 200
    with session_factory() as session:
        mailed = session.scalars(select(OutboxEmail.body).where(OutboxEmail.to_address == "dewi@contractor.example")
                                 ).one()
    link = re.search(r"/inbox/activate/[A-Za-z0-9_\-]+", mailed).group(0)
    newcomer = app.test_client()
    activation = keep("newcomer", newcomer.get(link))
    strong = "new lantern orbit pickle"
    step = newcomer.post(link, data={"csrf_token": csrf_token(activation), "passphrase": strong, "confirm": strong})
    assert step.status_code == 303
    keep("newcomer", newcomer.get(step.headers["Location"]))

    html_endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    unvisited = html_endpoints - visited - NOT_HTML - NEEDS_A_PARTNER_OR_IMPORT - OFF_BY_DEFAULT
    assert not unvisited, f"pages this walk does not visit yet: {sorted(unvisited)}"
    return pages


def test_no_page_repeats_an_id_and_every_label_names_a_box_on_its_page(every_page):
    problems = []
    for who, what, html in every_page:
        parts = PageParts()
        parts.feed(html)
        repeated = sorted({i for i in parts.ids if parts.ids.count(i) > 1})
        if repeated:
            problems.append(f"{who} {what}: repeated ids {repeated}")
        missing = sorted(set(parts.label_targets) - set(parts.ids))
        if missing:
            problems.append(f"{who} {what}: labels for no element {missing}")
    assert not problems, "\n".join(problems)


def test_a_workers_direction_controls_stay_inside_their_own_isolated_text_on_every_page(every_page):
    shown, problems = 0, []
    for who, what, html in every_page:
        parts = PageParts()
        parts.feed(html)
        problems += [f"{who} {what}: not isolated: {text!r}" for text in parts.loose_controls]
        for text in parts.isolated:
            reason = unbalanced(text)
            if reason:
                problems.append(f"{who} {what}: {reason}")
            shown += any(c in BIDI_CONTROLS for c in text)
    assert not problems, "\n".join(problems)
    # The walk means something only if the hostile texts reached the staff's and the worker's pages.
    assert shown >= 15, shown
