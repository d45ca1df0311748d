"""An investigator's day: the inbox says what needs them first and what to do next,
each case has a lead who can hand it over with a note, and the lead is reminded
of deadlines by e-mails that name cases and dates only."""

import html
import re
from datetime import timedelta

from click.testing import CliRunner
from inbox_pages import log_in, post_on_case
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select, update

from portal import cli
from portal.models import AuditEntry, Case, CaseItem, Keyholder, OutboxEmail, User
from portal.services import clock, lead

REPORT_TEXT = "The supervisor locks the fire exit on night shifts."


def new_case(app, client, facility_id, **overrides) -> Case:
    """A worker sends a report through the form; the case as stored."""
    assert send_report(client, facility_id, description=REPORT_TEXT, **overrides).status_code in (200, 303)
    with app.extensions["portal.sessions"]() as session:
        return session.scalars(select(Case).order_by(Case.id.desc())).first()


def received_days_ago(app, case_id, days, **values):
    with app.extensions["portal.sessions"]() as session:
        received = clock.today() - timedelta(days=days)
        session.execute(update(Case).where(Case.id == case_id).values(
            received_on=received, acknowledge_due=received + timedelta(days=7),
            feedback_due=received + timedelta(days=90), **values))
        session.commit()


def user_id(app, username) -> int:
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(User.id).where(User.username == username))


def lead_of(app, case_id) -> str | None:
    with app.extensions["portal.sessions"]() as session:
        found = session.get(Case, case_id)
        return session.get(User, found.lead_user_id).username if found.lead_user_id else None


def rows_of(listing: str) -> list[str]:
    """The inbox table's rows, in order, as their text."""
    body = listing.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr")[1:]]


def mails_to(app, address) -> list[OutboxEmail]:
    with app.extensions["portal.sessions"]() as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.to_address == address)
                                    .order_by(OutboxEmail.id)))


def forget_mail(app):
    with app.extensions["portal.sessions"]() as session:
        session.execute(OutboxEmail.__table__.delete())
        session.commit()


def queue_reminders(app):
    ran = CliRunner().invoke(cli.main, ["reminders", "queue"], env={
        "PORTAL_DATABASE_URL": app.config["DATABASE_URL"], "PORTAL_INSTANCE_PATH": app.config["INSTANCE_PATH"]})
    assert ran.exit_code == 0, ran.output
    return ran.output


def a_day_of_cases(app, client, facility_id) -> dict:
    """Five reports: one read with nothing due soon, one with a new message, one due tomorrow,
    one overdue, and one whose reporter is in danger; Anna opens only the first."""
    cases = {}
    cases["calm"] = new_case(app, client, facility_id)
    received_days_ago(app, cases["calm"].id, 1)
    cases["unread"] = new_case(app, client, facility_id)
    received_days_ago(app, cases["unread"].id, 20, status="acknowledged", acknowledged_on=clock.today())
    cases["due_soon"] = new_case(app, client, facility_id)
    received_days_ago(app, cases["due_soon"].id, 6)
    cases["overdue"] = new_case(app, client, facility_id)
    received_days_ago(app, cases["overdue"].id, 10)
    cases["danger"] = new_case(app, client, facility_id, immediate_danger="y")
    return cases


def test_the_inbox_puts_someone_in_danger_first_then_overdue_due_soon_unread_and_the_rest(app, client, facility_ids):
    cases = a_day_of_cases(app, client, facility_ids[0])
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    assert anna.get(f"/inbox/cases/{cases['calm'].id}").status_code == 200  # read: nothing new in it

    listing = anna.get("/inbox/").get_data(as_text=True)
    rows = rows_of(listing)
    order = [next(name for name, case in cases.items() if case.reference in row) for row in rows]
    assert order == ["danger", "overdue", "due_soon", "unread", "calm"]

    # Each row says what to do next in words, not by colour alone, and who leads the case.
    words = dict(zip(order, rows))
    assert "Someone may be in danger" in words["danger"]
    assert "Acknowledgement overdue by 3 days" in words["overdue"]
    assert "Overdue" in words["overdue"]
    tomorrow = clock.today() + timedelta(days=1)
    assert "Due soon" in words["due_soon"] and f"Acknowledge by {tomorrow:%b} {tomorrow.day}, {tomorrow.year}" in words[
        "due_soon"]
    assert "New message" in words["unread"] and "Unread" in words["unread"]
    assert "Acknowledge by" in words["calm"] and "Due soon" not in words["calm"]
    assert all("Anna" in row for row in rows), "the first routed keyholder leads every case"

    # A real table a screen reader can walk: a caption, column and row headers.
    assert "<caption>" in listing and 'scope="col"' in listing and 'scope="row"' in listing
    # The header counts what needs action: in danger, overdue, due soon and unread; not the calm one.
    assert "4 need action" in listing


