"""An instance's own words: an administrator overrides one catalogue string in one language.

For a local dialect, or the words a factory's workers use, without editing the catalogues:
the override is shown on every page in that language, the reporter's included. Each change is
a new row (translation_overrides) and an audit entry, with the old and new text.

Every process keeps the overrides in force as a plain mapping, valid for one value of the
highest row id (the generation): a page reads that number once, and reads the rows again only
when another process (of any node) has added one since. No query per string.

An override is plain text. Templates treat a catalogue's translation as trusted markup; an
override is typed by a person, so it is marked to be escaped wherever it is put into a page
(``PlainText.__html__``), while code that formats it as a string gets it unchanged.
"""

import io
import re
import threading
import weakref
from dataclasses import dataclass
from functools import lru_cache

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from markupsafe import escape
from sqlalchemy import func, select

from .. import resources
from ..models import TranslationOverride
from . import admin_changes, clock
from .refusal import Refusal

TEXT_LIMIT = 1000
SEARCH_LIMIT = 50
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
# What a string formatted with ``%`` may contain besides its placeholders.
_FORMATTING = re.compile(r"%\(\w+\)[sd]|%%")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class OverrideError(Refusal):
    """An override that cannot be saved: ``reason`` says why."""


class PlainText(str):
    """An override's text: a page escapes it like anything else a person typed."""

    __slots__ = ()

    def __html__(self):
        return str(escape(str(self)))


@dataclass(frozen=True)
class Entry:
    context: str
    msgid: str
    # The catalogue's translation (the English itself in English or where none is given).
    translation: str
    # The override in force, if any.
    override: str | None = None


def catalog_key(context: str, msgid: str) -> str:
    """The key gettext looks a string up by (``context\\x04msgid`` with a context)."""
    return f"{context}\x04{msgid}" if context else msgid


@lru_cache(maxsize=None)
def catalogue(language: str) -> tuple[Entry, ...]:
    """Every singular string of ``language``'s catalogue, as shipped (read once per process)."""
    path = resources.folder("translations") / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        path = resources.folder("translations") / "messages.pot"
    with path.open("rb") as handle:
        found = read_po(handle, locale=None if path.suffix == ".pot" else language)
    return tuple(Entry(message.context or "", message.id, message.string or message.id)
                 for message in found if message.id and isinstance(message.id, str))


def _entry(language: str, context: str, msgid: str) -> Entry | None:
    return next((entry for entry in catalogue(language) if entry.msgid == msgid and entry.context == context), None)


_GENERATION = select(func.max(TranslationOverride.id))
_ROWS = select(TranslationOverride.id, TranslationOverride.language, TranslationOverride.context,
               TranslationOverride.msgid, TranslationOverride.text).order_by(TranslationOverride.id)
# Per database engine: (generation, {language: {catalog key: PlainText}}).
_kept = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def in_force(session) -> tuple[int, dict]:
    """(generation, language -> {catalog key: text}) of every override in force, this process's copy
    while no process has changed one."""
    # Through the connection: asked for in the middle of a page, it must not flush what the page is writing.
    connection = session.connection()
    generation = connection.execute(_GENERATION).scalar() or 0
    bind = session.get_bind()
    found = _kept.get(bind)
    if found is not None and found[0] == generation:
        return found
    overrides: dict[str, dict[str, str]] = {}
    newest = 0
    for row in connection.execute(_ROWS):
        newest = row.id
        strings = overrides.setdefault(row.language, {})
        key = catalog_key(row.context, row.msgid)
        if row.text is None:
            strings.pop(key, None)
        else:
            strings[key] = PlainText(row.text)
    # Kept under the newest row read, not the number read before: a row added in between is read next time.
    found = (newest, overrides)
    with _lock:
        _kept[bind] = found
    return found


def search(session, language: str, query: str) -> list[Entry]:
    """The strings whose English or translation (or override) contains ``query``, case aside."""
    overrides = in_force(session)[1].get(language, {})
    needle = query.strip().casefold()
    found = []
    for entry in catalogue(language):
        override = overrides.get(catalog_key(entry.context, entry.msgid))
        if needle and not any(needle in text.casefold()
                              for text in (entry.msgid, entry.translation, override or "")):
            continue
        found.append(Entry(entry.context, entry.msgid, entry.translation, override))
        if len(found) >= SEARCH_LIMIT:
            break
    return found


def overridden(session, language: str) -> list[Entry]:
    """Every string of ``language`` with an override in force."""
    overrides = in_force(session)[1].get(language, {})
    return [Entry(entry.context, entry.msgid, entry.translation, overrides[key])
            for entry in catalogue(language) if (key := catalog_key(entry.context, entry.msgid)) in overrides]


def _checked(source: str, text: str) -> str:
    text = text.strip()
    if not text:
        raise OverrideError("empty")
    if len(text) > TEXT_LIMIT:
        raise OverrideError("length", limit=TEXT_LIMIT)
    if _CONTROL.search(text) or ("\n" in text and "\n" not in source):
        raise OverrideError("control")
    wanted = sorted(set(PLACEHOLDER.findall(source)))
    if sorted(set(PLACEHOLDER.findall(text))) != wanted:
        raise OverrideError("placeholders", wanted=" ".join(wanted) or "-")
    # A lone % would break the page that shows it: a template formats every string it shows,
    # placeholders or not (Jinja's newstyle gettext), and a catalogue does not say where a string is shown.
    if "%" in _FORMATTING.sub("", text):
        raise OverrideError("percent")
    return text


def save(session, actor, language: str, context: str, msgid: str, text: str | None, *, languages) -> None:
    """Override ``msgid`` (in ``context``) in ``language`` with ``text``, or clear its override with
    None. Refused with an OverrideError; committed with its audit entry otherwise."""
    if language not in languages:
        raise OverrideError("language")
    entry = _entry(language, context or "", msgid)
    if entry is None:
        raise OverrideError("unknown")
    previous = in_force(session)[1].get(language, {}).get(catalog_key(entry.context, msgid))
    if text is not None:
        text = _checked(msgid, text)
        if text == previous:
            return
    elif previous is None:
        return
    session.add(TranslationOverride(language=language, context=entry.context, msgid=msgid, text=text,
                                    previous=None if previous is None else str(previous),
                                    changed_at=clock.now(), changed_by=getattr(actor, "id", actor)))
    # The trail says the words a reader saw before and sees now, the catalogue's where none was set.
    admin_changes.record(session, actor, "translation_overridden",
                         {"language": language, "context": entry.context, "msgid": msgid,
                          "before": entry.translation if previous is None else str(previous),
                          "after": entry.translation if text is None else text})
    session.commit()


def export_po(session, language: str) -> bytes:
    """The overrides in force in ``language`` as a gettext PO file, for review or import in Weblate."""
    catalog = Catalog(locale=language, project="whistleblower-portal",
                      header_comment="# Overrides of this portal's administrators, to review.")
    for entry in overridden(session, language):
        catalog.add(entry.msgid, str(entry.override), context=entry.context or None,
                    auto_comments=[f"catalogue: {entry.translation}"] if entry.translation != entry.msgid else [])
    output = io.BytesIO()
    write_po(output, catalog, width=100, omit_header=False)
    return output.getvalue()
