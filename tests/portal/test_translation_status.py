"""How far each translation is checked is written once (translations/status.toml) and said the
same everywhere: in translations/README.md and on the administrators' Languages page."""

import re
from pathlib import Path

from operator_steps import logged_in_admin

from portal.services import translation_status

ROOT = Path(__file__).resolve().parents[2]


def test_every_catalogue_has_a_status_and_the_readme_says_the_same():
    statuses = translation_status.load()
    catalogues = {path.parent.parent.name for path in (ROOT / "translations").glob("*/LC_MESSAGES/messages.po")}
    assert set(statuses) == catalogues
    readme = (ROOT / "translations" / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- status.toml -->\n(.*?)<!-- /status.toml -->", readme, re.S).group(1)
    assert table == translation_status.markdown_table(statuses), "run `portal translations status`"


def test_a_status_outside_the_three_steps_is_refused(tmp_path):
    (tmp_path / "status.toml").write_text('[vi]\nstatus = "reviewed"\n', encoding="utf-8")
    try:
        translation_status.load(tmp_path / "status.toml")
    except ValueError as error:
        assert "draft, machine-reviewed, native-reviewed" in str(error)
    else:
        raise AssertionError("an unknown status was accepted")


def test_an_administrator_sees_how_far_each_language_is_checked(app):
    page = logged_in_admin(app).get("/admin/translations").get_data(as_text=True)
    rows = re.findall(r'<tr data-locale="(\w+)">.*?</tr>', page, re.S)
    assert set(rows) == set(translation_status.load())
    labels = {"draft": "Draft", "machine-reviewed": "Checked by machine", "native-reviewed": "Checked by a native speaker"}
    for locale in ("en", "vi", "my"):
        status = translation_status.load()[locale].level
        assert re.search(rf'data-locale="{locale}">.*?<td data-status="{status}">{labels[status]}</td>', page, re.S)


def test_a_language_said_to_be_reviewed_has_its_review_and_glossary():
    """"Machine-reviewed" is a promise about records: every string a worker reads translated back
    (translations/review/<locale>.csv, which tests/portal/test_translation_review.py holds to the
    catalogue) and the glossary of the safety terms."""
    from pathlib import Path

    translations = Path(__file__).resolve().parents[2] / "translations"
    for locale, status in translation_status.load().items():
        if status.level in ("machine-reviewed", "native-reviewed"):
            assert (translations / "review" / f"{locale}.csv").is_file(), locale
            assert (translations / locale / "glossary.toml").is_file(), locale
