"""Administrators: their own reply templates, listed on case pages beside the standard ones."""

from flask import g, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ... import i18n
from ...services import custom_templates, reply_templates
from ..common.access import administrator_only
from ..common.database import db
from .forms import RemoveTemplateForm, ReplyTemplateForm

ERRORS = {
    "name": lambda: _("Name the template in at most 100 characters."),
    "language": lambda: _("Choose a language the portal offers."),
    "text": lambda: _("Write the text of the template."),
    "english": lambda: _("This template has no English version yet: write it too."),
}


def add_routes(bp, config):
    def page(form, error=None, status=200, saved=False):
        return render_template("admin/reply_templates.html", form=form, remove_form=RemoveTemplateForm(),
                               templates=custom_templates.all_templates(db()), standard=reply_templates.STANDARD,
                               placeholders=reply_templates.PLACEHOLDERS, native_names=i18n.NATIVE_NAMES,
                               error=error, saved=saved), status

    def template_form():
        form = ReplyTemplateForm()
        form.language.choices = [SelectChoice(code, i18n.NATIVE_NAMES.get(code, code)) for code in config["LANGUAGES"]]
        return form

    @bp.get("/reply-templates")
    @administrator_only
    def reply_templates_page():
        return page(template_form())

    @bp.post("/reply-templates")
    @administrator_only
    def save_reply_template():
        form = template_form()
        if not form.validate_on_submit():
            return page(form, _("Name the template, choose its language and write its text."), 400)
        try:
            custom_templates.save(db(), g.user, form.name.data, form.language.data, form.text.data,
                                  form.english.data or "", languages=config["LANGUAGES"])
        except custom_templates.TemplateError as refused:
            db().rollback()
            return page(form, ERRORS[refused.reason](), 400)
        return page(template_form(), saved=True)

    @bp.post("/reply-templates/remove")
    @administrator_only
    def remove_reply_template():
        form = RemoveTemplateForm()
        if not form.validate_on_submit() or not custom_templates.remove(db(), g.user, form.name.data):
            return page(template_form(), _("This template does not exist any more."), 400)
        return redirect(url_for("admin.reply_templates_page"), 303)