def test_the_need_order_is_the_default_and_the_other_orders_remain(app, client, facility_ids):
    cases = a_day_of_cases(app, client, facility_ids[0])
    anna = app.test_client()
    log_in(anna, "anna")
    assert rows_of(anna.get("/inbox/?sort=need").get_data(as_text=True)) == rows_of(
        anna.get("/inbox/").get_data(as_text=True))
    by_acknowledgement = rows_of(anna.get("/inbox/?sort=acknowledge_due").get_data(as_text=True))
    assert cases["unread"].reference in by_acknowledgement[0], "the acknowledgement due first comes first"
    assert cases["overdue"].reference in rows_of(anna.get("/inbox/?overdue=1").get_data(as_text=True))[0]
    # A sort the inbox does not know falls back to the need order, not to an error.
    assert anna.get("/inbox/?sort=%27;drop").status_code == 200


def test_a_case_assessed_at_low_risk_or_done_is_no_longer_in_danger(app, client, facility_ids):
    cases = a_day_of_cases(app, client, facility_ids[0])
    anna = app.test_client()
    log_in(anna, "anna")
    with app.extensions["portal.sessions"]() as session:
        session.execute(update(Case).where(Case.id == cases["danger"].id).values(risk_level="low"))
        session.commit()
    rows = rows_of(anna.get("/inbox/").get_data(as_text=True))
    assert cases["overdue"].reference in rows[0]
    assert "Someone may be in danger" not in " ".join(rows)


def test_a_keyholder_sees_only_their_own_cases_counted(app, client, facility_ids, colleague):
    a_day_of_cases(app, client, facility_ids[0])
    chandra = app.test_client()
    assert log_in(chandra, "chandra").status_code == 303
    listing = chandra.get("/inbox/").get_data(as_text=True)
    assert "need action" not in listing and "No cases match." in listing


def test_the_case_page_puts_its_actions_by_the_heading(app, client, facility_ids):
    case = new_case(app, client, facility_ids[0])
    anna = app.test_client()
    log_in(anna, "anna")
    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    actions = page.index('aria-label="Actions on this case"')
    assert actions < page.index(REPORT_TEXT), "the actions come before the report"
    for anchor in ("#thread", "#status-change", "#notes", "#keyholders"):
        assert f'href="{anchor}"' in page[actions:page.index(REPORT_TEXT)]
    assert "Lead: Anna" in page
    # The bar's acknowledge button is the status form's: it acknowledges the case.
    bar = page[actions:page.index(REPORT_TEXT)]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', bar).group(1)
    done = anna.post(f"/inbox/cases/{case.id}/status", data={"csrf_token": token, "status": "acknowledged",
                                                              "outcome": ""})
    assert done.status_code == 303
    with app.extensions["portal.sessions"]() as session:
        assert session.get(Case, case.id).status == "acknowledged"


def test_the_lead_hands_over_with_a_note_the_new_lead_reads(app, client, facility_ids):
    case = new_case(app, client, facility_ids[0])
    assert lead_of(app, case.id) == "anna", "the first routed keyholder leads a new case"
    anna = app.test_client()
    log_in(anna, "anna")
    forget_mail(app)
    note = "Binh, the supplier's audit is on the 14th: please call the worker's union first."
    answer = post_on_case(anna, case.id, "lead", user=str(user_id(app, "binh")), note=note)
    assert answer.status_code == 303
    assert lead_of(app, case.id) == "binh"

    # The note is an internal note like any other: encrypted, for the keyholders only.
    with app.extensions["portal.sessions"]() as session:
        notes = session.scalars(select(CaseItem).where(CaseItem.case_id == case.id, CaseItem.kind == "note")).all()
        assert len(notes) == 1 and note.encode() not in notes[0].blob
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "lead_changed")).one()
        assert entry.case_id == case.id and entry.actor_user_id == user_id(app, "anna")

    # Binh is told by an e-mail that names the case only.
    mails = mails_to(app, "binh@contractor.example")
    assert len(mails) == 1 and case.reference in mails[0].subject
    assert "audit" not in mails[0].body and REPORT_TEXT not in mails[0].body

    binh = app.test_client()
    log_in(binh, "binh")
    page = html.unescape(binh.get(f"/inbox/cases/{case.id}").get_data(as_text=True))
    assert note in page and "Lead: Binh" in page
    assert "Binh" in rows_of(binh.get("/inbox/").get_data(as_text=True))[0]


