"""Find anything: the keyholder's search over the cases they hold (services/case_search.py)."""

import hashlib
import re
import threading
from datetime import date

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ... import i18n
from ...models import Facility
from ...services import case_search, reading_cache
from ..common.access import login_required
from ..common.database import db
from ..common.labels import CATEGORY_LABELS, RETALIATION_LABELS, STATUS_LABELS

# What one process keeps of all its sessions' decrypted text, in characters (a few hundred MB at most).
CACHE_CHARS = 48_000_000
_REFERENCE = re.compile(r"(?:(\d{4})-)?0*(\d{1,9})")
_cache_lock = threading.Lock()


class BadSearch(ValueError):
    """A search the form cannot run; its message says why."""


def _cache() -> reading_cache.ReadingCache:
    extensions = current_app.extensions
    with _cache_lock:
        if "portal.reading_cache" not in extensions:
            config = current_app.config
            extensions["portal.reading_cache"] = reading_cache.ReadingCache(
                idle_seconds=config["USER_SESSION_MINUTES"] * 60,
                lifetime_seconds=config["USER_SESSION_HOURS"] * 3600, max_chars=CACHE_CHARS)
        return extensions["portal.reading_cache"]


def _session_digest() -> bytes | None:
    return hashlib.sha256(session.session_id.encode("ascii")).digest() if session.session_id else None


def forget_searches() -> None:
    """Drop what this web session's searches decrypted (at log-out: before the session ends)."""
    digest = _session_digest()
    if digest is not None and "portal.reading_cache" in current_app.extensions:
        current_app.extensions["portal.reading_cache"].forget(digest)


def _cache_key() -> reading_cache.Key | None:
    digest = _session_digest()
    if digest is None:
        return None
    identity = hashlib.sha256(str(g.identity.recipient).encode("ascii")).digest()
    return reading_cache.Key(digest, g.user.id, identity)


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadSearch(_("Write the dates as year-month-day, for example 2026-03-31.")) from None


def _chosen(value: str, allowed) -> str:
    if value and value not in allowed:
        raise BadSearch(_("Choose from the lists: that value is not one of them."))
    return value


def criteria_of(args, languages, countries) -> case_search.Criteria:
    """The search the form asks for, or ``BadSearch``."""
    case_id = year = facility_id = None
    reference = args.get("reference", "").strip()
    if reference:
        found = _REFERENCE.fullmatch(reference)
        if found is None or found.group(1) == "0000":
            raise BadSearch(_("A case reference looks like 2026-00042."))
        year = int(found.group(1)) if found.group(1) else None
        case_id = int(found.group(2))
    if args.get("facility"):
        if not args["facility"].isdigit() or len(args["facility"]) > 9:
            raise BadSearch(_("Choose from the lists: that value is not one of them."))
        facility_id = int(args["facility"])
    received_from, received_until = _day(args.get("from", "").strip()), _day(args.get("until", "").strip())
    if received_from and received_until and received_from > received_until:
        raise BadSearch(_("The first day comes after the last day: swap them."))
    words = args.get("words", "").strip()
    if len(words) > case_search.MAX_WORDS_CHARS:
        raise BadSearch(_("Search for at most %(count)s characters.", count=case_search.MAX_WORDS_CHARS))
    return case_search.Criteria(
        case_id=case_id, year=year, facility_id=facility_id,
        country=_chosen(args.get("country", ""), countries),
        category=_chosen(args.get("category", ""), dict(CATEGORY_LABELS, **RETALIATION_LABELS)),
        status=_chosen(args.get("status", ""), STATUS_LABELS),
        language=_chosen(args.get("language", ""), languages),
        received_from=received_from, received_until=received_until, words=words,
    )


def add_routes(bp, config):
    @bp.get("/search")
    @login_required
    def search():
        if g.user.role == "authority":
            # The contracting authority holds no case.
            return redirect(url_for("oversight.index"), 303)
        facilities = db().scalars(select(Facility).order_by(Facility.name)).all()
        countries = sorted({facility.country for facility in facilities})
        languages = config["LANGUAGES"]
        page = dict(args=request.args, facilities=facilities, countries=countries, languages=languages,
                    native_names=i18n.NATIVE_NAMES, statuses=list(STATUS_LABELS),
                    categories=list(dict(CATEGORY_LABELS, **RETALIATION_LABELS)), found=None)
        try:
            criteria = criteria_of(request.args, languages, countries)
        except BadSearch as error:
            return render_template("inbox/search.html", error=str(error), **page), 400
        if criteria == case_search.Criteria():
            case_search.prepare(db(), g.user)
        else:
            page["found"] = case_search.find(db(), g.user, g.identity, criteria, _cache(), _cache_key())
        return render_template("inbox/search.html", limit=case_search.RESULT_LIMIT, **page)
