"""The strings a worker reads: every msgid of the reporter's pages.

The back-translation review (translations/review/), the glossary check and the
readability check of the English source all work on this one set. It is read
from the source files the reporter's pages are made of, with Babel's own
extractor, so a new string on those pages joins the set by itself.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

ROOT = Path(__file__).resolve().parent.parent

# The reporter's pages, the shared plumbing that speaks to the worker on them
# (fields, upload errors, labels, layout, error pages), the messages staff
# send the worker from templates, the texts of the SMS channel, and the
# posters, wallet cards and receipt slips printed for workers.
REPORTER_SOURCES = (
    "portal/templates/reporter/*.html",
    "portal/web/reporter/*.py",
    "portal/web/common/fields.py",
    "portal/web/common/evidence.py",
    "portal/web/common/labels.py",
    "portal/web/common/layout.py",
    "portal/web/common/errors.py",
    "portal/web/common/uploads.py",
    "portal/services/reply_templates.py",
    "portal/services/sms.py",
    "portal/templates/admin/_printed.html",
    "portal/templates/admin/poster.html",
    "portal/templates/admin/card.html",
    "portal/templates/inbox/slip.html",
)

KEYWORDS = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None, lazy_pgettext=((1, "c"), 2),
                lazy_ngettext=(1, 2))


def reporter_messages() -> list[tuple[str | None, str | tuple[str, ...]]]:
    """(context, msgid) of every reporter string, in a stable order; a plural's msgid is a tuple."""
    found: dict[tuple, None] = {}
    method_map = [(pattern, method) for pattern in REPORTER_SOURCES
                  for method in ("jinja2" if pattern.endswith(".html") else "python",)]
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS,
            options_map={pattern: {} for pattern, _ in method_map}):
        msgid = message if isinstance(message, str) else tuple(m for m in message if m)
        if not msgid:
            continue
        found[(context, msgid)] = None
    return sorted(found, key=lambda key: (key[0] or "", str(key[1])))


def reporter_msgids() -> set[str]:
    """The singular msgids alone (a plural's first form), for checks that read English text."""
    return {msgid if isinstance(msgid, str) else msgid[0] for _context, msgid in reporter_messages()}


def write_review_sheet(locale: str, out) -> int:
    """A review sheet for one locale: every reporter string with its current translation and
    empty back_translation, verdict and note columns, in the form tests/portal/test_translation_review.py reads."""
    import csv

    from babel.messages.pofile import read_po

    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["msgctxt", "msgid", "msgstr", "back_translation", "verdict", "note"])
    rows = 0
    for context, msgid in reporter_messages():
        singular = msgid if isinstance(msgid, str) else msgid[0]
        message = catalog.get(singular, context=context)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,))
        writer.writerow([context or "", singular, " | ".join(strings), "", "", ""])
        rows += 1
    return rows


def refresh_review_sheet(locale: str) -> int:
    """Bring translations/review/<locale>.csv up to the catalogue: rows still true are kept as they
    are, rows of strings no longer on the worker's pages are dropped, and every string new or
    translated anew since its review gets an empty row to review (back_translation, verdict and
    note blank). Returns how many rows wait for review."""
    import csv
    import io

    path = ROOT / "translations" / "review" / f"{locale}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        kept = {(row["msgctxt"], row["msgid"]): row for row in csv.DictReader(handle)}
    fresh = io.StringIO()
    write_review_sheet(locale, fresh)
    fresh.seek(0)
    rows, pending = [], 0
    for row in csv.DictReader(fresh):
        earlier = kept.get((row["msgctxt"], row["msgid"]))
        if earlier is not None and earlier["msgstr"] == row["msgstr"] and earlier["back_translation"].strip():
            rows.append(earlier)
        else:
            rows.append(row)
            pending += 1
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["msgctxt", "msgid", "msgstr", "back_translation", "verdict", "note"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return pending


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--review-sheet":
        write_review_sheet(sys.argv[2], sys.stdout)
    elif len(sys.argv) == 3 and sys.argv[1] == "--refresh-review":
        print(f"{refresh_review_sheet(sys.argv[2])} strings of {sys.argv[2]} wait for review")
    else:
        for context, msgid in reporter_messages():
            print(f"{context or ''}\t{msgid}")