def test_a_keyholder_makes_another_lead_without_a_note(app, client, facility_ids):
    case = new_case(app, client, facility_ids[0])
    anna = app.test_client()
    log_in(anna, "anna")
    forget_mail(app)
    assert post_on_case(anna, case.id, "lead", user=str(user_id(app, "binh")), note="").status_code == 303
    assert lead_of(app, case.id) == "binh"
    with app.extensions["portal.sessions"]() as session:
        assert not session.scalars(select(CaseItem).where(CaseItem.kind == "note")).all()


def test_nobody_who_does_not_hold_the_case_can_lead_it(app, client, facility_ids, colleague):
    case = new_case(app, client, facility_ids[0])
    chandra_id = user_id(app, "chandra")
    anna = app.test_client()
    log_in(anna, "anna")
    refused = post_on_case(anna, case.id, "lead", user=str(chandra_id), note="Over to you.")
    assert refused.status_code == 400 and "Choose a colleague who holds this case." in refused.get_data(as_text=True)
    for made_up in ("999999", "0", "-1", "anna", ""):
        assert post_on_case(anna, case.id, "lead", user=made_up, note="").status_code == 400
    assert lead_of(app, case.id) == "anna"
    with app.extensions["portal.sessions"]() as session:
        assert not session.scalars(select(CaseItem).where(CaseItem.kind == "note")).all(), "nothing half-written"

    # The service refuses too, whoever calls it.
    with app.extensions["portal.sessions"]() as session:
        found, outsider = session.get(Case, case.id), session.get(User, chandra_id)
        actor = session.get(User, user_id(app, "anna"))
        try:
            lead.make_lead(session, actor, found, outsider)
        except lead.LeadError as error:
            assert error.reason == "not_holder"
        else:
            raise AssertionError("a user who holds no key became lead")

    # And someone who holds no key cannot change the lead at all.
    chandra = app.test_client()
    log_in(chandra, "chandra")
    page = chandra.get("/inbox/login")
    answer = chandra.post(f"/inbox/cases/{case.id}/lead", data={"csrf_token": csrf_token(page),
                                                                "user": str(chandra_id), "note": ""})
    assert answer.status_code == 404
    assert lead_of(app, case.id) == "anna"


def test_removing_the_lead_as_keyholder_passes_the_lead_to_another_holder(app, client, facility_ids):
    case = new_case(app, client, facility_ids[0])
    anna = app.test_client()
    log_in(anna, "anna")
    removed = post_on_case(anna, case.id, f"keyholders/{user_id(app, 'anna')}/remove")
    assert removed.status_code == 303
    assert lead_of(app, case.id) == "binh"
    with app.extensions["portal.sessions"]() as session:
        assert session.scalars(select(Keyholder.user_id).where(Keyholder.case_id == case.id)).all() == [
            user_id(app, "binh")]
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "lead_changed")).one()


def test_the_lead_is_reminded_once_before_and_once_after_each_deadline_with_no_content(app, client, facility_ids):
    due_tomorrow = new_case(app, client, facility_ids[0])
    received_days_ago(app, due_tomorrow.id, 6)
    overdue = new_case(app, client, facility_ids[0])
    received_days_ago(app, overdue.id, 10)
    far = new_case(app, client, facility_ids[0])
    forget_mail(app)

    assert "queued 2 reminders" in queue_reminders(app)
    assert "queued 0 reminders" in queue_reminders(app), "run twice a day, each reminder goes once"
    mails = mails_to(app, "anna@contractor.example")
    assert len(mails) == 2
    assert not mails_to(app, "binh@contractor.example"), "reminders go to the lead only"
    soon, late = sorted(mails, key=lambda m: due_tomorrow.reference not in m.subject)
    assert due_tomorrow.reference in soon.body and "acknowledge by" in soon.body
    assert overdue.reference in late.body and "overdue" in late.body
    for mail in mails:
        assert REPORT_TEXT not in mail.body and "fire exit" not in mail.subject + mail.body
        assert far.reference not in mail.body

    # Acknowledged: the acknowledgement is no longer reminded of; the feedback will be.
    with app.extensions["portal.sessions"]() as session:
        session.execute(update(Case).where(Case.id == overdue.id).values(
            status="acknowledged", feedback_due=clock.today() + timedelta(days=2)))
        session.commit()
    forget_mail(app)
    assert "queued 1 reminders" in queue_reminders(app)
    (feedback,) = mails_to(app, "anna@contractor.example")
    assert "give feedback by" in feedback.body and overdue.reference in feedback.body


