"""Statistics people can read: the contractor's administrators, the contracting authority and
Electronics Watch read cases by month, category, country and facility, deadlines met and
forwards, as charts drawn by the server with the numbers in a table beside each and as CSV
files; no count under five shows, nor one a reader could work out by subtracting; each reader
counts only the cases they may see; and, if the organisation publishes it, anyone reads the
yearly figures on a page that sets no cookie and runs no script."""

import csv
import io
import random
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from sqlalchemy import delete

from portal import config as portal_config
from portal import create_app
from portal.models import Case, CaseCategory, EscalationStep, Facility, Forward, Partner
from portal.services import clock, facilities, users

LAST_YEAR = clock.today().year - 1
FORMULA_STARTS = ("=", "+", "-", "@")


@pytest.fixture
def people(session_factory, recovery_identity):
    """Root, an administrator; Vera, of the contracting authority; Max, of Electronics Watch."""
    with session_factory() as session:
        for username, role in (("root", "administrator"), ("vera", "authority"), ("max", "monitor")):
            users.create(session, username, username.title(), role, passphrase_of(username),
                         work_factor=10, totp_secret=totp_secret_of(username))


def client_of(app, username):
    client = app.test_client()
    assert log_in(client, username).status_code == 303
    return client


_numbers = iter(range(10**6))


def seed(session_factory, month, count, categories=("wages",), facility=None, acknowledged_after=None,
         choice="contractor", notified=False, escalated=False, forwarded=None, year=LAST_YEAR):
    """``count`` cases as the database holds them: days, codes and states (what statistics read)."""
    with session_factory() as session:
        partner = None
        if forwarded:
            partner = session.query(Partner).first() or Partner(
                name="Electronics Watch", base_url="https://ew.example", fingerprint="f" * 64,
                inbound_token_digest=b"\x01" * 32, created_at=datetime.now(timezone.utc))
            session.add(partner)
        for _ in range(count):
            number = next(_numbers)
            received = date(year, month, 3)
            case = Case(kind="report", received_on=received, status="received", language="en",
                        facility_id=facility, acknowledge_due=received + timedelta(days=7),
                        feedback_due=received + timedelta(days=90), recipient_choice=choice,
                        submission_digest=number.to_bytes(32, "big"), reporter_recipient="",
                        acknowledged_on=None if acknowledged_after is None else received + timedelta(
                            days=acknowledged_after),
                        authority_notified_on=received if notified else None)
            case.categories = [CaseCategory(code=code) for code in categories]
            session.add(case)
            session.flush()
            if escalated:
                session.add(EscalationStep(case_id=case.id, step="notice_of_default", happened_on=received))
            if forwarded:
                session.add(Forward(bundle_id=f"b-{number}", case_id=case.id, partner_id=partner.id,
                                    created_on=received, scope="without_identity", summary="{}", bundle=b"",
                                    state=forwarded, next_attempt_at=datetime.now(timezone.utc)))
        session.commit()


