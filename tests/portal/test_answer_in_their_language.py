"""An investigator answers a worker in the worker's language: standard reply templates written out
in the case's language with the English beside them, edited before sending; administrators add
templates of their own; closing tells the worker the outcome; a closed case opens again when the
worker writes or an investigator reopens it."""

import json

import pytest
from flask_babel import force_locale, format_date, gettext
from inbox_pages import log_in, post_on_case
from markupsafe import escape
from operator_steps import logged_in_admin
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

from portal.models import AuditEntry, Case, OutboxEmail, ReplyTemplate
from portal.services import reply_templates

ACKNOWLEDGEMENT = ("We have received your report and we have read it. Thank you for telling us. "
                   "We will tell you what we did by %(date)s. Come back with your receipt to read our "
                   "messages and to answer our questions.")


def the_case(app) -> Case:
    with app.extensions["portal.sessions"]() as session:
        return session.scalars(select(Case)).one()


def in_language(app, language, msgid, **values) -> str:
    """A message as the portal writes it in ``language``."""
    with app.test_request_context(), force_locale(language):
        return gettext(msgid, **values)


def standard(app, key, case, language, outcome=None) -> str:
    with app.test_request_context():
        return reply_templates.standard_text(key, case, language, outcome)


def long_date(app, day, language) -> str:
    with app.test_request_context(), force_locale(language):
        return format_date(day, format="long")


def audit_actions(app, action) -> list[AuditEntry]:
    with app.extensions["portal.sessions"]() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def worker_page(app, receipt, lang="vi") -> str:
    worker = app.test_client()
    assert log_in_with_receipt(worker, receipt, lang=lang).status_code == 303
    return worker.get(f"/{lang}/case").get_data(as_text=True)


def worker_writes(app, receipt, text, lang="vi"):
    worker = app.test_client()
    log_in_with_receipt(worker, receipt, lang=lang)
    page = worker.get(f"/{lang}/case")
    return worker.post(f"/{lang}/case", data={"csrf_token": csrf_token(page), "message": text},
                       content_type="multipart/form-data")


def closed_case(app, client, facility_ids, outcome="substantiated", **closing):
    """A Vietnamese report, acknowledged, answered and closed by Anna; its receipt and Anna's client."""
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi", description="Không trả lương làm thêm"))
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    for status in ("acknowledged", "feedback_given"):
        assert post_on_case(anna, case.id, "status", status=status).status_code == 303
    assert post_on_case(anna, case.id, "status", status="closed", outcome=outcome, **closing).status_code == 303
    return receipt, the_case(app), anna