def test_a_lead_who_chose_the_digest_gets_one_email_listing_numbers_and_dates(app, client, facility_ids):
    first = new_case(app, client, facility_ids[0])
    received_days_ago(app, first.id, 6)
    second = new_case(app, client, facility_ids[0])
    received_days_ago(app, second.id, 12)
    anna = app.test_client()
    log_in(anna, "anna")
    page = anna.get("/inbox/account")
    assert "One digest a day instead of one e-mail per reminder" in page.get_data(as_text=True)
    saved = anna.post("/inbox/account/reminders", data={"reminders-csrf_token": csrf_token(page),
                                                        "reminders-digest": "y"})
    assert saved.status_code == 200 and "Your reminder setting was saved." in saved.get_data(as_text=True)
    assert 'checked' in anna.get("/inbox/account").get_data(as_text=True)
    forget_mail(app)

    queue_reminders(app)
    queue_reminders(app)
    (digest,) = mails_to(app, "anna@contractor.example")
    assert first.reference in digest.body and second.reference in digest.body
    assert REPORT_TEXT not in digest.body
    assert "overdue" in digest.body and "acknowledge by" in digest.body


def test_the_upgrade_makes_each_existing_case_led_by_its_first_keyholder(empty_database_url):
    from sqlalchemy import text

    from portal import migrate
    from portal.db import make_engine

    migrate.upgrade(empty_database_url, "0015")
    engine = make_engine(empty_database_url)
    with engine.begin() as connection:
        for uid, name in ((1, "anna"), (2, "binh")):
            connection.execute(text(
                "INSERT INTO users (id, username, display_name, role, default_recipient, active, created_at, "
                "language, totp_last_step, shown_to_reporters, awaiting_readmission, session_epoch) VALUES "
                "(:id, :name, :name, 'investigator', false, true, '2026-01-05 00:00:00', 'en', 0, false, false, 0)"),
                {"id": uid, "name": name})
        for case_id, holders in ((1, (2, 1)), (2, (1,)), (3, ())):
            connection.execute(text(
                "INSERT INTO cases (id, kind, received_on, status, language, urgent, acknowledge_due, feedback_due, "
                "submission_digest, reporter_recipient, recipient_choice, mandatory_notification, "
                "last_reporter_item_id) VALUES (:id, 'report', '2026-01-05', 'received', 'en', false, '2026-01-12', "
                "'2026-04-05', :digest, 'age1x', 'contractor', false, 0)"),
                {"id": case_id, "digest": bytes([case_id]) * 32})
            for user in holders:
                connection.execute(text("INSERT INTO keyholders (case_id, user_id, seen_item_id) "
                                        "VALUES (:case, :user, 0)"), {"case": case_id, "user": user})
    migrate.upgrade(empty_database_url)
    with engine.connect() as connection:
        leads = dict(connection.execute(text("SELECT id, lead_user_id FROM cases")).all())
    engine.dispose()
    assert leads == {1: 2, 2: 1, 3: None}, "the first keyholder row leads; a case nobody holds has no lead"