class Tables(HTMLParser):
    """Every <table> of a page: its caption and its rows of cell texts (head, body and foot)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tables, self.cell, self.row, self.in_caption = {}, None, None, False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = {"id": dict(attrs).get("id"), "caption": "", "rows": []}
        elif tag == "caption":
            self.in_caption = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.tables[self.current["id"]] = self.current
        elif tag == "caption":
            self.in_caption = False
        elif tag == "tr":
            self.current["rows"].append(self.row)
        elif tag in ("td", "th"):
            self.row.append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.in_caption:
            self.current["caption"] += data
        elif self.cell is not None:
            self.cell += data


def table_of(page, name):
    return {row[0]: row[1:] for row in Tables(page.get_data(as_text=True)).tables[f"{name}-table"]["rows"][1:]}


def csv_of(client, name, year=LAST_YEAR):
    response = client.get(f"/oversight/statistics/{name}.csv?year={year}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def number(cell):
    return int(cell.replace(",", "")) if re.fullmatch(r"[\d,]+", cell) else None


def test_an_administrator_reads_cases_by_month_and_category_as_they_were_received(
        app, people, session_factory, facility_ids):
    seed(session_factory, 3, 10, ("wages",), facility_ids[0], acknowledged_after=3)
    seed(session_factory, 3, 5, ("wages",), facility_ids[0], acknowledged_after=10)
    seed(session_factory, 5, 6, ("wages", "health_safety"), facility_ids[1], acknowledged_after=2)
    seed(session_factory, 7, 2, ("child_labour",), facility_ids[1])
    seed(session_factory, 9, 3, ("other",), facility_ids[1])
    seed(session_factory, 3, 5, ("forced_labour",), facility_ids[0], choice="monitor")  # Electronics Watch's alone
    root = client_of(app, "root")
    page = root.get(f"/oversight/statistics?year={LAST_YEAR}")
    assert page.status_code == 200
    months = table_of(page, "months")
    withheld = "fewer than 5 or withheld"
    assert months[f"March {LAST_YEAR}"] == ["15"] and months[f"May {LAST_YEAR}"] == ["6"]
    assert months[f"July {LAST_YEAR}"] == [withheld] and months[f"September {LAST_YEAR}"] == [withheld]
    assert months["All months"] == ["26"]
    categories = table_of(page, "categories")
    assert categories["Pay, overtime pay or social insurance"] == ["21"] and categories["Health and safety: danger, injuries, chemicals"] == ["6"]
    assert categories["Children working"] == [withheld] and categories["Something else"] == [withheld]
    assert categories["Forced work, or you cannot leave the job"] == [withheld], "a report to Electronics Watch alone is not the contractor's"
    countries = table_of(page, "countries")
    assert countries["Vietnam"] == ["15"] and countries["Malaysia"] == ["11"]
    facility_rows = table_of(page, "facilities")
    assert facility_rows["Bac Ninh Display Co., Ltd"] == ["15", "Vietnam"]
    assert facility_rows["Penang Precision Electronics"] == ["11", "Malaysia"]
    acknowledgement = table_of(page, "acknowledgement")
    # Ten in three days, five in ten: two thirds within the week, a median of three days.
    assert acknowledgement[f"March {LAST_YEAR}"][:2] == ["67%", "3"]
    # The five of July and September never acknowledged are overdue, but five months' worth of
    # two and three: each month's figure is withheld.
    assert acknowledgement[f"July {LAST_YEAR}"][2] == withheld


def test_forwards_are_counted_by_their_state_with_the_same_suppression(app, people, session_factory):
    seed(session_factory, 4, 5, forwarded="acknowledged")
    seed(session_factory, 4, 6, forwarded="delivered")
    seed(session_factory, 4, 1, forwarded="pending")
    forwards = table_of(client_of(app, "root").get(f"/oversight/statistics?year={LAST_YEAR}"), "forwards")
    # 12 in all, 1 pending: 12 - 6 - 5 would tell it, so the smaller shown state goes too.
    assert forwards["Delivered"] == ["6"] and forwards["All forwards"] == ["12"]
    assert forwards["Acknowledged by Electronics Watch"] == forwards["Waiting to be delivered"] == [
        "fewer than 5 or withheld"]


def _subtractions(rows, total):
    """Every count a reader gets by subtracting shown cells from the total: one cell, or all of them."""
    shown = [value for value in rows.values() if value is not None]
    return [total - value for value in shown] + [total - sum(shown)]


def test_no_subtraction_of_shown_figures_tells_a_count_under_five(app, people, session_factory, facility_ids):
    """The curious reader's attack, on many random years of cases: the total minus a month, minus
    every shown month, minus a category, a country minus its shown facilities."""
    with session_factory() as session:
        more = [facilities.add(session, country=country, name=f"Plant {n}", local_name=f"Plant {n}",
                               supplier="S", address="A").id
                for n, country in enumerate(("VN", "VN", "TH", "MY"))]
        country_of = {f.name: f.country for f in session.query(Facility)}
    places = facility_ids + more + [None]
    chooser = random.Random(20261207)
    root = client_of(app, "root")
    for _round in range(40):
        with session_factory() as session:
            session.execute(delete(Case))
            session.commit()
        for _group in range(chooser.randrange(1, 9)):
            seed(session_factory, chooser.randrange(1, 13), chooser.choice((1, 1, 2, 3, 4, 5, 6, 9)),
                 chooser.sample(("wages", "working_hours", "child_labour"), chooser.choice((1, 1, 2))),
                 chooser.choice(places))
        months = {row[0]: number(row[1]) for row in csv_of(root, "months")[1:]}
        total = months.pop("All months")
        categories = {row[0]: number(row[1]) for row in csv_of(root, "categories")[1:-1]}
        countries = {row[0]: number(row[1]) for row in csv_of(root, "countries")[1:-1]}
        facility_rows = {row[0]: (number(row[1]), row[2]) for row in csv_of(root, "facilities")[1:-1]}
        every = [*months.values(), *categories.values(), *countries.values(), total,
                 *(count for count, _country in facility_rows.values())]
        assert all(value is None or value >= 5 for value in every), every
        if total is None:
            continue
        told = _subtractions(months, total) + [total - value for value in categories.values() if value is not None]
        told += _subtractions({k: v for k, v in countries.items() if k != "Other countries"}, total)
        told += _subtractions({k: v for k, (v, _c) in facility_rows.items() if k != "Other facilities"}, total)
        for country, count in countries.items():
            inside = [value for name, (value, shown_country) in facility_rows.items()
                      if name in country_of and shown_country == country and value is not None]
            if count is not None and country != "Other countries":
                told.append(count - sum(inside))
        assert not [value for value in told if 0 < value < 5], (told, months, countries, facility_rows)


def test_a_curious_authority_cannot_subtract_its_way_to_a_small_count(app, people, session_factory, facility_ids):
    # Seven cases notified to the authority: five at one facility, two at the other. "7 - 5" would tell two.
    seed(session_factory, 6, 5, ("forced_labour",), facility_ids[0], notified=True)
    seed(session_factory, 6, 2, ("forced_labour",), facility_ids[1], notified=True)
    page = client_of(app, "vera").get(f"/oversight/statistics?year={LAST_YEAR}")
    facility_rows = table_of(page, "facilities")
    countries = table_of(page, "countries")
    assert table_of(page, "months")["All months"] == ["7"]
    assert "Bac Ninh Display Co., Ltd" not in facility_rows and "Vietnam" not in countries
    assert facility_rows["Other facilities"] == ["7", ""] and countries["Other countries"] == ["7"]


def test_each_reader_counts_only_the_cases_they_may_see(app, people, session_factory, facility_ids):
    seed(session_factory, 2, 9, ("wages",), facility_ids[0])  # the contractor's own, quiet
    seed(session_factory, 2, 6, ("forced_labour",), facility_ids[0], notified=True)
    seed(session_factory, 2, 5, ("harassment",), facility_ids[1], escalated=True)
    seed(session_factory, 2, 7, ("child_labour",), facility_ids[1], choice="monitor", forwarded="delivered")
    totals = {}
    for username in ("root", "vera", "max"):
        client = client_of(app, username)
        page = client.get(f"/oversight/statistics?year={LAST_YEAR}")
        totals[username] = table_of(page, "months")["All months"][0]
        assert csv_of(client, "months")[-1] == ["All months", totals[username]]
    # The administrator: every case but the one the worker sent to Electronics Watch alone.
    # The authority: what was notified or escalated to it. Electronics Watch: what was forwarded.
    assert totals == {"root": "20", "vera": "11", "max": "7"}
    vera = client_of(app, "vera")
    assert table_of(vera.get(f"/oversight/statistics?year={LAST_YEAR}"), "categories")["Pay, overtime pay or social insurance"] == [
        "fewer than 5 or withheld"]
    anna = client_of(app, "anna")
    assert anna.get("/oversight/statistics").status_code == 404
    assert anna.get(f"/oversight/statistics/months.csv?year={LAST_YEAR}").status_code == 404
    assert app.test_client().get("/oversight/statistics/months.csv").status_code == 303  # to the log-in
    assert vera.get("/oversight/statistics?year=1999").status_code == 404
    assert vera.get("/oversight/statistics?year=next").status_code == 404


def test_the_csv_matches_the_table_and_no_cell_is_a_formula(app, people, session_factory):
    with session_factory() as session:
        hostile = [facilities.add(session, country="VN", name=name, local_name=name, supplier="S", address="A").id
                   for name in ("=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2-2", "@SUM(A1)", "Plain")]
    for facility in hostile:
        seed(session_factory, 8, 5, ("wages",), facility)
    root = client_of(app, "root")
    page = root.get(f"/oversight/statistics?year={LAST_YEAR}")
    for name in ("months", "categories", "countries", "facilities", "acknowledgement", "feedback", "forwards",
                 "forward-statuses"):
        rows = Tables(page.get_data(as_text=True)).tables[f"{name}-table"]["rows"]
        written = csv_of(root, name)
        assert [[cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell
                 for cell in row] for row in written] == rows, name
        assert not [cell for row in written for cell in row if cell.startswith(FORMULA_STARTS)]
    facility_cells = [row[0] for row in csv_of(root, "facilities")]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in facility_cells and "'@SUM(A1)" in facility_cells
    assert root.get("/oversight/statistics/nothing.csv").status_code == 404


def test_every_chart_is_an_image_with_a_title_and_runs_or_loads_nothing(app, people, session_factory, facility_ids):
    with session_factory() as session:
        hostile = facilities.add(session, country="VN", name="<script>alert(1)</script> \u202eevil", local_name="x",
                                 supplier="S", address="A").id
    seed(session_factory, 8, 6, ("wages",), hostile)
    seed(session_factory, 8, 6, ("wages",), facility_ids[0])
    page = client_of(app, "root").get(f"/oversight/statistics?year={LAST_YEAR}")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    charts = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(charts) == 10
    for chart in charts:
        opening = re.match(r"<svg[^>]*>", chart).group(0)
        assert 'role="img"' in opening and "aria-labelledby" in opening
        title = re.search(r'<title id="([^"]+)">([^<]+)</title>', chart)
        assert title and title.group(1) in opening and re.search(r"<desc id=", chart)
        lowered = chart.lower()
        assert "<script" not in lowered and "href" not in lowered and "url(" not in lowered
        assert not re.search(r"\son\w+\s*=", lowered) and "foreignobject" not in lowered
        assert "<image" not in lowered and "<use" not in lowered and "style" not in lowered
        assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg\")", chart)
        assert "\u202e" not in chart
    # A withheld bar is drawn as a frame and says so in words: colour alone means nothing.
    assert all(re.search(r"</text>", chart) for chart in charts)


def test_the_public_page_is_not_there_unless_the_organisation_publishes_it(app, session_factory):
    seed(session_factory, 3, 8, ("wages",))
    answer = app.test_client().get("/transparency")
    assert answer.status_code == 404 and "Set-Cookie" not in answer.headers


def test_the_public_page_shows_yearly_figures_withheld_without_cookies_or_script(app_config, session_factory,
                                                                                  facility_ids):
    seed(session_factory, 3, 8, ("wages",), facility_ids[0], acknowledged_after=2)
    seed(session_factory, 11, 3, ("child_labour", "wages"), facility_ids[1], acknowledged_after=2)
    seed(session_factory, 5, 2, ("wages",), year=LAST_YEAR - 1)
    published = create_app(dict(app_config, PUBLIC_STATISTICS="true"))
    try:
        answer = published.test_client().get("/transparency", headers={"Accept-Language": "en"})
    finally:
        published.extensions["portal.engine"].dispose()
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    html = answer.get_data(as_text=True)
    assert "<script" not in html.lower() and not re.search(r"(src|href)=\"(https?:)?//", html)
    tables = Tables(html).tables
    this = {row[0]: row[1:] for row in tables[f"year-{LAST_YEAR}-table"]["rows"][1:]}
    # Every case is about pay, three also about children working: 11 - 3 is not shown.
    assert this["Pay, overtime pay or social insurance"] == ["11"] and this["Children working"] == ["fewer than 5 or withheld"]
    assert this["All cases (a case may have several categories)"] == ["11"]
    before = {row[0]: row[1:] for row in tables[f"year-{LAST_YEAR - 1}-table"]["rows"][1:]}
    assert before["All cases (a case may have several categories)"] == ["fewer than 5 or withheld"]
    assert "March" not in html and "November" not in html, "years only, never months"
    assert "Bac Ninh" not in html, "no facility on the public page"


def test_the_public_page_setting_reads_true_or_false():
    load = portal_config.load
    assert load(environ={})["PUBLIC_STATISTICS"] is False
    assert load(environ={"PORTAL_PUBLIC_STATISTICS": "false"})["PUBLIC_STATISTICS"] is False
    assert load(environ={"PORTAL_PUBLIC_STATISTICS": "true"})["PUBLIC_STATISTICS"] is True
    with pytest.raises(ValueError, match="PORTAL_PUBLIC_STATISTICS"):
        load(environ={"PORTAL_PUBLIC_STATISTICS": "perhaps"})


def test_the_public_page_read_on_two_days_does_not_tell_that_a_report_arrived_between_them(
        app_config, session_factory, facility_ids):
    """Anyone may read the page every day: a yearly count that moves from one day to the next
    would say on which day a report came in, and about what. A year is published once it is over."""
    this_year = clock.today().year
    seed(session_factory, 3, 8, ("wages",), facility_ids[0], acknowledged_after=2)
    seed(session_factory, 1, 9, ("wages", "child_labour"), facility_ids[0], acknowledged_after=2, year=this_year)
    published = create_app(dict(app_config, PUBLIC_STATISTICS="true"))
    try:
        reader = published.test_client()
        before = reader.get("/transparency", headers={"Accept-Language": "en"}).get_data(as_text=True)
        # A worker reports forced labour today.
        seed(session_factory, clock.today().month, 1, ("forced_labour", "wages"), facility_ids[0],
             year=this_year)
        after = reader.get("/transparency", headers={"Accept-Language": "en"}).get_data(as_text=True)
    finally:
        published.extensions["portal.engine"].dispose()
    assert after == before
    tables = Tables(after).tables
    assert f"year-{LAST_YEAR}-table" in tables and f"year-{this_year}-table" not in tables


def test_administrators_do_not_count_the_claims_a_worker_sent_to_electronics_watch_alone(app, session_factory,
                                                                                        people):
    """As with reports: counting them would let the contractor compare its figures with its inbox."""
    with session_factory() as session:
        for number in range(11):
            claim = Case(kind="retaliation", received_on=clock.today(), status="received", language="en",
                         acknowledge_due=clock.today(), feedback_due=clock.today(),
                         recipient_choice="contractor" if number < 6 else "monitor",
                         submission_digest=(10**6 + number).to_bytes(32, "big"), reporter_recipient="")
            claim.categories = [CaseCategory(code="dismissal")]
            session.add(claim)
        session.commit()
    root = client_of(app, "root")
    claims = {row[0]: row[1] for row in csv_of(root, "retaliation", year=clock.today().year)}
    assert claims["Retaliation claims"] == "6"
    assert claims["Suspended or dismissed (fired)"] == "6"
