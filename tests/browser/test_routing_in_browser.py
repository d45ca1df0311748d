"""A reporter's choice of recipient beats the routing rules, in a real browser.

The issue's story: a reporter picks a facility in Malaysia, chooses
"Electronics Watch only", and the contractor's investigators cannot see or
open the case.

A routing rule "Malaysia" names Anna, so without the reporter's choice Anna
would receive the case. A worker on a phone (JavaScript off, 360x640, Malay)
picks Penang Precision Electronics under "Malaysia", ticks a category, writes
what happened and chooses the independent monitor only. Anna and Binh (who
receive new cases by default) log in at their desks: the case is not in
their lists and its page answers 404. Ewa of Electronics Watch logs in and
reads it. In the database Ewa is the only keyholder: Anna's and Binh's keys
open nothing of it, the recovery key does.
"""

import uuid

import pytest
from accounts import passphrase_of, totp_secret_of
from babel import Locale
from babel.support import Translations
from sqlalchemy import select
from test_inbox_in_browser import assert_fits_the_desk, log_in
from test_reporter_in_browser import assert_fits_the_screen, send_and_read_receipt

import crypto
from portal.models import Case, CaseItem, Keyholder, User
from portal.services import routing, users

pytestmark = pytest.mark.browser

USER_WORK_FACTOR = 10  # as tests/conftest.py seals the investigators' identities
MALAYSIAN_FACILITY = "Penang Precision Electronics"
# A phone in Malaysia, JavaScript off, as the reporter's journey uses in Vietnam.
MALAY_PHONE_LOCALE = "ms-MY"


@pytest.fixture(scope="session")
def malay(compiled_catalogs):
    """``gettext`` for Malay, from the same compiled catalog the server reads.

    A string the catalog lacks comes back in English, as the server shows it.
    """
    catalog = Translations.load(str(compiled_catalogs), ["ms"])
    assert catalog.gettext("Make a report") != "Make a report", "the Malay catalog is empty"
    return catalog.gettext


@pytest.fixture
def electronics_watch(session_factory, recovery_identity):
    """Ewa, Electronics Watch staff (role "monitor"), with her unlocked identity."""
    with session_factory() as session:
        user = users.create(session, "ewa", "Ewa (Electronics Watch)", routing.MONITOR_ROLE,
                            passphrase_of("ewa"), work_factor=USER_WORK_FACTOR,
                            email="ewa@electronicswatch.example", totp_secret=totp_secret_of("ewa"))
        return user, users.unlock_identity(user, passphrase_of("ewa"))


@pytest.fixture
def malaysia_rule(session_factory, investigators, facility_ids):
    """The rule "Malaysia": reports about a Malaysian facility go to Anna."""
    anna, _identity = investigators["anna"]
    with session_factory() as session:
        rule = routing.save_rule(session, None, name="Malaysia", recipient_ids=[anna.id], country="MY")
        return rule.id


@pytest.fixture
def server(electronics_watch, malaysia_rule, live_server):
    """The portal, serving only once Ewa and the rule are in its database."""
    return live_server