def test_page_after_page_the_need_order_runs_on_from_what_needs_action_into_what_is_done(
        app, client, facility_ids, monkeypatch):
    """Pages of two cases: the ranked cases, then the done ones by their next deadline, the
    page that holds both included, with nothing skipped or shown twice."""
    from portal.services import inbox

    cases = a_day_of_cases(app, client, facility_ids[0])
    for name, days in (("closed_late", 40), ("closed_early", 60), ("feedback_given", 30)):
        cases[name] = new_case(app, client, facility_ids[0])
        status = "closed" if name.startswith("closed") else "feedback_given"
        received_days_ago(app, cases[name].id, days, status=status, acknowledged_on=clock.today())
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    for name in ("calm", "closed_late", "closed_early", "feedback_given"):
        assert anna.get(f"/inbox/cases/{cases[name].id}").status_code == 200  # read
    done_first = sorted(("closed_late", "closed_early", "feedback_given"),
                        key=lambda name: (clock.today() - timedelta(days={"closed_late": 40, "closed_early": 60,
                                                                            "feedback_given": 30}[name]), cases[name].id))
    expected = ["danger", "overdue", "due_soon", "unread", "calm"] + done_first

    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    shown = []
    for page in range(1, 5):  # 8 cases, 4 pages
        rows = rows_of(anna.get(f"/inbox/?page={page}").get_data(as_text=True))
        shown += [next(name for name, case in cases.items() if case.reference in row) for row in rows]
    assert shown == expected


def test_what_a_worker_writes_is_unread_for_each_keyholder_until_they_read_it(app, client, facility_ids, colleague):
    """Each keyholder has their own unread mark: a colleague added later, a closed case one of them
    never opened, and the worker writing again on the closed case all show where they should."""
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi", description="Không trả lương làm thêm"))
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    anna, binh, chandra = app.test_client(), app.test_client(), app.test_client()
    for client_of, name in ((anna, "anna"), (binh, "binh"), (chandra, "chandra")):
        log_in(client_of, name)
    assert post_on_case(anna, case.id, "keyholders", user=str(user_id(app, "chandra"))).status_code == 303

    def row(client_of):
        rows = rows_of(client_of.get("/inbox/").get_data(as_text=True))
        return next(found for found in rows if case.reference in found)

    # Anna opened the case to give Chandra a key: it is read for her alone.
    assert "Unread" not in row(anna) and "Unread" in row(binh), "a new report is unread until each one reads it"
    assert "Unread" in row(chandra), "and for a colleague given a key later"

    for status in ("acknowledged", "feedback_given", "closed"):
        fields = {"outcome": "substantiated"} if status == "closed" else {}
        assert post_on_case(anna, case.id, "status", status=status, **fields).status_code == 303
    needing = binh.get("/inbox/").get_data(as_text=True)
    assert "Unread" in row(binh), "a closed case Binh never opened still waits for him"
    assert "New message" in row(binh) and case.reference in needing

    assert binh.get(f"/inbox/cases/{case.id}").status_code == 200
    assert "Unread" not in row(binh)
    worker = app.test_client()
    assert log_in_with_receipt(worker, receipt, lang="vi").status_code == 303
    page = worker.get("/vi/case")
    assert worker.post("/vi/case", data={"csrf_token": csrf_token(page), "message": "Vẫn chưa trả lương"},
                       content_type="multipart/form-data").status_code in (200, 303)
    assert "Unread" in row(anna) and "Unread" in row(binh), "the worker's new message is unread for both again"


def test_a_filter_matching_many_cases_counts_them_up_to_a_cap_and_pages_on(app, client, facility_ids, monkeypatch):
    """Counting every held case of a busy facility would cost as much as listing them: past the cap the
    list says "more than", and pages on while a page is full."""
    from portal.services import inbox

    cases = a_day_of_cases(app, client, facility_ids[0])
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    anna = app.test_client()
    log_in(anna, "anna")
    assert anna.get(f"/inbox/cases/{cases['calm'].id}").status_code == 200  # read
    shown, page, pages_text = [], 1, []
    while page <= 4:
        listing = anna.get(f"/inbox/?facility={facility_ids[0]}&page={page}").get_data(as_text=True)
        assert "Cases <small>(more than 3)</small>" in listing
        pages_text.append(re.search(r"<span>(Page [^<]*)</span>", listing).group(1))
        rows = rows_of(listing) if "No cases match." not in listing else []
        shown += [next(name for name, case in cases.items() if case.reference in row) for row in rows]
        if 'rel="next"' not in listing and ">Next</a>" not in listing:
            break
        page += 1
    assert shown == ["danger", "overdue", "due_soon", "unread", "calm"], "every case once, in the need order"
    assert pages_text == ["Page 1", "Page 2", "Page 3"], "no page count it cannot know"
    # Without a filter the count is exact (the user's keyholder rows alone).
    assert "Cases <small>(5)</small>" in anna.get("/inbox/").get_data(as_text=True)
