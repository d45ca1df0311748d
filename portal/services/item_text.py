"""The words of a case's item, decrypted for a search: what a report or a claim answered in
free text, a message, a note (never a file), as written and folded for matching."""

import json

import crypto

from .text_match import fold

# Items whose text is searched (files are not): JSON answers, or plain UTF-8 text.
ANSWER_KINDS = ("report", "claim")
TEXT_KINDS = ("message", "note")
SEARCHED_KINDS = ANSWER_KINDS + TEXT_KINDS
# The free-text answers of a report or a claim (the rest are codes).
ANSWER_FIELDS = ("description", "when", "contact", "facility_other", "by_whom")


class SamePlaceFirst:
    """An identity that tries first the stanza at the place that opened the item before.

    A case's items are encrypted to its holders in one order, and a user is often
    at the same place in many cases: each stanza tried in vain costs a whole
    ML-KEM and X25519 decapsulation, so this saves one or more per item. Any order
    finds the same file key, and the header's MAC is checked after it, as always.
    """

    def __init__(self, identity):
        self._identity = identity
        self._place = None

    def unwrap(self, stanzas):
        stanzas = list(stanzas)
        places = list(range(len(stanzas)))
        if self._place is not None and self._place < len(stanzas):
            places.remove(self._place)
            places.insert(0, self._place)
        for place in places:
            file_key = self._identity.unwrap([stanzas[place]])
            if file_key is not None:
                self._place = place
                return file_key
        return None


def readable(kind: str, blob: bytes, identity) -> tuple[str, str] | None:
    """The item's searchable text and its folded form; None if the identity cannot open it."""
    try:
        plain = crypto.decrypt(blob, identity).decode("utf-8")
        if kind in ANSWER_KINDS:
            plain = "\n".join(_answers(json.loads(plain)))
    except (crypto.AgeError, ValueError):
        return None
    return plain, fold(plain)


def read_all(identity_text: str, items) -> list:
    """``(item id, readable(...))`` for each ``(item id, kind, blob)``, with the identity given as text
    (what a worker process of ``decryption_pool`` receives)."""
    identity = SamePlaceFirst(crypto.parse_identity(identity_text))
    return [(item_id, readable(kind, blob, identity)) for item_id, kind, blob in items]


def _answers(answers: dict):
    for name in ANSWER_FIELDS:
        value = answers.get(name)
        if isinstance(value, str) and value.strip():
            yield value
    yield from _strings(answers.get("extra"))


def _strings(value):
    if isinstance(value, str):
        if value.strip():
            yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)
