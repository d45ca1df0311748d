"""The reporter pages' stylesheet, written into each page instead of linked.

On 2G a linked stylesheet costs a second round trip (800 ms and more) before
the first paint; inline, the page paints from its one response. The text is
static/portal.css itself, so a rule added there reaches every page, and the
Content-Security-Policy allows exactly this text by its hash, nothing else.
"""

import base64
import functools
import hashlib
import re

from markupsafe import Markup

from ... import resources

STYLESHEET = "portal.css"
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


@functools.cache
def _style() -> tuple[Markup, str]:
    text = (resources.folder("static") / STYLESHEET).read_text(encoding="utf-8")
    # Comments are for the people editing the file, not for the worker's data plan.
    text = _COMMENT.sub("", text)
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    if "<" in text:
        # Inside <style> nothing is escaped: "</style>" would end it and start markup.
        raise ValueError(f"{STYLESHEET} holds '<', which cannot be written inside a <style> element")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"'sha256-{digest}'"


def text() -> Markup:
    """The stylesheet to write between <style> and </style>, as it is (it holds no '<')."""
    return _style()[0]


def csp_source() -> str:
    """The style-src source that lets this text, and only it, style a page."""
    return _style()[1]
