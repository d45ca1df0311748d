"""A worker reads the same safe word for the same promise everywhere.

Each locale's glossary (translations/<locale>/glossary.toml) names, for every
term of translations/glossary_terms.toml, the word chosen (with its accepted
grammatical forms) and the words rejected, with why. Wherever the English says
"anonymous", "retaliation" or "Electronics Watch", the translation must use the
chosen word, or the glossary must say, for that very string, why not.
"""

import re
import tomllib
import unicodedata
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
TERMS = tomllib.loads((TRANSLATIONS / "glossary_terms.toml").read_text(encoding="utf-8"))["terms"]
GLOSSARIES = sorted(path.parent.name for path in TRANSLATIONS.glob("*/glossary.toml"))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _entries(locale):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    for message in catalog:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        yield message.context, english, " ".join(strings)


def _glossary(locale):
    return tomllib.loads((TRANSLATIONS / locale / "glossary.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("locale", GLOSSARIES)
def test_the_glossary_gives_every_term_a_chosen_word_and_says_what_was_rejected(locale):
    glossary = _glossary(locale)
    terms = glossary.get("terms", {})
    problems = [f"the file names locale {glossary.get('locale')!r}"] if glossary.get("locale") != locale else []
    problems += [f"no entry for {key!r}" for key in TERMS if key not in terms]
    problems += [f"{key!r} is not a term of glossary_terms.toml" for key in terms if key not in TERMS]
    for key, entry in terms.items():
        if not entry.get("chosen") or not all(isinstance(word, str) and word.strip() for word in entry["chosen"]):
            problems.append(f"{key!r}: no chosen word")
        for rejected in entry.get("rejected", []):
            if not rejected.get("term") or not rejected.get("why"):
                problems.append(f"{key!r}: a rejected word without the word or the reason: {rejected!r}")
    assert not problems, f"{locale}:\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", GLOSSARIES)
def test_every_translation_uses_the_glossary_word_where_the_english_uses_the_term(locale):
    terms = _glossary(locale)["terms"]
    entries = list(_entries(locale))
    known = {english for _context, english, _string in entries}
    problems = []
    for key, term in TERMS.items():
        pattern = re.compile(term["pattern"], re.IGNORECASE)
        entry = terms.get(key, {})
        chosen = [_fold(word) for word in entry.get("chosen", [])]
        excused = {exception["msgid"]: exception.get("why", "") for exception in entry.get("exceptions", [])}
        for msgid, why in excused.items():
            if not why.strip():
                problems.append(f"{key}: an exception without a reason: {msgid!r}")
            if msgid not in known or not pattern.search(msgid):
                problems.append(f"{key}: an exception for a string that no longer has the term: {msgid!r}")
        for _context, english, string in entries:
            if not pattern.search(english) or english in excused or not string.strip():
                continue
            if not any(word in _fold(string) for word in chosen):
                problems.append(f"{key}: {english!r} -> {string!r}")
    assert not problems, f"{locale}: {len(problems)} strings do not use the glossary's word:\n" + "\n".join(problems)
