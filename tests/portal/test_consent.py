"""Consent is asked, not assumed: nothing that widens who reads a report is chosen
for the worker. A worker who leaves the sharing question unanswered gets the form
back in their language with everything they wrote; forced and child labour still
reach Electronics Watch, and the form says so before the worker sends.

"Widens" here: every answer that lets more people read the report than the
narrowest one. For sharing, "No" is the narrowest, and nothing is preselected at
all. For recipients, the company's own investigators (the people this portal's
organisation names to receive reports) are the narrowest: "Both" adds the
monitor, and "Only Electronics Watch" sends the report to another organisation's
instance; so only the company's investigators may be preselected, or a choice
that is the only one offered.
"""

from html.parser import HTMLParser

import pytest
from babel.support import Translations
from inbox_pages import log_in
from operator_steps import make_admin
from reporter_pages import csrf_token, draft_id, open_form, report_fields, send_report
from sqlalchemy import func, select

from portal.models import Case
from portal.services import routing, users

# Pre-selected answers that widen nobody's reading: "don't know", and the voice change, which only
# takes from what a listener learns (on by default, as issue 14 asks).
NARROWEST_DEFAULTS = {("ongoing", "unknown"), ("people_affected", "unknown"), ("disguise_voice", "y")}


class CheckedInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.checked, self.offered = set(), {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") in ("radio", "checkbox"):
            self.offered.setdefault(attributes["name"], []).append(attributes["value"])
            if "checked" in attributes:
                self.checked.add((attributes["name"], attributes["value"]))


def checked_on(response) -> CheckedInputs:
    parser = CheckedInputs()
    parser.feed(response.get_data(as_text=True))
    return parser


def gettext_for(compiled_catalogs, language):
    return Translations.load(str(compiled_catalogs), [language]).gettext


def count_cases(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Case))


@pytest.mark.parametrize("offered", ["contractor,monitor,both", "monitor,both", "both", "contractor,both",
                                     "monitor"])
def test_the_blank_form_chooses_nothing_that_widens_who_reads_the_report(app, client, offered):
    admin = app.test_client()
    make_admin(app)
    # A monitor account, so that every choice has someone who can receive it and is offered.
    with app.extensions["portal.sessions"]() as session:
        users.create(session, "max", "Max", "monitor", "max correct horse battery staple", work_factor=10)
    log_in(admin, "root")
    settings = admin.get("/admin/settings")
    saved = admin.post("/admin/settings", data={"csrf_token": csrf_token(settings),
                                                "recipient_choices": offered.split(",")})
    assert saved.status_code == 200
    form = checked_on(open_form(client))
    recipients = form.offered.get("recipient_choice", [])
    assert recipients, "no recipient choice is offered"
    if "contractor" in recipients:
        allowed = {("recipient_choice", "contractor")}
    elif len(recipients) == 1:
        allowed = {("recipient_choice", recipients[0])}  # a lone choice is no choice
    else:
        allowed = set()
    assert form.checked - NARROWEST_DEFAULTS == allowed
    assert not any(name == "consent" for name, _value in form.checked)


@pytest.mark.parametrize("language", ["en", "vi", "ur", "fil"])
def test_a_worker_who_does_not_answer_the_sharing_question_gets_everything_back_and_is_asked(
        app, client, facility_ids, compiled_catalogs, language):
    _ = gettext_for(compiled_catalogs, language)
    form = open_form(client, language)
    written = report_fields("other", categories=["wages", "health_safety"], ongoing="no",
                            people_affected="few", immediate_danger="y", facility_other="Xưởng Quế Võ, lô 7",
                            description="Fire exit locked\nsince Monday", when="Since 3 November",
                            contact="Signal +84 912 000 111")
    for missing in ("absent", "empty", "not a choice"):
        data = dict(written, csrf_token=csrf_token(form), submission=draft_id(form))
        if missing == "absent":
            del data["consent"]
        else:
            data["consent"] = "" if missing == "empty" else "everyone"
        again = client.post(f"/{language}/report", data=data)
        assert again.status_code == 400, missing
        page = again.get_data(as_text=True)
        if missing != "not a choice":
            assert _("Choose one answer.") in page, missing
            assert _("Choose one answer.") != "Choose one answer." or language == "en"
        for kept in ("Xưởng Quế Võ, lô 7", "Fire exit locked\nsince Monday", "Since 3 November",
                     "Signal +84 912 000 111"):
            assert kept in page, (missing, kept)
        refilled = checked_on(again)
        assert {("categories", "wages"), ("categories", "health_safety"), ("ongoing", "no"),
                ("people_affected", "few"), ("immediate_danger", "y")} <= refilled.checked
        assert not any(name == "consent" for name, _value in refilled.checked)
    assert count_cases(app) == 0


def test_the_form_tells_the_worker_before_sending_that_forced_and_child_labour_always_reach_the_monitor(
        app, client, facility_ids, compiled_catalogs):
    for language in ("en", "vi", "my", "ur"):
        _ = gettext_for(compiled_catalogs, language)
        page = open_form(client, language).get_data(as_text=True)
        notice = _("If your report is about forced work or children working, we must always tell Electronics "
                   "Watch, even if you answer No. We do not give them your name or contact details unless you "
                   "answer Yes with your contact details.")
        assert notice in page, language
        assert page.index(notice) < page.index('name="consent"') < page.index('type="submit"')
    # ... and the override still holds: a worker who answers No is still notified about.
    for category in sorted(routing.MANDATORY_CATEGORIES):
        assert send_report(app.test_client(), facility_ids[0], categories=[category],
                           consent="none").status_code == 200
    with app.extensions["portal.sessions"]() as session:
        assert [case.mandatory_notification for case in session.scalars(select(Case))] == [True, True]
