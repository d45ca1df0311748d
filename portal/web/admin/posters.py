"""Administrators print posters (A4) and wallet cards (A7) for workers, one of each per language."""

from flask import abort, current_app, g, render_template

from ... import i18n
from ...services import posters
from ..common.access import administrator_only
from ..common.database import db
from ..common.staff import send_download


def add_routes(bp, config):
    @bp.get("/posters")
    @administrator_only
    def posters_page():
        languages = [(i18n.url_code(code), i18n.NATIVE_NAMES.get(code, code)) for code in config["LANGUAGES"]]
        return render_template("admin/posters.html", languages=languages,
                               address=config["BASE_URL"], onion=config["ONION_ADDRESS"], sms=config["SMS_NUMBER"])

    @bp.get("/posters/<any(poster, card):kind>-<code>.pdf")
    @administrator_only
    def poster_file(kind, code):
        language = i18n.from_url_code(code, config["LANGUAGES"])
        if language is None:
            abort(404)
        printed = posters.download(db(), g.user, current_app.config, language, kind)
        return send_download(printed.pdf, "application/pdf", printed.filename.removesuffix(".pdf"), "pdf")