def test_a_report_for_electronics_watch_only_stays_out_of_the_contractors_inbox(
    phone, desk, server, malay, english, authenticator, screenshots, session_factory,
    investigators, electronics_watch, malaysia_rule, recovery_identity, facility_ids,
):
    origin = server.origin
    _anna, anna_identity = investigators["anna"]
    _binh, binh_identity = investigators["binh"]
    _ewa, ewa_identity = electronics_watch

    # --- Without the reporter's choice, the rule would give the case to Anna. -
    with session_factory() as session:
        def routed_to(choice):
            decision = routing.decide(session, routing.Sample(
                categories=["wages"], language="ms", facility_id=facility_ids[1],
                recipient_choice=choice))
            return [user.username for user in decision.users], decision.rule

        contractor_users, contractor_rule = routed_to("contractor")
        assert contractor_users == ["anna"], "the setup means nothing if Anna would not get it"
        assert contractor_rule is not None and contractor_rule.id == malaysia_rule
        assert routed_to("monitor") == (["ewa"], None)

    # --- A worker in Penang reports in Malay, for Electronics Watch only. ----
    _ = malay
    canary = f"canary-{uuid.uuid4().hex}"
    description = f"Kami tidak dibayar gaji kerja lebih masa bulan Oktober. {canary}"
    phone.options = dict(phone.options, locale=MALAY_PHONE_LOCALE)
    reporter = phone.new_context()
    page = reporter.new_page()
    form_page = page.goto(f"{origin}/ms/report")
    assert form_page.status == 200
    assert page.locator("html").get_attribute("lang") == "ms"
    assert page.get_by_role("heading", level=1).inner_text() == _("Make a report")

    # Workplaces are grouped by country, named in the page's language.
    facility_select = page.locator("select[name=facility]")
    malaysia = Locale.parse("ms").territories["MY"]
    group = facility_select.locator("optgroup").filter(
        has=page.locator(f"option[value='{facility_ids[1]}']"))
    assert group.get_attribute("label") == malaysia
    assert group.locator("option").all_inner_texts() == [MALAYSIAN_FACILITY]
    facility_select.select_option(label=MALAYSIAN_FACILITY)
    assert facility_select.input_value() == str(facility_ids[1])

    page.get_by_label(_("Pay, overtime pay or social insurance")).check()
    page.get_by_label(_("What happened? Tell us in your own words.")).fill(description)
    page.get_by_label(_("Yes, but without my name or contact details")).check()  # asked, never assumed

    # "Who should receive your report?": the company's investigators by default.
    choice = page.get_by_role("group", name=_("Who should receive your report?"))
    radios = choice.locator("input[type=radio][name=recipient_choice]")
    assert [radio.get_attribute("value") for radio in radios.all()] == list(routing.CHOICES)
    # Named: "the company's investigators" read as the factory's managers in many languages.
    ours = _("Investigators of %(organisation)s, not your factory's managers") % {"organisation": "Test contractor"}
    assert choice.get_by_label(ours, exact=True).is_checked()
    monitor_only = choice.get_by_label(_("Only Electronics Watch, the independent monitor"),
                                       exact=True)
    assert monitor_only.get_attribute("value") == "monitor"
    monitor_only.check()
    assert monitor_only.is_checked()
    assert choice.locator("input[name=recipient_choice]:checked").get_attribute("value") == "monitor"

    page.screenshot(path=screenshots / "1-form.png", full_page=True)
    choice.scroll_into_view_if_needed()
    assert monitor_only.is_visible()
    box = choice.bounding_box()
    assert box is not None and box["width"] <= 360, f"the recipient choice is too wide: {box}"
    page.screenshot(path=screenshots / "2-recipient-choice.png")  # what the worker sees
    choice.screenshot(path=screenshots / "3-recipient-choice-fieldset.png")
    assert_fits_the_screen(page, "report form")

    send_and_read_receipt(page, _)
    page.screenshot(path=screenshots / "4-receipt.png", full_page=True)
    reporter.close()

    with session_factory() as session:
        (case,) = session.scalars(select(Case)).all()
        case_id, reference = case.id, case.reference
    case_url = f"{origin}/inbox/cases/{case_id}"

    # --- Anna and Binh, at their desks, neither see nor open it. -------------
    _ = english
    for username in ("anna", "binh"):
        investigator = desk.new_context().new_page()
        investigator.goto(f"{origin}/inbox/")
        log_in(investigator, origin, _, username, authenticator.code(username))
        assert investigator.url == f"{origin}/inbox/"
        assert investigator.locator("html").get_attribute("lang") == "en"
        assert investigator.get_by_role("link", name=reference, exact=True).count() == 0
        assert investigator.locator("table.cases tbody").inner_text().strip() == _("No cases match."), \
            f"{username}'s list is not empty"
        investigator.screenshot(path=screenshots / f"5-{username}-inbox.png", full_page=True)
        refused = investigator.goto(case_url)
        assert refused.status == 404, f"{username} got {refused.status} for the case page"
        assert canary not in investigator.content()
        assert reference not in investigator.content()

    # --- Ewa of Electronics Watch reads it. ----------------------------------
    ewa = desk.new_context().new_page()
    ewa.goto(f"{origin}/inbox/")
    log_in(ewa, origin, _, "ewa", authenticator.code("ewa"))
    assert ewa.url == f"{origin}/inbox/"
    rows = ewa.locator("table.cases tbody tr")
    assert rows.count() == 1
    assert rows.get_by_role("link", name=reference, exact=True).count() == 1
    ewa.screenshot(path=screenshots / "6-ewa-inbox.png", full_page=True)
    ewa.get_by_role("link", name=reference, exact=True).click()
    ewa.wait_for_url(case_url)
    assert ewa.get_by_role("heading", level=1).inner_text() == _("Case %(reference)s") % {
        "reference": reference}
    assert ewa.locator("p.notice").filter(
        has_text=_("The reporter chose Electronics Watch only.")).count() == 1
    assert ewa.locator("dl.report dd.text").first.inner_text() == description
    assert canary in ewa.locator("dl.report").inner_text()
    assert [text.strip().removesuffix(_("Remove")).strip()
            for text in ewa.locator("#keyholders + ul > li").all_inner_texts()] == [
        "Ewa (Electronics Watch) (%s)" % _("lead")]
    ewa.screenshot(path=screenshots / "7-ewa-case.png", full_page=True)
    assert_fits_the_desk(ewa, "case page")

    # --- Nothing left the server's origin. -----------------------------------
    assert phone.requested and desk.requested, "no request was recorded"
    elsewhere = [url for url in phone.requested + desk.requested
                 if not url.startswith((f"{origin}/", "data:"))]
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"

    # --- What the database holds: only Ewa (and the recovery key) can read it.
    with session_factory() as session:
        case = session.get(Case, case_id)
        assert case.recipient_choice == "monitor"
        assert case.facility_id == facility_ids[1]
        assert case.language == "ms"
        assert case.category_codes == ["wages"]
        assert case.routing_rule_id is None, "the Malaysia rule must not have routed this case"
        holders = session.scalars(
            select(User.username).join(Keyholder, Keyholder.user_id == User.id)
            .where(Keyholder.case_id == case_id)).all()
        items = session.scalars(select(CaseItem).where(CaseItem.case_id == case_id)
                                .order_by(CaseItem.id)).all()
        assert routing.open_alerts(session) == [], "Ewa could read the case: no alert is due"
    assert holders == ["ewa"]
    assert [(item.kind, item.author) for item in items] == [("report", "reporter")]
    (report,) = items
    assert canary.encode() not in report.blob
    for name, identity in (("anna", anna_identity), ("binh", binh_identity)):
        with pytest.raises(crypto.NoIdentityError):
            crypto.decrypt(report.blob, identity)
            pytest.fail(f"{name}'s key opened the report")
    assert canary in crypto.decrypt(report.blob, ewa_identity).decode("utf-8")
    assert canary in crypto.decrypt(report.blob, recovery_identity).decode("utf-8")

    assert canary not in server.log(), "the report's text reached the server's log"
