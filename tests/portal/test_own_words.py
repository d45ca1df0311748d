"""An administrator puts their workers' own words in place of a catalogue's, in one language,
without editing the catalogues: on every page in that language, on every node at once, as plain
text, audited, and exported for the translators to review."""

import re

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner
from operator_steps import logged_in_admin
from reporter_pages import csrf_token
from sqlalchemy import event

from portal import cli, create_app

FIND = "/admin/translations?language=vi&q=Make+a+report"


def set_words(admin, msgid, text, language="vi", clear=False, context=""):
    page = admin.get(f"/admin/translations?language={language}")
    fields = {"csrf_token": csrf_token(page), "language": language, "context": context, "msgid": msgid,
              "text": text, "query": ""}
    if clear:
        fields["clear"] = "1"
    return admin.post("/admin/translations", data=fields)


@pytest.fixture
def admin(app):
    return logged_in_admin(app)


def test_the_words_an_administrator_sets_reach_the_worker_on_every_node_at_once(app, app_config, admin):
    other_app = create_app(dict(app_config))
    other_node = other_app.test_client()
    assert "Gửi phản ánh" in other_node.get("/vi/report").get_data(as_text=True)
    # A worker's page asks for one number, not for each of its strings, while nothing changes.
    statements = []

    def count(_connection, _cursor, statement, *_args):
        statements.append(statement)

    engine = other_app.extensions["portal.sessions"].kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    other_node.get("/vi/")
    event.remove(engine, "before_cursor_execute", count)
    assert [s for s in statements if "translation_overrides" in s] == [
        "SELECT max(translation_overrides.id) AS max_1 \nFROM translation_overrides"]
    found = admin.get(FIND).get_data(as_text=True)
    assert 'value="Make a report"' in found and "Gửi phản ánh" in found

    assert set_words(admin, "Make a report", "Báo cáo cho chúng tôi").status_code == 303
    page = other_node.get("/vi/report").get_data(as_text=True)
    assert "<h1>Báo cáo cho chúng tôi</h1>" in page and "<h1>Gửi phản ánh</h1>" not in page
    # Only that language: the English and the Thai pages keep their words.
    assert "<h1>Make a report</h1>" in other_node.get("/en/report").get_data(as_text=True)
    assert "Báo cáo cho chúng tôi" not in other_node.get("/th/report").get_data(as_text=True)
    # Searching by the words now in force finds the string.
    assert 'value="Make a report"' in admin.get("/admin/translations?language=vi&q=cho+ch%C3%BAng").get_data(
        as_text=True)

    trail = admin.get("/admin/audit").get_data(as_text=True)
    assert "Translation changed for this portal" in trail
    assert 'before: &#34;Gửi phản ánh&#34;, after: &#34;Báo cáo cho chúng tôi&#34;' in trail

    assert set_words(admin, "Make a report", "", clear=True).status_code == 303
    assert "<h1>Gửi phản ánh</h1>" in other_node.get("/vi/report").get_data(as_text=True)


def test_words_that_would_break_a_page_are_refused_and_markup_is_shown_as_text(app, admin):
    sent = "\"%(name)s\" could not be sent. Try another file."
    refused = set_words(admin, sent, "Không gửi được tệp. Thử tệp khác.")
    assert refused.status_code == 400
    assert "Keep the placeholders of the original, exactly: %(name)s" in refused.get_data(as_text=True)
    assert set_words(admin, sent, "Không gửi được \"%(name)s\" (100%).").status_code == 400
    assert set_words(admin, "Make a report", "x" * 1001).status_code == 400
    assert set_words(admin, "Not a string of the portal", "Xin chào").status_code == 400
    assert "Your words in force" in (page := admin.get("/admin/translations?language=vi").get_data(as_text=True))
    assert re.search(r"Your words in force</h3>\s*<p>None yet.</p>", page)
    assert set_words(admin, sent, "Không gửi được \"%(name)s\". Thử tệp khác.").status_code == 303

    # Plain text, even if it looks like markup.
    assert set_words(admin, "Make a report", '<script>alert(1)</script><b onclick="x">Báo cáo</b>').status_code == 303
    page = app.test_client().get("/vi/report").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<b onclick" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b onclick=&#34;x&#34;&gt;Báo cáo&lt;/b&gt;" in page

    # The words in force export as a PO file, for the translators to review.
    set_words(admin, "Make a report", "Báo cáo cho chúng tôi")
    download = admin.get("/admin/translations/overrides.po?language=vi")
    assert download.status_code == 200 and "overrides-vi.po" in download.headers["Content-Disposition"]
    catalog = read_po(iter(download.get_data().splitlines(keepends=True)), locale="vi")
    assert catalog.get("Make a report").string == "Báo cáo cho chúng tôi"
    assert len([message for message in catalog if message.id]) == 2
    printed = CliRunner().invoke(cli.main, ["translations", "export-overrides", "--language", "vi"],
                                 env={"PORTAL_DATABASE_URL": app.config["DATABASE_URL"],
                                      "PORTAL_INSTANCE_PATH": app.config["INSTANCE_PATH"]})
    assert printed.exit_code == 0, printed.output
    assert 'msgid "Make a report"\nmsgstr "Báo cáo cho chúng tôi"' in printed.output
    assert "Make a report" not in admin.get("/admin/translations/overrides.po?language=th").get_data(as_text=True)


def test_a_percent_sign_in_words_on_a_page_cannot_break_the_page(app, admin):
    # A page's template formats every string it shows, placeholders or not: a lone % (or a
    # placeholder of another kind) in the words that replace one would stop the worker's page.
    for words in ("Báo cáo 100%", "Báo cáo %(x)i", "Báo cáo %s"):
        refused = set_words(admin, "Make a report", words)
        assert refused.status_code == 400, words
        assert "Write %% for a percent sign in this text." in refused.get_data(as_text=True), words
    assert app.test_client().get("/vi/report").status_code == 200
    assert set_words(admin, "Make a report", "Báo cáo 100%% ẩn danh").status_code == 303
    assert "<h1>Báo cáo 100% ẩn danh</h1>" in app.test_client().get("/vi/report").get_data(as_text=True)


def test_words_that_look_like_a_pages_slot_do_not_take_the_forms_token(app, admin):
    # Pages the same for every worker are kept rendered with a marker where each one's token goes.
    assert set_words(admin, "Make a report", "csrf-token-slot").status_code == 303
    worker = app.test_client()
    for _ in range(2):  # rendered, then from the kept page
        page = worker.get("/vi/report")
        assert "<h1>csrf-token-slot</h1>" in page.get_data(as_text=True)
        assert csrf_token(page) not in ("csrf-token-slot", "")
