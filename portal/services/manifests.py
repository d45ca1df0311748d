"""The manifest of a partner's bundle, checked field by field before anything of it is filed.

A valid signature says who wrote the manifest, not that it is well formed: a partner's portal that
is broken or taken over signs what it likes. A list where a reference belongs, an id longer than
its column, a character PostgreSQL refuses to store (NUL) or UTF-8 cannot hold (half a surrogate
pair), a facility that is a number: each would fail an insert (an error instead of an answer) or
break the pages that show the manifest. Every field this portal files or shows is held to the
shape its own bundles give it (outbound.store, exchange.send, forwarding.create), and a manifest
that differs is refused whole, ``malformed``, before a row is written.
"""

import uuid
from datetime import date

import crypto

from ..models.case import AUTHORS
from .bundles import BundleError

CONSENT_SCOPES = ("without_identity", "with_identity")
# Who wrote a message: its author here, or the partner's monitor answering our worker (forwarding.answer_worker).
ENTRY_AUTHORS = (None, *AUTHORS, "monitor")
# The lengths a field may have: the column it may reach, or what a page shows of it.
WORD = 40
REFERENCE = 100
NAME = 300
ADDRESS = 10000
LANGUAGE = 16
# An age recipient, a post-quantum one included, is a few kilobytes at most.
RECIPIENT = 8192
MAX_RECIPIENTS = 200

_FACILITY_TEXTS = {"name": NAME, "local_name": NAME, "supplier": NAME, "country": WORD, "reference": REFERENCE,
                   "address": ADDRESS}


def is_bundle_id(value) -> bool:
    """Whether ``value`` is a bundle id as every portal makes it: a UUID, lower-case, with hyphens."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def usable_recipients(recipients) -> bool:
    """Whether ``recipients`` is a list of age recipients this portal can encrypt to."""
    if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_RECIPIENTS:
        return False
    try:
        for recipient in recipients:
            crypto.parse_recipient(recipient)
    except (crypto.AgeError, ValueError, TypeError):
        return False
    return True


def check(manifest: dict, items) -> None:
    """Refuse (``malformed``) a verified manifest, or an item's entry in it, not of the shape
    this portal files and shows."""
    if not _storable(manifest) or not _well_formed(manifest) or not all(_entry_well_formed(i.meta) for i in items):
        raise BundleError("malformed")


def _storable(document) -> bool:
    """Every string, key or value, at any depth, one a database stores: valid UTF-8, without NUL."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                return False
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _well_formed(manifest: dict) -> bool:
    sender, described = manifest.get("sender"), manifest.get("case", {})
    return (is_bundle_id(manifest.get("bundle_id"))
            and isinstance(sender, dict) and _text(sender.get("organisation"), NAME)
            and _text(manifest.get("created_at"), WORD)
            and isinstance(manifest.get("recipients", []), list)
            and all(isinstance(r, str) and len(r) <= RECIPIENT for r in manifest.get("recipients", []))
            and isinstance(described, dict) and _case_well_formed(described)
            and manifest.get("consent_scope") in (None, *CONSENT_SCOPES)
            and isinstance(manifest.get("left_out", {}), dict)
            and all(manifest.get(link) is None or is_bundle_id(manifest[link]) for link in ("reply_to", "addition_to"))
            and ("reply_recipient" not in manifest or usable_recipients([manifest["reply_recipient"]]))
            and ("exchange_recipients" not in manifest or usable_recipients(manifest["exchange_recipients"]))
            and isinstance(manifest.get("exchange", {}), dict))


def _case_well_formed(described: dict) -> bool:
    facility = described.get("facility") or {}
    return (all(_text(described.get(name), REFERENCE) for name in ("reference", "about_reference"))
            and all(_text(described.get(name), WORD) for name in ("kind", "status"))
            and _text(described.get("language"), LANGUAGE)
            and all(_day(described.get(name)) for name in ("received_on", "acknowledge_due", "feedback_due"))
            and all(described.get(name) in (None, True, False) for name in ("urgent", "mandatory_notification"))
            and isinstance(described.get("categories", []), list)
            and all(isinstance(c, str) and len(c) <= WORD for c in described.get("categories", []))
            and isinstance(facility, dict) and facility.get("listed") in (None, True, False)
            and all(_text(facility.get(name), length) for name, length in _FACILITY_TEXTS.items()))


def _entry_well_formed(entry: dict) -> bool:
    return (entry.get("author") in ENTRY_AUTHORS and _day(entry.get("day"))
            and _text(entry.get("describes"), REFERENCE))


def _text(value, length: int) -> bool:
    """Absent, or a string of at most ``length`` characters."""
    return value is None or (isinstance(value, str) and len(value) <= length)


def _day(value) -> bool:
    if value is None:
        return True
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str) and len(value) <= WORD
