"""Forms of the administrators' pages: accounts, routing, settings and partners."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional

from ...models import ROLES
from ..common.fields import CheckboxesField, PortalForm

ROLE_LABELS = {
    "investigator": _l("Investigator"),
    "retaliation_officer": _l("Retaliation officer"),
    "administrator": _l("Administrator"),
    "monitor": _l("Monitor (Electronics Watch)"),
    "authority": _l("Contracting authority (escalation records and statistics)"),
    "intake_partner": _l("Partner interviewer (enters reports for workers, sees no case)"),
}
class InviteForm(PortalForm):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=80)])
    display_name = StringField(_l("Name shown to colleagues"), validators=[InputRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    email = StringField(_l("E-mail for notifications (optional)"),
                        validators=[Optional(), Email(_l("This is not an e-mail address.")), Length(max=320)])
    default_recipient = BooleanField(_l("Receives new cases"))


class AccountForm(PortalForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    email = StringField(_l("E-mail for notifications (optional)"),
                        validators=[Optional(), Email(_l("This is not an e-mail address.")), Length(max=320)])
    default_recipient = BooleanField(_l("Receives new cases"))


class DeactivateForm(PortalForm):
    confirm = BooleanField(_l("Yes, close this account now"),
                           validators=[InputRequired(_l("Tick the box to confirm."))])


ANY = SelectChoice("", _l("Any"))


class RuleForm(PortalForm):
    rule_id = HiddenField()
    name = StringField(_l("Name of the rule"), validators=[InputRequired(_l("Give the rule a name.")),
                                                          Length(max=200)])
    facility = SelectField(_l("Facility"), validators=[Optional()])
    supplier = SelectField(_l("Supplier"), validators=[Optional()])
    country = SelectField(_l("Country"), validators=[Optional()])
    category = SelectField(_l("Category"), validators=[Optional()])
    language = SelectField(_l("Language"), validators=[Optional()])
    urgent = SelectField(_l("Urgent"), choices=[ANY, SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))],
                         validators=[Optional()])
    recipients = CheckboxesField(_l("Who receives the case"), coerce=int, validators=[Optional()])


class TryForm(PortalForm):
    id_prefix = "try"
    facility = SelectField(_l("Facility"), validators=[Optional()])
    categories = CheckboxesField(_l("Categories"), validators=[Optional()])
    language = SelectField(_l("Language"), validators=[Optional()])
    urgent = BooleanField(_l("Urgent"))
    recipient_choice = SelectField(_l("The reporter's choice of recipients"))
    excluded = CheckboxesField(_l("Handlers the reporter left out"), coerce=int, validators=[Optional()])


class ExclusionForm(PortalForm):
    id_prefix = "exclusion"
    user = SelectField(_l("User"), coerce=int)
    facility = SelectField(_l("Facility"), validators=[Optional()])
    supplier = SelectField(_l("Supplier"), validators=[Optional()])


class SettingsForm(PortalForm):
    recipient_choices = CheckboxesField(_l("Recipient choices offered to reporters"),
                                            validators=[InputRequired(_l("Offer at least one choice."))])
    shown_handlers = CheckboxesField(_l("Handlers a reporter can leave out, by name"), coerce=int,
                                         validators=[Optional()])


class PartnerForm(PortalForm):
    name = StringField(_l("Organisation"), validators=[InputRequired(_l("Enter the partner's name.")),
                                                       Length(max=200)])
    base_url = StringField(_l("Address of its portal (https://…)"),
                           validators=[InputRequired(_l("Enter the partner's address.")), Length(max=500)])
    fingerprint = StringField(_l("Fingerprint of its signing key (checked with the partner by phone or in person)"),
                              validators=[InputRequired(_l("Enter the fingerprint."))])
    token = StringField(_l("API token the partner issued to us"), validators=[Optional(), Length(max=500)])


class ReplyTemplateForm(PortalForm):
    """An administrator's own reply template, in one language (with its English version the first time)."""
    name = StringField(_l("Name of the template"), validators=[InputRequired(_l("Name the template.")),
                                                               Length(max=100)])
    language = SelectField(_l("Language of the text"), validators=[InputRequired()])
    text = TextAreaField(_l("Text of the template"), validators=[InputRequired(_l("Write the text of the template.")),
                                                 Length(max=20000)])
    english = TextAreaField(_l("The same text in English (needed once per template)"),
                            validators=[Optional(), Length(max=20000)])


class RemoveTemplateForm(PortalForm):
    name = HiddenField(validators=[InputRequired()])


class OverrideForm(PortalForm):
    """An administrator's own words for one catalogue string in one language."""
    language = HiddenField(validators=[InputRequired()])
    context = HiddenField()
    msgid = HiddenField(validators=[InputRequired()])
    query = HiddenField()
    text = TextAreaField(_l("Your words"), validators=[Optional(), Length(max=4000)])
