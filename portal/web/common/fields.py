"""Form fields and validators that the pages of several audiences share."""

import functools

from babel import support
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, widgets
from wtforms.validators import Length, ValidationError


def readable(form, field):
    """Text that arrived as invalid UTF-8 was decoded with U+FFFD in its place."""
    if "\ufffd" in (field.data or ""):
        raise ValidationError(_l("Some characters could not be read. Please type the text again."))


def limit_length(field, max_chars: int) -> None:
    """The configured limit of long texts, set when the form is made."""
    field.validators = [*field.validators, Length(max=max_chars, message=_l("This text is too long."))]


class ChooseAtLeastOne:
    """Like InputRequired, without the ``required`` attribute: on checkboxes
    the browser would demand that every box be ticked."""

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        if not field.data:
            raise ValidationError(self.message)


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PortalForm(FlaskForm):
    """Every form of the portal. Ids stay unique on a page, so each label finds its own box:
    the CSRF token has none (a page holds many forms, and one form is often drawn on each
    row), and a form drawn beside another with the same field names sets ``id_prefix``."""

    id_prefix = ""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            if form.id_prefix and "id" not in unbound_field.kwargs:
                options = dict(options, id=f"{form.id_prefix}-{options['name']}")
            field = super().bind_field(form, unbound_field, options)
            if options.get("name") == self.csrf_field_name:
                field.render_kw = {"id": False}
            return field

        def get_translations(self, form):
            # Flask-WTF reads WTForms' catalog from disk for every request that makes a form.
            if not current_app.config.get("WTF_I18N_ENABLED", True) or "babel" not in current_app.extensions:
                return super().get_translations(form)
            return _wtforms_translations(str(get_locale()))


@functools.lru_cache(maxsize=64)
def _wtforms_translations(locale: str):
    """WTForms' own messages in ``locale``: read once per process, the same for everyone."""
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class ConfirmForm(PortalForm):
    """A form with nothing but its CSRF token, for buttons that change state."""


