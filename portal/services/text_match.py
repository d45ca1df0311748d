"""Finding words in what people wrote, in any script.

Text and query are compared after NFKC and case folding (``fold``), so "ＡＢＣ",
"abc" and "ABC" match, and so do a ligature and its letters. Burmese, Khmer,
Thai or Nepali write words without spaces between them: a match is a plain
substring, never a word of a tokeniser that knows only spaces.

A snippet shows the words around the first match as they were written (not
folded), cut at most ``SNIPPET_CHARS`` characters either side.
"""

import unicodedata
from dataclasses import dataclass

SNIPPET_CHARS = 60


def fold(text: str) -> str:
    """The text in the one form matching compares: NFKC, case-folded (Unicode's NFKC_Casefold, nearly)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class Snippet:
    before: str
    match: str
    after: str


def _clusters(text: str):
    """``text`` cut before each character that does not combine with the one before it."""
    start = 0
    for index in range(1, len(text)):
        if not unicodedata.combining(text[index]) and not _joins(text[index]):
            yield start, index
            start = index
    if text:
        yield start, len(text)


def _joins(char: str) -> bool:
    # Vowel signs and viramas of Brahmic scripts (Mc, Mn) have combining class 0 for the most part.
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def snippet(text: str, folded_query: str) -> Snippet | None:
    """The words around the first place ``text`` holds ``folded_query`` (already ``fold``-ed); None if
    it does not hold it.

    Folding can change a text's length ("ß" becomes "ss"), so the match is found
    in the text folded cluster by cluster, and each folded character remembers the
    cluster it came from: the snippet is cut from the text as it was written.
    """
    if not folded_query:
        return None
    folded, origin = [], []
    bounds = list(_clusters(text))
    for number, (start, end) in enumerate(bounds):
        piece = fold(text[start:end])
        folded.append(piece)
        origin.extend([number] * len(piece))
    at = "".join(folded).find(folded_query)
    if at < 0:
        # A match across clusters that fold together only whole (rare): cut from the folded text.
        whole = fold(text)
        at = whole.find(folded_query)
        if at < 0:
            return None
        return _cut(whole, at, at + len(folded_query))
    return _cut(text, bounds[origin[at]][0], bounds[origin[at + len(folded_query) - 1]][1])


def _cut(text: str, first: int, last: int) -> Snippet:
    before = text[max(0, first - SNIPPET_CHARS):first]
    after = text[last:last + SNIPPET_CHARS]
    return Snippet(("…" if first > SNIPPET_CHARS else "") + before, text[first:last],
                   after + ("…" if last + SNIPPET_CHARS < len(text) else ""))
