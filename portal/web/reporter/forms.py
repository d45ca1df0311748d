"""The reporter's forms. Every label and message goes through Flask-Babel."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..common.fields import CheckboxesField, ChooseAtLeastOne, PortalForm, limit_length, readable
from ..common.labels import (
    CATEGORY_LABELS,
    CONSENT_CHOICES,
    ONGOING_CHOICES,
    PEOPLE_CHOICES,
    RECIPIENT_CHOICES,
    RETALIATION_LABELS,
)


class ReportForm(PortalForm):
    submission = HiddenField()
    facility = SelectField(_l("Where do you work?"), validators=[InputRequired(_l("Choose your workplace."))])
    facility_other = StringField(
        _l("If your workplace is not in the list, write its name and town"),
        validators=[Optional(), readable, Length(max=500, message=_l("This text is too long."))],
    )
    categories = CheckboxesField(
        _l("What is it about? Choose one or more."),
        choices=[SelectChoice(code, label) for code, label in CATEGORY_LABELS.items()],
        validators=[ChooseAtLeastOne(_l("Choose at least one."))],
    )
    description = TextAreaField(
        _l("What happened? Tell us in your own words."),
        validators=[InputRequired(_l("Please tell us what happened.")), readable],
    )
    when = StringField(
        _l("When did it happen?"),
        validators=[Optional(), readable, Length(max=300, message=_l("This text is too long."))],
    )
    ongoing = RadioField(_l("Is it still happening?"), choices=ONGOING_CHOICES, default="unknown")
    people_affected = RadioField(
        _l("How many people are affected?"), choices=PEOPLE_CHOICES, default="unknown"
    )
    immediate_danger = BooleanField(_l("Someone is in danger now: hurt, ill from chemicals, threatened or attacked"))
    contact = TextAreaField(
        _l("How can we reach you? (optional: leave empty to stay anonymous)"),
        validators=[Optional(), readable, Length(max=1000, message=_l("This text is too long."))],
    )
    # Nothing that widens who reads the report is chosen for the worker: no default, and a
    # form sent without an answer comes back asking for one.
    consent = RadioField(
        _l("May we share your report with Electronics Watch, the independent monitor?"),
        choices=CONSENT_CHOICES,
        validators=[InputRequired(_l("Choose one answer."))],
    )
    # The company's own investigators are the narrowest choice (the people this portal's
    # organisation names to receive reports): a client that leaves the field out gets them.
    # The page itself preselects nothing wider (see ``pages._report_form``).
    recipient_choice = RadioField(_l("Who should receive your report?"), choices=RECIPIENT_CHOICES,
                                  default="contractor")
    excluded_handlers = CheckboxesField(
        _l("Is there someone here who must NOT read your report? Tick them."), coerce=int, choices=[],
        validators=[Optional()],
    )
    photo = MultipleFileField(_l("Take a photo"))
    voice = MultipleFileField(_l("Record a voice note"))
    files = MultipleFileField(_l("Choose photos, voice notes, videos or PDF files"))
    disguise_voice = BooleanField(_l("Change my voice"), default=True)
    # A field people never see; bots fill it in.
    website = StringField(_l("Leave this empty"))

    def __init__(self, *args, max_text_chars=20000, **kwargs):
        super().__init__(*args, **kwargs)
        limit_length(self.description, max_text_chars)

    def validate_website(self, field):
        if field.data:
            raise ValidationError(_l("Leave this field empty."))

    def validate_facility_other(self, field):
        if self.facility.data == "other" and not (field.data or "").strip():
            raise ValidationError(_l("Write the name of your workplace."))


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
