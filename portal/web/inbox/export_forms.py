"""The form that exports a case for a lawyer or a court."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from ..common.fields import PortalForm

RECIPIENT_CHOICES = [SelectChoice("own", _l("My own key")),
                     SelectChoice("other", _l("Another person's age public key"))]


class ExportForm(PortalForm):
    to = RadioField(_l("Encrypt the export to"), choices=RECIPIENT_CHOICES, default="own",
                    validators=[InputRequired()])
    # Checked by the service: an over-long key gets the message of any text that is not a recipient.
    recipient = TextAreaField(_l("Their age public key (age1… or age1pq1…)"))
