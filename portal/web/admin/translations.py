"""Administrators: the languages offered, how far each is reviewed, and the instance's own words
(overrides of catalogue strings, for a local dialect or a factory's own words)."""

from flask import Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_pgettext

from ... import i18n
from ...services import translation_overrides, translation_status
from ..common.access import administrator_only
from ..common.database import db
from .forms import OverrideForm

STATUS_LABELS = {
    "draft": lazy_pgettext("translation review", "Draft"),
    "machine-reviewed": lazy_pgettext("translation review", "Checked by machine"),
    "native-reviewed": lazy_pgettext("translation review", "Checked by a native speaker"),
}

ERRORS = {
    "language": lambda details: _("Choose a language the portal offers."),
    "unknown": lambda details: _("This text is not in the catalogue any more."),
    "empty": lambda details: _("Write your words, or clear the override."),
    "length": lambda details: _("Write at most %(limit)s characters.", limit=details["limit"]),
    "control": lambda details: _("Write plain text on one line, as the original is."),
    "placeholders": lambda details: _("Keep the placeholders of the original, exactly: %(wanted)s",
                                      wanted=details["wanted"]),
    "percent": lambda details: _("Write %(sign)s for a percent sign in this text.", sign="%%"),
}


def add_routes(bp, config):
    def chosen_language():
        language = request.values.get("language") or "en"
        return language if language in config["LANGUAGES"] else config["LANGUAGES"][0]

    def page(language, query, error=None, status=200, failed=None):
        found = translation_overrides.search(db(), language, query) if query.strip() else []
        return render_template("admin/translations.html", language=language, query=query, found=found,
                               overridden=translation_overrides.overridden(db(), language),
                               languages=config["LANGUAGES"], native_names=i18n.NATIVE_NAMES,
                               statuses=translation_status.load(), status_labels=STATUS_LABELS, form=OverrideForm(formdata=None),
                               limit=translation_overrides.TEXT_LIMIT, error=error, failed=failed,
                               saved=request.args.get("saved") == "1"), status

    @bp.get("/translations")
    @administrator_only
    def translations_page():
        return page(chosen_language(), request.args.get("q", "")[:200])

    @bp.post("/translations")
    @administrator_only
    def save_override():
        form = OverrideForm()
        language = chosen_language()
        query = (form.query.data or "")[:200]
        if not form.validate_on_submit():
            return page(language, query, _("Write at most %(limit)s characters.",
                                           limit=translation_overrides.TEXT_LIMIT), 400)
        text = None if request.form.get("clear") else (form.text.data or "")
        try:
            translation_overrides.save(db(), g.user, form.language.data, form.context.data or "", form.msgid.data,
                                       text, languages=config["LANGUAGES"])
        except translation_overrides.OverrideError as refused:
            db().rollback()
            return page(language, query, ERRORS[refused.reason](refused.details), 400,
                        failed=(form.context.data or "", form.msgid.data, form.text.data or ""))
        return redirect(url_for("admin.translations_page", language=language, q=query, saved=1), 303)

    @bp.get("/translations/overrides.po")
    @administrator_only
    def overrides_po():
        language = chosen_language()
        return Response(translation_overrides.export_po(db(), language), mimetype="text/x-gettext-translation",
                        headers={"Content-Disposition": f'attachment; filename="overrides-{language}.po"'})
