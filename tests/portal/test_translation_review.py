"""Every string a worker reads was translated back into English by a reviewer
who did not write it, and every difference in meaning was fixed or explained.

The records live in translations/review/<locale>.csv (one row per reporter
string: msgctxt, msgid, msgstr as reviewed, back_translation, verdict, note)
beside translations/review/<locale>.md (the date, who reviewed, what changed).
A translation changed after its review no longer matches its row: the review
of that string must be done again.
"""

import csv
import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("reporter_strings", ROOT / "translations" / "reporter_strings.py")
reporter_strings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reporter_strings)
reporter_messages = reporter_strings.reporter_messages
REVIEW = ROOT / "translations" / "review"
REVIEWED = sorted(path.stem for path in REVIEW.glob("*.csv"))
VERDICTS = {"same", "fixed", "explained"}
PLURAL_SEPARATOR = " | "


def _catalog(locale):
    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _key(context, msgid):
    return (context or "", msgid if isinstance(msgid, str) else msgid[0])


def _translation(catalog, context, msgid):
    message = catalog.get(msgid if isinstance(msgid, str) else msgid[0], context=context)
    if message is None:
        return None
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return PLURAL_SEPARATOR.join(strings)


def test_the_reporter_pages_have_strings_to_review():
    keys = {_key(context, msgid) for context, msgid in reporter_messages()}
    assert ("", "Make a report") in keys and len(keys) > 200


@pytest.mark.parametrize("locale", REVIEWED)
def test_every_reporter_string_was_reviewed_as_it_now_reads(locale):
    catalog = _catalog(locale)
    with (REVIEW / f"{locale}.csv").open(encoding="utf-8", newline="") as handle:
        rows = {(row["msgctxt"], row["msgid"]): row for row in csv.DictReader(handle)}
    problems = []
    for context, msgid in reporter_messages():
        key = _key(context, msgid)
        row = rows.get(key)
        current = _translation(catalog, context, msgid)
        if row is None:
            problems.append(f"not reviewed: {key[1]!r}")
            continue
        if row["msgstr"] != current:
            problems.append(f"changed since its review: {key[1]!r}: reviewed {row['msgstr']!r}, now {current!r}")
        if not row["back_translation"].strip():
            problems.append(f"no back-translation: {key[1]!r}")
        if row["verdict"] not in VERDICTS:
            problems.append(f"verdict {row['verdict']!r} is not one of {sorted(VERDICTS)}: {key[1]!r}")
        elif row["verdict"] != "same" and not row["note"].strip():
            problems.append(f"a {row['verdict']} string without a note saying what and why: {key[1]!r}")
    assert not problems, f"{locale}: {len(problems)} problems\n" + "\n".join(problems[:60])


@pytest.mark.parametrize("locale", REVIEWED)
def test_the_review_says_when_and_what_changed(locale):
    summary = (REVIEW / f"{locale}.md").read_text(encoding="utf-8")
    assert "Date:" in summary and "Changed:" in summary, f"{locale}.md must give the date and what changed"


GLOSSARIES = sorted(path.parent.name for path in (ROOT / "translations").glob("*/glossary.toml"))


@pytest.mark.parametrize("locale", GLOSSARIES)
def test_no_string_a_worker_reads_is_left_in_english(locale):
    """A reporter string whose translation is the English itself is either a word the language
    shares (listed in the glossary's ``same_as_english``) or a string nobody translated."""
    import tomllib

    glossary = tomllib.loads((ROOT / "translations" / locale / "glossary.toml").read_text(encoding="utf-8"))
    shared = set(glossary.get("same_as_english", [])) | {"Electronics Watch"}
    catalog = _catalog(locale)
    left = [key[1] for context, msgid in reporter_messages()
            for key in [_key(context, msgid)]
            if _translation(catalog, context, msgid) == key[1] and key[1] not in shared]
    assert not left, f"{locale}: reporter strings still in English: {left}"


RIGHT_TO_LEFT = [locale for locale in GLOSSARIES if Locale.parse(locale).character_order == "right-to-left"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _sms_messages():
    found = extract_from_file("python", str(ROOT / "portal" / "services" / "sms.py"),
                              keywords=reporter_strings.KEYWORDS)
    return [(context, message) for _line, message, _comments, context in found]


def test_the_texts_sent_by_sms_are_among_the_strings_a_worker_reads():
    assert "ur" in RIGHT_TO_LEFT, "Urdu, the right-to-left language, is checked below"
    keys = {_key(context, msgid) for context, msgid in reporter_messages()}
    assert {_key(context, msgid) for context, msgid in _sms_messages()} <= keys


@pytest.mark.parametrize("locale", RIGHT_TO_LEFT)
def test_a_text_message_in_a_right_to_left_language_reads_right_to_left_on_any_phone(locale):
    """An SMS has no page to say its direction: a phone takes it from the first strong letter.
    A text that would start with a Latin word or a placeholder's Latin value must open with a
    right-to-left mark (U+200F)."""
    catalog = _catalog(locale)
    wrong = []
    for context, msgid in _sms_messages():
        text = _translation(catalog, context, msgid) or ""
        if text.startswith("\u200f"):
            continue
        first = next((unicodedata.bidirectional(char) for char in PLACEHOLDER.sub("", text)
                      if unicodedata.bidirectional(char) in ("L", "R", "AL")), None)
        if first == "L" or PLACEHOLDER.match(text):
            wrong.append(text)
    assert not wrong, f"{locale}: texts that would show left to right: {wrong}"
