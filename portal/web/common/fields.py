"""Form fields and validators that the pages of several audiences share."""

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


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change state."""


