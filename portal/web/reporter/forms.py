"""The reporter's forms. Every label and message goes through Flask-Babel."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..common.fields import CheckboxesField, ChooseAtLeastOne, PortalForm, limit_length, readable
from ..common.labels import RETALIATION_LABELS

# The report form is shared with the staff page that enters a report for a worker.
from ..common.report_form import ReportForm


class ReceiptForm(PortalForm):
    receipt = StringField(
        _l("Your receipt (16 digits)"), validators=[InputRequired(_l("Enter your receipt."))]
    )


class ReplyForm(PortalForm):
    message = TextAreaField(_l("Your answer"), validators=[readable])
    photo = MultipleFileField(_l("Take a photo"))
    voice = MultipleFileField(_l("Record a voice note"))
    files = MultipleFileField(_l("Choose photos, voice notes, videos or PDF files"))
    disguise_voice = BooleanField(_l("Change my voice"), default=True)

    def __init__(self, *args, max_text_chars=20000, **kwargs):
        super().__init__(*args, **kwargs)
        limit_length(self.message, max_text_chars)


REMEDY_STATE_LABELS = {
    "proposed": lazy_pgettext("remedy state", "Proposed"),
    "agreed": _l("Agreed"),
    "delivered": _l("Given to you"),
    "confirmed": _l("You said you received it"),
    "disputed": _l("You said you did not receive it"),
}
CLAIM_STATE_LABELS = {
    "received": _l("Received, not yet read"),
    "risk_assessed": _l("We checked the danger to you and decided how to protect you"),
    "investigating": _l("Being investigated"),
    "substantiated": _l("We found that you were harmed because you reported"),
    "not_substantiated": _l("We could not confirm it"),
    "closed": _l("Closed"),
}


class ClaimForm(PortalForm):
    """"Something happened to me because I reported": the retaliation claim."""

    submission = HiddenField()
    types = CheckboxesField(
        _l("What happened to you? Choose one or more."),
        choices=[SelectChoice(code, label) for code, label in RETALIATION_LABELS.items()],
        validators=[ChooseAtLeastOne(_l("Choose at least one."))],
    )
    when = StringField(_l("When did it happen?"),
                       validators=[Optional(), readable, Length(max=300, message=_l("This text is too long."))])
    by_whom = StringField(_l("Who did it? (for example: a supervisor, the agent, the manager)"),
                          validators=[Optional(), readable, Length(max=500, message=_l("This text is too long."))])
    description = TextAreaField(
        _l("What happened? Tell us in your own words."),
        validators=[InputRequired(_l("Please tell us what happened.")), readable],
    )
    about = CheckboxesField(
        _l("Is there someone here who must NOT read this, for example the person who did it? Tick them."),
        coerce=int, choices=[], validators=[Optional()],
    )
    photo = MultipleFileField(_l("Take a photo"))
    voice = MultipleFileField(_l("Record a voice note"))
    files = MultipleFileField(_l("Choose photos, voice notes, videos or PDF files"))
    disguise_voice = BooleanField(_l("Change my voice"), default=True)

    def __init__(self, *args, max_text_chars=20000, **kwargs):
        super().__init__(*args, **kwargs)
        limit_length(self.description, max_text_chars)


class DirectClaimForm(ClaimForm):
    """The same claim from the start page, by a worker who has no receipt."""

    facility = SelectField(_l("Where do you work?"), validators=[InputRequired(_l("Choose your workplace."))])
    facility_other = StringField(
        _l("If your workplace is not in the list, write its name and town"),
        validators=[Optional(), readable, Length(max=500, message=_l("This text is too long."))],
    )
    website = StringField(_l("Leave this empty"))

    validate_website = ReportForm.validate_website
    validate_facility_other = ReportForm.validate_facility_other
