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
from pathlib import Path

import pytest
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
