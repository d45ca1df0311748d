"""What every reporter page's layout needs to know."""

from flask import g, request

from ... import i18n
from ...services import instance
from . import inline_style
from .database import db


def language(config) -> str:
    """The page's language: the URL prefix, else the browser's (a page that does not exist,
    /xx/report, is refused in a language the reader reads)."""
    if getattr(g, "language", None) is None:
        first = request.path.strip("/").split("/")[0]
        g.language = i18n.from_url_code(first, config["LANGUAGES"]) or i18n.best_match(
            request.accept_languages, config["LANGUAGES"], config["DEFAULT_LANGUAGE"])
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
        # Read only by the pages that show it: an error page must not need the database.
        "organisation": _ReadWhenShown(lambda: organisation_name(config)),
        "inline_style": inline_style.text(),
    }


class _ReadWhenShown:
    """Plain text (escaped like any string) that is read only if a page prints it."""

    def __init__(self, read):
        self._read = read

    def __str__(self) -> str:
        return self._read()


def organisation_name(config) -> str:
    """The name given to ``portal init`` (PORTAL_ORGANISATION_NAME is only its default there)."""
    try:
        return instance.load(db()).organisation_name
    except instance.NotInitialised:
        return config["ORGANISATION_NAME"]
