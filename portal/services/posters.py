"""Posters (A4) and wallet cards (A7) that tell workers about the portal, one of each per language.

Each is a PDF laid out by WeasyPrint, whose text goes through Pango and HarfBuzz: Burmese, Khmer,
Thai, Tamil, Bengali and Devanagari clusters are shaped, Urdu is set right to left in Nastaliq. The
fonts are the system's Noto fonts, embedded (subsets) in the file, and nothing is fetched from
anywhere: the QR code is inline, and any other address in the template stops the rendering.
"""

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import segno
from flask import render_template
from flask_babel import force_locale
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from .. import i18n
from . import audit
from . import instance as instance_service

KINDS = ("poster", "card")
# The type sizes tried, largest first, until the page holds everything: a language that says it
# in few words gets larger type on the notice board.
SCALES = (1.25, 1.0, 0.9, 0.8, 0.7)

# Its steps, logged at INFO for every page, say nothing an operator needs; its warnings stay.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


class UnknownPoster(LookupError):
    """A language the instance does not offer, or a kind that is neither poster nor card."""


@dataclass(frozen=True)
class Printed:
    language: str
    kind: str
    pdf: bytes
    seconds: float
    scale: float  # of the type sizes: below 1 when the words needed smaller type to fit the page

    @property
    def filename(self) -> str:
        return f"{self.kind}-{i18n.url_code(self.language)}.pdf"


def portal_address(config, language: str) -> str:
    """The start page in the language of the poster: the QR code opens it, the worker types it."""
    return f"{config['BASE_URL'].rstrip('/')}/{i18n.url_code(language)}/"


def typed_address(address: str) -> str:
    """The address as a worker types it: an https:// address without its scheme, which any phone
    browser adds (and plain http:// is redirected to it by the site)."""
    return address.removeprefix("https://") if urlsplit(address).scheme == "https" else address


def _isolated(text: str) -> str:
    # Left-to-right inside a sentence of any direction (LRI ... PDI): WeasyPrint ignores CSS
    # unicode-bidi, Pango follows the controls. The settings it wraps hold none of their own.
    return "\u2066" + text + "\u2069"


def _qr_svg(address: str) -> str:
    # Error correction M: a poster pinned to a board gets creased and scribbled on.
    return segno.make_qr(address, error="m", boost_error=False).svg_data_uri(border=2, dark="#000", light="#fff")


def _refuse_everything():
    # Only data: URIs (the QR code). A file:// or http(s):// address in a template is a mistake
    # that must stop the rendering, not send a request or read the server's files.
    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)


def render(config, organisation: str, language: str, kind: str) -> Printed:
    """One PDF, its text in ``language``. Needs the app's context (templates and catalogs)."""
    if language not in config["LANGUAGES"] or kind not in KINDS:
        raise UnknownPoster(language, kind)
    started = time.perf_counter()
    address = portal_address(config, language)
    values = dict(language=language, html_lang=i18n.url_code(language), direction=i18n.direction(language),
                  language_name=i18n.NATIVE_NAMES.get(language, language),
                  organisation=organisation, address=address, typed_address=typed_address(address),
                  qr=_qr_svg(address), onion=config.get("ONION_ADDRESS") or "", sms=config.get("SMS_NUMBER") or "",
                  ack_days=config["ACK_DAYS"], feedback_months=config["FEEDBACK_MONTHS"], isolated=_isolated)
    # A language that says it in more words (or a long organisation name) gets smaller type
    # rather than a second page that nobody pins beside the first.
    for scale in SCALES:
        with force_locale(language):
            html = render_template(f"admin/{kind}.html", scale=scale, **values)
        document = HTML(string=html, url_fetcher=_refuse_everything()).render()
        if len(document.pages) == 1:
            break
    pdf = document.write_pdf()
    return Printed(language, kind, pdf, time.perf_counter() - started, scale)


def download(session, actor, config, language: str, kind: str) -> Printed:
    """What an administrator downloads from the posters page, recorded in the audit trail."""
    printed = render(config, instance_service.load(session).organisation_name, language, kind)
    audit.record(session, "poster_download", actor, detail={"language": language, "kind": kind})
    return printed


def render_all(config, organisation: str, languages=None):
    """Every language's poster and card (or those of ``languages``), one at a time."""
    for language in languages or config["LANGUAGES"]:
        for kind in KINDS:
            yield render(config, organisation, language, kind)
