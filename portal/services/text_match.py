"""Finding words in what people wrote, in any script.

Text and query are compared after NFKC and case folding (``fold``), so "ＡＢＣ",
"abc" and "ABC" match, and so do a ligature and its letters; zero-width joiners
and other invisible characters, typed by some keyboards only, are ignored. Burmese, Khmer,
Thai or Nepali write words without spaces between them: a match is a plain
substring, never a word of a tokeniser that knows only spaces.

A snippet shows the words around the first match as they were written (not
folded), at most ``SNIPPET_CHARS`` characters either side.
"""

import unicodedata
from dataclasses import dataclass

SNIPPET_CHARS = 60


# Invisible characters that one keyboard types and another does not (soft hyphen, zero-width
# space, joiners, word joiner, byte-order mark): ignored, as NFKC_Casefold ignores them.
_INVISIBLE = str.maketrans("", "", "\u00ad\u200b\u200c\u200d\u2060\ufeff")


def fold(text: str) -> str:
    """The text in the one form matching compares: NFKC, case-folded, without invisible characters
    (Unicode's NFKC_Casefold, nearly)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).translate(_INVISIBLE)


@dataclass(frozen=True)
class Snippet:
    before: str
    match: str
    after: str


def _joins(char: str) -> bool:
    """A mark that belongs to the character before it (accents, Brahmic vowel signs and viramas)."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def _forward(text: str, index: int) -> int:
    while index < len(text) and _joins(text[index]):
        index += 1
    return index


def _backward(text: str, index: int) -> int:
    while index > 0 and index < len(text) and _joins(text[index]):
        index -= 1
    return index


def snippet(text: str, folded_query: str) -> Snippet | None:
    """The words around the first place ``text`` holds ``folded_query`` (already ``fold``-ed); None if
    it does not hold it.

    Folding can change a text's length ("ß" becomes "ss"), so the match is
    located in the text as written: the shortest beginning of the text whose
    folded form holds the query ends with the match, and the match starts where
    the longest ending of that beginning still holds it. Both are found by
    halving (a few folds of the text, in C, rather than a Python step per
    character), never cutting a letter from its marks.
    """
    if not folded_query:
        return None
    folded = fold(text)
    if folded_query not in folded:
        return None
    low, high = 0, len(text)
    while low < high:
        middle = (low + high) // 2
        if folded_query in fold(text[:_forward(text, middle)]):
            high = middle
        else:
            low = middle + 1
    last = _forward(text, low)
    low, high = 0, last
    while low < high:
        middle = (low + high + 1) // 2
        if folded_query in fold(text[_backward(text, middle):last]):
            low = middle
        else:
            high = middle - 1
    first = _backward(text, low)
    if folded_query not in fold(text[first:last]):
        # Folding that joins across the cut (rare): show the folded text instead.
        at = folded.find(folded_query)
        return _cut(folded, at, at + len(folded_query))
    return _cut(text, first, last)


def _cut(text: str, first: int, last: int) -> Snippet:
    before = text[max(0, first - SNIPPET_CHARS):first]
    after = text[last:last + SNIPPET_CHARS]
    return Snippet(("…" if first > SNIPPET_CHARS else "") + before, text[first:last],
                   after + ("…" if last + SNIPPET_CHARS < len(text) else ""))
