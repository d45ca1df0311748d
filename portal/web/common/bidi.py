"""Text that people typed, shown isolated from the page around it.

A reporter's text may hold Unicode direction controls: a right-to-left override
(U+202E) typed or pasted into a report would otherwise reverse what follows it
on the investigator's page. Each piece is drawn in its own ``<bdi>`` (its own
direction, from its first strong letter), and its controls are balanced first:
a stray U+2069 would close the browser's isolation early, and an unclosed
U+2066 would swallow the isolation's own end. Balancing adds or drops controls
only; every letter stays as it was written.
"""

from markupsafe import Markup, escape

EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")  # LRE, RLE, LRO, RLO: closed by PDF
ISOLATES = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI: closed by PDI
PDF, PDI = "\u202c", "\u2069"
# Where the bidirectional algorithm starts a new paragraph and forgets every open control.
PARAGRAPH_SEPARATORS = frozenset("\n\r\x1c\x1d\x1e\x85\u2029")


def balanced(text: str) -> str:
    """``text`` with every direction control closed within its own line, and no closer of
    something it did not open."""
    out, opened = [], []

    def close(until_isolate: bool) -> None:
        while opened:
            control = opened.pop()
            out.append(PDI if control in ISOLATES else PDF)
            if until_isolate and control in ISOLATES:
                return

    for char in text:
        if char in EMBEDDINGS or char in ISOLATES:
            opened.append(char)
            out.append(char)
        elif char == PDF:
            if opened and opened[-1] in EMBEDDINGS:
                opened.pop()
                out.append(char)
        elif char == PDI:
            if any(control in ISOLATES for control in opened):
                close(until_isolate=True)
        elif char in PARAGRAPH_SEPARATORS:
            close(until_isolate=False)
            out.append(char)
        else:
            out.append(char)
    close(until_isolate=False)
    return "".join(out)


def isolated(text) -> Markup:
    """Someone's text as safe HTML that cannot turn the page around it: ``{{ text | isolated }}``."""
    return Markup("<bdi>%s</bdi>") % escape(balanced(str(text or "")))
