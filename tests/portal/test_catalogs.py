"""Every string a person sees is translated: a missing or fuzzy entry fails here."""

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal import config

ROOT = Path(__file__).resolve().parents[2]
# Every language the portal offers by default must be complete.
COMPLETE_LOCALES = config.DEFAULTS["LANGUAGES"].split(",")
# Every catalog on disk, drafts included: none may carry a broken placeholder.
ALL_LOCALES = sorted(path.parent.parent.name for path in (ROOT / "translations").glob("*/LC_MESSAGES/messages.po"))
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def source_messages():
    with open(ROOT / "translations" / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


# The keywords of translations/README.md's extract command: a pgettext string is its own entry,
# found in a catalogue by its context and msgid together.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "lazy_npgettext": ((1, "c"), 2, 3)}
SOURCE_ENTRIES = source_messages()
SOURCE = {msgid for _context, msgid in SOURCE_ENTRIES}


def test_the_source_has_strings_to_translate():
    assert "Make a report" in SOURCE and len(SOURCE) > 100
    assert ("remedy state", "Proposed") in SOURCE_ENTRIES and ("disciplinary action state", "Proposed") in SOURCE_ENTRIES


def test_the_readme_extracts_with_the_keywords_the_suite_checks():
    readme = (ROOT / "translations" / "README.md").read_text(encoding="utf-8")
    for keyword in ("-k _l", "-k lazy_gettext", "-k lazy_ngettext:1,2", "-k pgettext:1c,2", "-k lazy_pgettext:1c,2",
                    "-k npgettext:1c,2,3", "-k lazy_npgettext:1c,2,3"):
        assert keyword in readme, keyword


@pytest.mark.parametrize("locale", COMPLETE_LOCALES)
def test_the_catalog_is_complete_and_its_placeholders_match(locale):
    path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    problems = []
    for context, msgid in sorted(SOURCE_ENTRIES, key=lambda entry: (entry[1], entry[0] or "")):
        message = catalog.get(msgid, context=context)
        if message is None:
            problems.append(f"missing: {msgid!r}" + (f" (context {context!r})" if context else ""))
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"untranslated or fuzzy: {msgid!r}")
        wanted = sorted(set(PLACEHOLDER.findall(" ".join(ids))))
        for string in strings:
            if sorted(set(PLACEHOLDER.findall(string))) != wanted:
                problems.append(f"placeholders differ: {msgid!r} -> {string!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", ALL_LOCALES)
def test_every_translation_keeps_the_placeholders_of_its_source(locale):
    path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = sorted(set(PLACEHOLDER.findall(" ".join(ids))))
        for string in strings:
            if string and sorted(set(PLACEHOLDER.findall(string))) != wanted:
                problems.append(f"{message.id!r} -> {string!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", ALL_LOCALES)
def test_the_catalog_compiles(locale, tmp_path):
    path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    with (tmp_path / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    with (tmp_path / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    if locale in COMPLETE_LOCALES:
        assert compiled.gettext("Make a report") == catalog.get("Make a report").string


@pytest.mark.parametrize("locale", [locale for locale in ALL_LOCALES if locale != "en"])
def test_no_translation_carries_the_english_of_another_string(locale):
    """Two catalogs edited side by side and merged line by line can glue one entry's English to
    another's translation: a worker would read a staff sentence after their own message."""
    path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    sources = [msgid for msgid in SOURCE if len(msgid) > 40]
    problems = [f"{message.id!r} carries {other[:40]!r}"
                for message in catalog if message.id and isinstance(message.string, str)
                for other in sources if other != message.id and other[:40] in message.string]
    assert not problems, "\n".join(problems)


def reply_template_messages():
    """The English of the standard reply templates, their names and the outcome sentences."""
    from portal.services import reply_templates
    lazy = [part for pair in reply_templates.STANDARD.values() for part in pair]
    lazy += list(reply_templates.OUTCOME_SENTENCES.values())
    return [message._args[0] for message in lazy]


@pytest.mark.parametrize("locale", [locale for locale in COMPLETE_LOCALES if locale != "en"])
def test_every_reply_template_is_translated_in_the_workers_language(locale):
    """An investigator answers a worker in the worker's language: a template left in English
    would reach them in a language they may not read."""
    path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    problems = []
    for msgid in reply_template_messages():
        assert msgid in SOURCE, f"not extracted: {msgid!r}"
        message = catalog.get(msgid)
        if message is None or message.fuzzy or not message.string.strip() or message.string == msgid:
            problems.append(f"untranslated: {msgid!r}")
        elif sorted(set(PLACEHOLDER.findall(message.string))) != sorted(set(PLACEHOLDER.findall(msgid))):
            problems.append(f"placeholders differ: {msgid!r} -> {message.string!r}")
    assert not problems, "\n".join(problems)