def test_an_investigator_answers_a_vietnamese_report_with_the_acknowledgement_and_the_worker_reads_it(
        app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi", description="Không trả lương làm thêm"))
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    page = anna.get(f"/inbox/cases/{case.id}?template=standard:acknowledgement").get_data(as_text=True)
    vietnamese = in_language(app, "vi", ACKNOWLEDGEMENT, date=long_date(app, case.feedback_due, "vi"))
    english = ACKNOWLEDGEMENT % {"date": long_date(app, case.feedback_due, "en")}
    assert vietnamese != english, "the acknowledgement is translated into Vietnamese"
    assert standard(app, "acknowledgement", case, "vi") == vietnamese
    assert str(escape(english)) in page, "the English is beside it"
    # A case still to acknowledge: the text is the acknowledgement itself, in the status form.
    status_form = page.split('id="status-change"')[1]
    assert str(escape(vietnamese)) in status_form, "the Vietnamese text is the acknowledgement's message"
    assert '<option selected value="acknowledged">' in status_form or 'value="acknowledged" selected' in status_form
    assert 'lang="vi"' in page

    edited = vietnamese + " Anh chị làm ở dây chuyền nào?"
    assert post_on_case(anna, case.id, "status", status="acknowledged", message=edited).status_code == 303
    read = worker_page(app, receipt)
    assert str(escape(edited)) in read, "the worker reads the text as the investigator edited it"
    assert read.count(str(escape(vietnamese))) == 1, "one acknowledgement: the edited one, not the standard as well"
    assert the_case(app).status == "acknowledged"

    # Acknowledged already: the template is a message like any other, in the reply box.
    page = anna.get(f"/inbox/cases/{case.id}?template=standard:acknowledgement").get_data(as_text=True)
    textarea = page.split('id="reply-text"')[1].split("</textarea>")[0]
    assert str(escape(vietnamese)) in textarea, "the Vietnamese text is in the reply box"


@pytest.mark.parametrize("key", list(reply_templates.STANDARD))
def test_every_standard_template_is_offered_and_written_out_for_a_burmese_report(app, client, facility_ids, key):
    send_report(client, facility_ids[0], lang="my")
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert f'value="standard:{key}"' in page
    chosen = anna.get(f"/inbox/cases/{case.id}?template=standard:{key}&outcome=not_substantiated")
    assert chosen.status_code == 200
    text = chosen.get_data(as_text=True)
    assert str(escape(standard(app, key, case, "my", "not_substantiated"))) in text
    assert str(escape(standard(app, key, case, "en", "not_substantiated"))) in text
    assert "%(" not in text.split('id="reply-template"')[1], "every placeholder is filled"


def test_an_unknown_template_draws_the_plain_page(app, client, facility_ids):
    send_report(client, facility_ids[0], lang="vi")
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    for hostile in ("standard:nope", "custom:nope", "../../etc/passwd", "standard:", "%(date)s"):
        page = anna.get(f"/inbox/cases/{case.id}", query_string={"template": hostile, "outcome": "<b>"})
        assert page.status_code == 200
        assert 'id="reply-template"' not in page.get_data(as_text=True)


def test_structured_answers_are_shown_in_the_investigators_language(app, client, facility_ids):
    send_report(client, facility_ids[0], lang="vi", categories=["wages", "child_labour"], ongoing="yes")
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    for msgid in ("Pay, overtime pay or social insurance", "Children working"):
        assert str(escape(msgid)) in page, "the category in English, the investigator's language"
        assert in_language(app, "vi", msgid) not in page, "not in the worker's Vietnamese"
    assert ("Categories, dates and choices are shown in your language; "
            "the worker's own words are as written.") in page


def test_closing_tells_the_worker_the_outcome_in_their_language(app, client, facility_ids):
    receipt, case, _anna = closed_case(app, client, facility_ids, outcome="partly_substantiated")
    assert case.status == "closed" and case.outcome == "partly_substantiated"
    closing = standard(app, "closing", case, "vi", "partly_substantiated")
    outcome = in_language(app, "vi", "We found that part of what you reported is true.")
    assert outcome in closing
    page = worker_page(app, receipt)
    assert str(escape(closing)) in page, "the standard closing message, in the worker's language"
    assert str(escape(in_language(app, "vi", "Your case is closed. If you write to us here, we open it again."))) in page


def test_a_closing_message_chosen_and_edited_is_what_the_worker_reads(app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi"))
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    for status in ("acknowledged", "feedback_given"):
        post_on_case(anna, case.id, "status", status=status)
    page = anna.get(f"/inbox/cases/{case.id}?template=standard:closing&outcome=substantiated").get_data(as_text=True)
    closing = standard(app, "closing", case, "vi", "substantiated")
    status_form = page.split('id="status-change"')[1]
    assert str(escape(closing)) in status_form, "the closing template lands in the status form's message"
    assert '<option selected value="closed">' in status_form or 'value="closed" selected' in status_form
    edited = closing + " Công ty đã trả lại tiền làm thêm giờ."
    assert post_on_case(anna, case.id, "status", status="closed", outcome="substantiated",
                        message=edited).status_code == 303
    read = worker_page(app, receipt)
    assert str(escape(edited)) in read
    assert read.count(str(escape(closing))) == 1, "the edited message only, not the standard one as well"


def test_the_worker_writes_after_closing_and_the_case_opens_again(app, client, facility_ids):
    receipt, case, _anna = closed_case(app, client, facility_ids)
    with app.extensions["portal.sessions"]() as session:
        mails_before = len(session.scalars(select(OutboxEmail)).all())
    assert worker_writes(app, receipt, "Họ lại không trả lương tháng này.").status_code == 303
    reopened = the_case(app)
    assert reopened.status == "investigating" and reopened.closed_on is None and reopened.outcome is None
    with app.extensions["portal.sessions"]() as session:
        mails = session.scalars(select(OutboxEmail)).all()[mails_before:]
    assert {mail.to_address for mail in mails} == {"anna@contractor.example", "binh@contractor.example"}
    assert all("trả lương" not in mail.body for mail in mails), "keyholders are told without content"
    entry = audit_actions(app, "reopen")[-1]
    assert entry.case_id == case.id and json.loads(entry.detail) == {"by": "reporter"}
    page = worker_page(app, receipt)
    assert "Your case is closed" not in page
    assert str(escape(in_language(app, "vi", "Being investigated"))) in page


def test_an_investigator_reopens_a_closed_case_and_it_is_audited(app, client, facility_ids):
    _receipt, case, anna = closed_case(app, client, facility_ids)
    page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert 'id="reopen"' in page
    assert post_on_case(anna, case.id, "reopen").status_code == 303
    reopened = the_case(app)
    assert reopened.status == "investigating" and reopened.closed_on is None
    entry = audit_actions(app, "reopen")[-1]
    assert entry.case_id == case.id and json.loads(entry.detail) == {"by": "handler"}
    assert post_on_case(anna, case.id, "reopen").status_code == 400, "only a closed case opens again"
    assert the_case(app).status == "investigating"


def test_an_administrator_adds_a_template_with_its_english_and_investigators_use_it(app, client, facility_ids):
    root = logged_in_admin(app)
    page = root.get("/admin/reply-templates")
    assert page.status_code == 200
    vietnamese = "Chúng tôi sẽ đến nhà máy trước %(date)s. 100% bí mật."
    refused = root.post("/admin/reply-templates", data={
        "csrf_token": csrf_token(page), "name": "Factory visit", "language": "vi", "text": vietnamese})
    assert refused.status_code == 400, "a template needs its English version"
    assert "English" in refused.get_data(as_text=True)
    saved = root.post("/admin/reply-templates", data={
        "csrf_token": csrf_token(page), "name": "Factory visit", "language": "vi", "text": vietnamese,
        "english": "We will visit the factory by %(date)s. 100% confidential. %(unknown)s stays."})
    assert saved.status_code == 200
    with app.extensions["portal.sessions"]() as session:
        assert {(t.name, t.language) for t in session.scalars(select(ReplyTemplate))} == {
            ("Factory visit", "vi"), ("Factory visit", "en")}
    entry = audit_actions(app, "reply_template_saved")[-1]
    assert json.loads(entry.detail)["name"] == "Factory visit"

    send_report(client, facility_ids[0], lang="vi")
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    assert 'value="custom:Factory visit"' in anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    text = anna.get(f"/inbox/cases/{case.id}?template=custom:Factory visit").get_data(as_text=True)
    day_vi, day_en = long_date(app, case.feedback_due, "vi"), long_date(app, case.feedback_due, "en")
    assert str(escape(f"Chúng tôi sẽ đến nhà máy trước {day_vi}. 100% bí mật.")) in text
    assert str(escape(f"We will visit the factory by {day_en}. 100% confidential. %(unknown)s stays.")) in text


def test_a_custom_template_is_listed_only_for_the_languages_it_exists_in(app, client, facility_ids):
    root = logged_in_admin(app)
    page = root.get("/admin/reply-templates")
    root.post("/admin/reply-templates", data={"csrf_token": csrf_token(page), "name": "Wages check",
                                               "language": "en", "text": "We are checking the pay slips."})
    send_report(client, facility_ids[0], lang="my")
    case = the_case(app)
    anna = app.test_client()
    log_in(anna, "anna")
    assert "custom:Wages check" not in anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    chosen = anna.get(f"/inbox/cases/{case.id}?template=custom:Wages check").get_data(as_text=True)
    assert 'id="reply-template"' not in chosen
    removed = root.post("/admin/reply-templates/remove", data={
        "csrf_token": csrf_token(root.get("/admin/reply-templates")), "name": "Wages check"})
    assert removed.status_code == 303
    assert audit_actions(app, "reply_template_removed")


def test_a_non_administrator_cannot_add_or_remove_a_template(app, client):
    root = logged_in_admin(app)
    page = root.get("/admin/reply-templates")
    root.post("/admin/reply-templates", data={"csrf_token": csrf_token(page), "name": "Kept",
                                               "language": "en", "text": "Kept as written."})
    anna = app.test_client()
    log_in(anna, "anna")
    token = csrf_token(anna.get("/inbox/"))
    assert anna.get("/admin/reply-templates").status_code == 404
    assert anna.post("/admin/reply-templates", data={"csrf_token": token, "name": "Mine", "language": "en",
                                                     "text": "Sneaky."}).status_code == 404
    assert anna.post("/admin/reply-templates/remove", data={"csrf_token": token, "name": "Kept"}).status_code == 404
    assert app.test_client().post("/admin/reply-templates", data={"name": "x"}).status_code in (303, 400)
    with app.extensions["portal.sessions"]() as session:
        assert [t.name for t in session.scalars(select(ReplyTemplate))] == ["Kept"]


@pytest.mark.parametrize("attempt", ["template", "close", "reopen", "message"])
def test_someone_who_does_not_hold_the_case_cannot_use_templates_close_or_reopen_it(
        app, client, facility_ids, colleague, attempt):
    receipt, case, anna = closed_case(app, client, facility_ids) if attempt == "reopen" else (None, None, None)
    if case is None:
        send_report(client, facility_ids[0], lang="vi")
        case = the_case(app)
        anna = app.test_client()
        log_in(anna, "anna")
        for status in ("acknowledged", "feedback_given"):
            post_on_case(anna, case.id, "status", status=status)
    before = the_case(app)
    chandra = app.test_client()
    log_in(chandra, "chandra")
    token = csrf_token(chandra.get("/inbox/"))
    if attempt == "template":
        answer = chandra.get(f"/inbox/cases/{case.id}?template=standard:acknowledgement")
    elif attempt == "close":
        answer = chandra.post(f"/inbox/cases/{case.id}/status", data={
            "csrf_token": token, "status": "closed", "outcome": "not_substantiated", "message": "Closed."})
    elif attempt == "reopen":
        answer = chandra.post(f"/inbox/cases/{case.id}/reopen", data={"csrf_token": token})
    else:
        answer = chandra.post(f"/inbox/cases/{case.id}/messages", data={"csrf_token": token, "text": "Hello"})
    assert answer.status_code == 404
    after = the_case(app)
    assert (after.status, after.closed_on, after.outcome) == (before.status, before.closed_on, before.outcome)
    assert not [e for e in audit_actions(app, "reopen") if e.actor_user_id == colleague[0].id]
