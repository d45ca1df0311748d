"""Forms of the administrators' pages: accounts, routing, settings and partners."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField
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


# What each audit action is, in words (the codes of services/audit.py ACTIONS).
AUDIT_ACTION_LABELS = {
    "login": _l("Logged in"),
    "login_failed": _l("Failed log-in"),
    "logout": _l("Logged out"),
    "view": _l("Opened the case"),
    "download": _l("Downloaded a file"),
    "preview": _l("Previewed a file"),
    "message": _l("Message sent to the reporter"),
    "note": _l("Internal note or record"),
    "status": _l("Status changed"),
    "handover_add": _l("Keyholder added"),
    "handover_remove": _l("Keyholder removed"),
    "export": _l("Exported"),
    "account_created": _l("Account created"),
    "account_activated": _l("Account activated"),
    "identity_reset": _l("Key reset (lost passphrase)"),
    "readmit": _l("Key re-admitted with the recovery key"),
    "passphrase_changed": _l("Passphrase changed"),
    "disclosure_import": _l("Facility disclosure imported"),
    "partner": _l("Partner registered or changed"),
    "forward": _l("Forwarded to a partner"),
    "bundle_received": _l("Bundle received from a partner"),
    "retention": _l("Deleted at the end of the retention period"),
    "account_deactivated": _l("Account closed"),
    "account_reactivated": _l("Account opened again"),
    "account_changed": _l("Role, e-mail or new cases changed"),
    "escalation_step": _l("Escalation step recorded"),
    "escalation_corrected": _l("Escalation entry corrected"),
    "escalation_due": _l("Escalation due date set"),
}


class AuditFilterForm(PortalForm):
    actor = SelectField(_l("Who"), validators=[Optional()])
    case = StringField(_l("Case reference (e.g. 2026-00042)"), validators=[Optional(), Length(max=20)])
    action = SelectField(_l("What"), validators=[Optional()])
    since = DateField(_l("Since"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])


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
