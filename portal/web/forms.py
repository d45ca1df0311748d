"""The reporter's forms. Every label and message goes through Flask-Babel."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

CATEGORY_LABELS = {
    "forced_labour": _l("Forced work, or you cannot leave the job"),
    "recruitment_fees": _l("Fees paid to get the job, or debt to an agent"),
    "child_labour": _l("Children working"),
    "wages": _l("Pay, overtime pay or social insurance"),
    "working_hours": _l("Too many working hours, or no day off"),
    "health_safety": _l("Health and safety: danger, injuries, chemicals"),
    "freedom_of_association": _l("Joining a union or speaking up together"),
    "discrimination": _l("Unfair treatment (discrimination)"),
    "harassment": _l("Violence, threats or harassment"),
    "contracts_dismissal": _l("Contracts, dismissal or documents kept from you"),
    "environment": _l("Pollution or harm to the environment"),
    "other": _l("Something else"),
}

ONGOING_CHOICES = [
    SelectChoice("yes", _l("Yes")),
    SelectChoice("no", _l("No")),
    SelectChoice("unknown", _l("I don't know")),
]
PEOPLE_CHOICES = [
    SelectChoice("one", _l("Only me")),
    SelectChoice("few", _l("A few people")),
    SelectChoice("many", _l("Many people")),
    SelectChoice("unknown", _l("I don't know")),
]
RECIPIENT_CHOICES = [
    SelectChoice("contractor", _l("The company's investigators")),
    SelectChoice("monitor", _l("Only Electronics Watch, the independent monitor")),
    SelectChoice("both", _l("Both")),
]
CONSENT_CHOICES = [
    SelectChoice("none", _l("No, only the people named above")),
    SelectChoice("without_identity", _l("Yes, but without my name or contact details")),
    SelectChoice("with_identity", _l("Yes, with my contact details")),
]


def readable(form, field):
    """Text that arrived as invalid UTF-8 was decoded with U+FFFD in its place."""
    if "\ufffd" in (field.data or ""):
        raise ValidationError(_l("Some characters could not be read. Please type the text again."))


def _limit_length(field, max_chars: int) -> None:
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


class ReportForm(FlaskForm):
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
    immediate_danger = BooleanField(_l("Someone is in danger now"))
    contact = TextAreaField(
        _l("How can we reach you? (optional: leave empty to stay anonymous)"),
        validators=[Optional(), readable, Length(max=1000, message=_l("This text is too long."))],
    )
    consent = RadioField(
        _l("May we share your report with Electronics Watch, the independent monitor?"),
        choices=CONSENT_CHOICES,
        default="without_identity",
    )
    recipient_choice = RadioField(_l("Who should receive your report?"), choices=RECIPIENT_CHOICES,
                                  default="contractor")
    excluded_handlers = CheckboxesField(
        _l("Is there someone here who must NOT read your report? Tick them."), coerce=int, choices=[],
        validators=[Optional()],
    )
    photo = MultipleFileField(_l("Take a photo"))
    voice = MultipleFileField(_l("Record a voice note"))
    files = MultipleFileField(_l("Choose photos, voice notes or PDF files"))
    # A field people never see; bots fill it in.
    website = StringField(_l("Leave this empty"))

    def __init__(self, *args, max_text_chars=20000, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_length(self.description, max_text_chars)

    def validate_website(self, field):
        if field.data:
            raise ValidationError(_l("Leave this field empty."))

    def validate_facility_other(self, field):
        if self.facility.data == "other" and not (field.data or "").strip():
            raise ValidationError(_l("Write the name of your workplace."))


class ReceiptForm(FlaskForm):
    receipt = StringField(
        _l("Your receipt (16 digits)"), validators=[InputRequired(_l("Enter your receipt."))]
    )


class ReplyForm(FlaskForm):
    message = TextAreaField(_l("Your answer"), validators=[readable])
    photo = MultipleFileField(_l("Take a photo"))
    voice = MultipleFileField(_l("Record a voice note"))
    files = MultipleFileField(_l("Choose photos, voice notes or PDF files"))

    def __init__(self, *args, max_text_chars=20000, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_length(self.message, max_text_chars)


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change state."""


# Article 19 of EU Directive 2019/1937, in plain words.
RETALIATION_LABELS = {
    "dismissal": _l("Suspended or dismissed (fired)"),
    "demotion": _l("Moved to a lower job, or a promotion held back"),
    "transfer_pay_hours": _l("Moved to other work or another place, pay cut, or working hours changed"),
    "withheld_training": _l("Training taken away"),
    "negative_appraisal": _l("A bad review of my work, or a bad reference"),
    "disciplinary_measure": _l("Punished, or made to pay a fine"),
    "coercion_harassment": _l("Pressure, intimidation, bullying, or being left out by others"),
    "discrimination": _l("Unfair treatment (discrimination)"),
    "contract_not_renewed": _l("A temporary contract not made permanent, or not renewed"),
    "harm_financial_loss": _l("Harm to me or my name, or money lost"),
    "blacklisting": _l("Put on a blacklist, so I cannot find work"),
    "early_termination": _l("A contract for goods or services ended early"),
    "licence_cancelled": _l("A licence or permit cancelled (for example a work permit)"),
    "medical_referral": _l("Sent to a doctor or psychiatrist against my will"),
    "threats": _l("Threats or attempts to do any of these"),
}
REMEDY_LABELS = {
    "reinstatement": _l("Getting your job back"),
    "back_pay": _l("Pay you are owed (back pay)"),
    "compensation": _l("Compensation"),
    "restored_position_hours_contract": _l("Your position, hours or contract given back"),
    "apology": _l("An apology"),
    "medical_psychological_support": _l("Medical or psychological help"),
    "legal_costs": _l("Your legal costs paid"),
    "other": _l("Something else"),
}
REMEDY_STATE_LABELS = {
    "proposed": _l("Proposed"),
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


class ClaimForm(FlaskForm):
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
        _l("Is this about someone who handles your report? Tick them: they will not read this."),
        coerce=int, choices=[], validators=[Optional()],
    )
    photo = MultipleFileField(_l("Take a photo"))
    voice = MultipleFileField(_l("Record a voice note"))
    files = MultipleFileField(_l("Choose photos, voice notes or PDF files"))

    def __init__(self, *args, max_text_chars=20000, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_length(self.description, max_text_chars)


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
