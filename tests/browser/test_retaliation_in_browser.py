"""Retaliation, remedies and the escalation procedure, in a real browser.

A worker reports in Vietnamese from a phone and is dismissed for it. Back on
the follow-up page with the receipt, the worker says so. Rosa, the retaliation
officer, assesses a high risk of further harm, suspends the dismissal, has it
investigated and substantiated, records the supervisor's suspension and two
remedies (reinstatement and back pay) and that the contracting authority and
Electronics Watch were informed. The worker confirms the reinstatement and
disputes the back pay. The administrator takes the report's escalation record
from "breach indicated" to "notice of default". Vera, of the contracting
authority, reads the timeline and the statistics, and can open no case;
Chandra, an investigator who holds neither case, cannot open the claim.
"""

from datetime import timedelta

import pytest
from accounts import passphrase_of, totp_secret_of
from sqlalchemy import select
from test_inbox_in_browser import log_in, report_in_vietnamese, submit
from test_reporter_in_browser import photo_with_gps

from portal.models import Case, Remedy
from portal.services import clock, users

pytestmark = pytest.mark.browser


@pytest.fixture
def officers_and_overseers(session_factory, recovery_identity):
    with session_factory() as session:
        for username, role in (("rosa", "retaliation_officer"), ("root", "administrator"), ("vera", "authority")):
            users.create(session, username, username.title(), role, passphrase_of(username), work_factor=10,
                         totp_secret=totp_secret_of(username))


