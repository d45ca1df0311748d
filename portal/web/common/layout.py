"""What every reporter page's layout needs to know."""

from flask import g, request

from ... import i18n
from . import inline_style


def language(config) -> str:
    """The page's language: the URL prefix, else the default."""
    if getattr(g, "language", None) is None:
        first = request.path.strip("/").split("/")[0]
        g.language = i18n.from_url_code(first, config["LANGUAGES"]) or config["DEFAULT_LANGUAGE"]
    return g.language


def _same_page_in(code: str, current_code: str) -> str:
    prefix = f"/{current_code}/"
    if request.method == "GET" and request.path.startswith(prefix):
        return f"/{code}/" + request.path[len(prefix):]
    return f"/{code}/"


def context(config) -> dict:
    current = language(config)
    current_code = i18n.url_code(current)
    return {
        "language": current,
        "direction": i18n.direction(current),
        "html_lang": current_code,
        "languages": [
            (i18n.url_code(c), i18n.NATIVE_NAMES.get(c, c), _same_page_in(i18n.url_code(c), current_code))
            for c in config["LANGUAGES"]
        ],
        "quick_exit_url": config["QUICK_EXIT_URL"],
        "organisation": config["ORGANISATION_NAME"],
        "inline_style": inline_style.text(),
    }
