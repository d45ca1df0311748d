"""The report form, shared by the worker's own page and the staff page that enters a report for
a worker: the same questions, the same checks, and one way from a form to an intake report."""

import functools

from babel import Locale
from flask import g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import select
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

from ...models import Facility
from ...services import intake, typed_text
from . import layout
from .database import db
from .fields import CheckboxesField, ChooseAtLeastOne, PortalForm, limit_length, readable
from .labels import (
    CATEGORY_LABELS,
    CONSENT_CHOICES,
    ONGOING_CHOICES,
    PEOPLE_CHOICES,
    RECIPIENT_CHOICES,
    contractor_choice,
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


def form_choices(config):
    """This instance's workplaces, recipient choices and handlers a reporter may leave out."""
    offered = intake.offered_choices(db())
    return (
        facility_choices(),
        [contractor_choice(layout.organisation_name(config)) if c.value == "contractor" else c
         for c in RECIPIENT_CHOICES if c.value in offered],
        [SelectChoice(user.id, user.display_name) for user in intake.handlers_shown_to_reporters(db())],
    )


def facility_choices():
    """The active workplaces grouped by country (in the page's language), then "not in the list"."""
    country_names = _territory_names(g.language)
    choices = [
        SelectChoice(str(facility.id), facility.local_name,
                     optgroup=country_names.get(facility.country, facility.country))
        for facility in db().scalars(select(Facility).where(Facility.active.is_(True)))
    ]
    choices.sort(key=lambda choice: (choice.optgroup, choice.label))
    choices.insert(0, SelectChoice("", _("Choose your workplace")))
    choices.append(SelectChoice("other", _("My workplace is not in the list"), optgroup=pgettext("workplace list", "Other")))
    return choices


def report_of(form: ReportForm, language: str, extra: dict | None = None) -> intake.Report:
    """The intake report a validated form stands for, in the worker's ``language``."""
    facility = form.facility.data
    return intake.Report(
        language=language,
        categories=form.categories.data,
        description=typed_text.reporter_text(form.description.data),
        facility_id=None if facility == "other" else int(facility),
        facility_other=typed_text.reporter_text(form.facility_other.data),
        when=typed_text.reporter_text(form.when.data),
        ongoing=form.ongoing.data,
        people_affected=form.people_affected.data,
        immediate_danger=form.immediate_danger.data,
        contact=typed_text.reporter_text(form.contact.data),
        consent=form.consent.data,
        recipient_choice=form.recipient_choice.data,
        excluded_handlers=list(form.excluded_handlers.data or []),
        extra=dict(extra or {}),
    )


@functools.lru_cache(maxsize=64)
def _territory_names(language: str) -> dict:
    return dict(Locale.parse(language).territories)