def test_a_dismissed_worker_is_protected_and_remedied_and_the_breach_escalates(
    phone, desk, live_server, vietnamese, english, authenticator, screenshots, session_factory,
    investigators, colleague, facility_ids, officers_and_overseers,
):
    origin, _ = live_server.origin, english
    v = vietnamese

    # --- The worker reports, then is dismissed and says so. --------------------
    receipt = report_in_vietnamese(phone, origin, v, facility_ids[0],
                                   "Chúng tôi không được trả lương làm thêm giờ.", photo_with_gps())
    worker = phone.new_context().new_page()

    def worker_opens_the_case():
        worker.goto(f"{origin}/vi/follow-up")
        worker.get_by_label(v("Your receipt (16 digits)")).fill(receipt)
        worker.get_by_role("button", name=v("Open my report")).click()
        worker.wait_for_url(f"{origin}/vi/case")

    worker_opens_the_case()
    worker.get_by_role("link", name=v("Something happened to me because I reported")).click()
    worker.wait_for_url(f"{origin}/vi/case/claim")
    worker.get_by_label(v("Suspended or dismissed (fired)")).check()
    worker.get_by_label(v("Who did it? (for example: a supervisor, the agent, the manager)")).fill("Tổ trưởng chuyền 4")
    worker.get_by_label(v("What happened? Tell us in your own words.")).fill(
        "Hai ngày sau khi tôi gửi báo cáo, tổ trưởng đuổi việc tôi.")
    submit(worker, worker.get_by_role("button", name=v("Send"), exact=True))
    assert worker.locator("#claims + p.notice").inner_text() == v(
        "We received what you told us. A person named to protect reporters will look at it quickly.")
    claim_section = worker.locator("section.claim")
    assert v("Suspended or dismissed (fired)") in claim_section.inner_text()
    worker.screenshot(path=screenshots / "1-claim-sent.png", full_page=True)
    with session_factory() as session:
        claim = session.scalars(select(Case).where(Case.kind == "retaliation")).one()
        claim_id, claim_reference, original_reference = claim.id, claim.reference, claim.related_case_id
        original_reference = session.get(Case, claim.related_case_id).reference
    claim_url = f"{origin}/inbox/cases/{claim_id}"

    # --- Rosa, the retaliation officer, protects the worker. -------------------
    rosa = desk.new_context().new_page()
    rosa.goto(f"{origin}/inbox/")
    log_in(rosa, origin, _, "rosa", authenticator.code("rosa"))
    row = rosa.locator("table.cases tbody tr").filter(has=rosa.get_by_role("link", name=claim_reference))
    assert row.locator(".badge").first.inner_text() == _("retaliation claim")
    row.get_by_role("link", name=claim_reference).click()
    rosa.wait_for_url(claim_url)
    assert "Tổ trưởng chuyền 4" in rosa.locator("dl.report").inner_text()

    rosa.get_by_label(_("Risk of further harm")).select_option("high")
    rosa.get_by_label(_("Interim protection measure")).select_option("dismissal_suspended")
    rosa.get_by_label(_("What was decided")).fill("Dismissal suspended while we investigate; wages continue.")
    submit(rosa, rosa.get_by_role("button", name=_("Record the risk assessment")))
    for status in ("investigating", "substantiated"):
        rosa.get_by_label(_("New status")).select_option(status)
        submit(rosa, rosa.get_by_role("button", name=_("Change status"), exact=True))
    assert rosa.locator("dl.status dd").first.inner_text() == _("Substantiated")

    rosa.get_by_label(_("Who threatened or retaliated (a role or a pseudonym)")).fill("Line 4 supervisor")
    rosa.get_by_label(_("Action"), exact=True).select_option("suspension")
    rosa.get_by_label(_("Stage of the action"), exact=True).select_option("taken")
    submit(rosa, rosa.get_by_role("button", name=_("Record the action")))

    due = (clock.today() + timedelta(days=14)).isoformat()
    for kind, details, amount, currency in (("reinstatement", "Back on line 4, same shift", "", ""),
                                            ("back_pay", "Six weeks of wages", "9600000", "VND")):
        rosa.get_by_label(_("Remedy"), exact=True).select_option(kind)
        rosa.get_by_label(_("Details (the reporter reads them)")).fill(details)
        rosa.get_by_label(_("Amount"), exact=True).fill(amount)
        rosa.get_by_label(_("Currency (e.g. EUR, MYR, VND)")).fill(currency)
        rosa.get_by_label(_("Due by"), exact=True).fill(due)
        submit(rosa, rosa.get_by_role("button", name=_("Propose the remedy")))
    for details in ("Back on line 4, same shift", "Six weeks of wages"):
        for state in (_("Agreed"), _("Delivered")):
            remedy_row = rosa.locator("#remedies ~ div.row").filter(has_text=details)
            submit(rosa, remedy_row.get_by_role("button", name=state, exact=True))
    submit(rosa, rosa.get_by_role("button", name=_("Record that they were informed")))
    page_text = rosa.locator("main").inner_text()
    for expected in (_("High"), "Line 4 supervisor", "₫9,600,000",
                     _("Informed of this actual or potential breach on %(date)s.").split("%")[0]):
        assert expected in page_text, expected
    rosa.screenshot(path=screenshots / "2-claim-officer.png", full_page=True)

    # --- The worker confirms one remedy and disputes the other. ----------------
    worker_opens_the_case()
    remedies = worker.locator("ul.remedies > li")
    assert remedies.count() == 2
    assert "Line 4 supervisor" not in worker.locator("main").inner_text()
    submit(worker, remedies.filter(has_text="Back on line 4").get_by_role("button", name=v("I received it")))
    submit(worker, worker.locator("ul.remedies > li").filter(has_text="Six weeks").get_by_role(
        "button", name=v("I did not receive it")))
    answered = worker.locator("ul.remedies").inner_text()
    assert v("You said you received it") in answered and v("You said you did not receive it") in answered
    worker.screenshot(path=screenshots / "3-remedies-answered.png", full_page=True)
    with session_factory() as session:
        assert [r.state for r in session.scalars(select(Remedy).order_by(Remedy.id))] == ["confirmed", "disputed"]
    rosa.reload()
    assert _("Disputed by the reporter") in rosa.locator("#remedies ~ div.row").last.inner_text()

    # --- The administrator escalates the report's breach to a notice of default.
    root = desk.new_context().new_page()
    root.goto(f"{origin}/oversight/")
    log_in(root, origin, _, "root", authenticator.code("root"))
    root.get_by_label(_("Case reference (e.g. 2026-00042)")).fill(original_reference)
    submit(root, root.get_by_role("button", name=_("Open the record")))
    for step, note in (("breach_indicated", "Unpaid overtime and a dismissal for reporting"),
                       ("cooperation_started", ""), ("statement_requested", "Measures and timeframe within 30 days"),
                       ("statement_received", ""), ("meeting_held", "Met the regional director"),
                       ("remedial_action_required", ""), ("notice_of_default", "Registered letter of 20 November")):
        root.get_by_label(_("Step"), exact=True).select_option(step)
        root.get_by_label(_("Note"), exact=True).fill(note)
        submit(root, root.get_by_role("button", name=_("Record the step")))
    assert root.locator("ol.timeline > li").count() == 7

    # --- The contracting authority reads the timeline and the statistics. ------
    vera = desk.new_context().new_page()
    vera.goto(f"{origin}/inbox/")
    log_in(vera, origin, _, "vera", authenticator.code("vera"))
    assert vera.url == f"{origin}/oversight/"
    vera.get_by_role("link", name=original_reference).click()
    steps = [text.split(" · ")[0] for text in vera.locator("ol.timeline > li > p:first-child").all_inner_texts()]
    assert steps[0] == _("Breach indicated") and steps[-1] == _(
        "Notice of default given (Royal Decree on execution, article 44, section 2)")
    assert "Registered letter of 20 November" in vera.locator("ol.timeline").inner_text()
    assert vera.get_by_role("button", name=_("Record the step")).count() == 0
    assert "Chúng tôi không được trả lương" not in vera.locator("main").inner_text()
    vera.screenshot(path=screenshots / "4-escalation-timeline.png", full_page=True)
    vera.get_by_role("link", name=_("Statistics")).click()
    assert _("fewer than %(number)s or withheld") % {"number": 5} in vera.locator("main").inner_text()
    assert vera.goto(claim_url).status == 404

    # --- An investigator who holds neither case cannot open the claim. ---------
    chandra = desk.new_context().new_page()
    chandra.goto(f"{origin}/inbox/")
    log_in(chandra, origin, _, "chandra", authenticator.code("chandra"))
    assert chandra.goto(claim_url).status == 404
