"""The browser's languages reach the portal's: retired codes that phones still send
(``tl`` for Filipino, ``in`` for Indonesian) included, and a page that does not
exist is refused in a language the reader reads."""

import pytest
from babel.support import Translations

# Phones still send retired language codes: Android and Java report Indonesian as "in",
# older systems Filipino as "tl" (Tagalog, of which Filipino is the standard form).
LEGACY_TAGS = [("tl", "fil"), ("tl-PH", "fil"), ("TL_ph", "fil"), ("fil-PH", "fil"), ("in-ID", "id"),
               ("in", "id"), ("id-ID", "id"), ("de-DE, tl;q=0.8", "fil"), ("xx, in-ID;q=0.5, en;q=0.1", "id")]


@pytest.mark.parametrize(("accept", "language"), LEGACY_TAGS)
def test_a_phone_that_sends_an_old_language_code_reaches_its_language(client, accept, language):
    response = client.get("/", headers={"Accept-Language": accept})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/{language}/"


def test_a_language_the_portal_lacks_is_not_reached_through_an_alias(client):
    # "iw" is Hebrew and "ji" Yiddish: the portal has neither, so English, the default.
    for accept in ("iw-IL", "ji", "jw"):
        assert client.get("/", headers={"Accept-Language": accept}).headers["Location"] == "/en/"


@pytest.mark.parametrize(("accept", "language"), [("vi-VN,vi;q=0.9", "vi"), ("tl-PH", "fil"), ("in-ID", "id"),
                                                 ("ur", "ur"), ("de-DE", "en")])
def test_a_wrong_language_prefix_gets_the_not_found_page_in_the_browsers_language(
        client, compiled_catalogs, accept, language):
    message = Translations.load(str(compiled_catalogs), [language]).gettext("This page does not exist.")
    assert message != "This page does not exist." or language == "en"
    for path in ("/xx/report", "/tl/report", "/zz/follow-up", "/en-XX/"):
        response = client.get(path, headers={"Accept-Language": accept})
        assert response.status_code == 404, path
        page = response.get_data(as_text=True)
        assert message in page, (path, accept)
        assert f'lang="{language.replace("_", "-")}"' in page
