"""Words on the report form that a worker could misread, in every language offered.

A back-translation review found that many catalogues call the employer "the company",
so "the company's investigators" read as "my factory's managers get my report"; and the
danger box read as "someone's life is in danger" only. The form names whose investigators
they are, and the danger box says what counts.
"""

import html

from flask_babel import force_locale, gettext
from reporter_pages import open_form

from portal import config, i18n

LANGUAGES = config.DEFAULTS["LANGUAGES"].split(",")


def test_the_default_recipients_are_named_as_the_organisations_investigators(app, client):
    for language in LANGUAGES:
        assert_named(app, client, language)


def assert_named(app, client, language):
    page = html.unescape(open_form(client, i18n.url_code(language)).get_data(as_text=True))
    with app.test_request_context(), force_locale(language):
        named = gettext("Investigators of %(organisation)s, not your factory's managers",
                        organisation="Test contractor")
        old = gettext("The company's investigators")
    assert "Test contractor" in named, f"{language}: the organisation's name is left out"
    assert named in page
    assert old not in page


def test_the_danger_box_says_injury_chemicals_and_threats_count(app, client):
    for language in LANGUAGES:
        assert_danger_box(app, client, language)


def assert_danger_box(app, client, language):
    page = html.unescape(open_form(client, i18n.url_code(language)).get_data(as_text=True))
    with app.test_request_context(), force_locale(language):
        label = gettext("Someone is in danger now: hurt, ill from chemicals, threatened or attacked")
    assert label in page
    if language != "en":
        assert label != "Someone is in danger now: hurt, ill from chemicals, threatened or attacked", \
            f"{language}: the danger box is not translated"
