"""Forms of the secure inbox and the admin pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional

from ..models import ROLES
from .forms import CheckboxesField

ROLE_LABELS = {
    "investigator": _l("Investigator"),
    "retaliation_officer": _l("Retaliation officer"),
    "administrator": _l("Administrator"),
    "monitor": _l("Monitor (Electronics Watch)"),
    "authority": _l("Contracting authority (escalation records and statistics)"),
}
OUTCOME_LABELS = {
    "substantiated": _l("Substantiated"),
    "partly_substantiated": _l("Partly substantiated"),
    "not_substantiated": _l("Not substantiated"),
    "out_of_scope": _l("Out of scope"),
}


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[InputRequired(_l("Enter your username."))])
    passphrase = PasswordField(_l("Passphrase"), validators=[InputRequired(_l("Enter your passphrase."))])
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[InputRequired(_l("Enter the code from your authenticator app."))])


class PassphraseForm(FlaskForm):
    passphrase = PasswordField(_l("New passphrase"), validators=[InputRequired(_l("Choose a passphrase."))])
    confirm = PasswordField(_l("The same passphrase again"),
                            validators=[InputRequired(_l("Type the passphrase again."))])


class ChangePassphraseForm(PassphraseForm):
    current = PasswordField(_l("Current passphrase"), validators=[InputRequired(_l("Enter your passphrase."))])


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[InputRequired(_l("Enter the code from your authenticator app."))])


class MessageForm(FlaskForm):
    text = TextAreaField(_l("Message to the reporter"),
                         validators=[InputRequired(_l("Write a message.")), Length(max=20000)])


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Internal note (only keyholders read it)"),
                         validators=[InputRequired(_l("Write a note.")), Length(max=20000)])


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), validators=[InputRequired()])
    outcome = SelectField(
        _l("Outcome (when closing)"),
        choices=[SelectChoice("", "—")] + [SelectChoice(code, label) for code, label in OUTCOME_LABELS.items()],
        validators=[Optional()],
    )


class KeyholderForm(FlaskForm):
    user = SelectField(_l("Colleague"), validators=[InputRequired(_l("Choose a colleague."))])


class InviteForm(FlaskForm):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=80)])
    display_name = StringField(_l("Name shown to colleagues"), validators=[InputRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    email = StringField(_l("E-mail for notifications (optional)"),
                        validators=[Optional(), Email(_l("This is not an e-mail address.")), Length(max=320)])
    default_recipient = BooleanField(_l("Receives new cases"))


ANY = SelectChoice("", _l("Any"))


class RuleForm(FlaskForm):
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


class TryForm(FlaskForm):
    facility = SelectField(_l("Facility"), validators=[Optional()])
    categories = CheckboxesField(_l("Categories"), validators=[Optional()])
    language = SelectField(_l("Language"), validators=[Optional()])
    urgent = BooleanField(_l("Urgent"))
    recipient_choice = SelectField(_l("The reporter's choice of recipients"))
    excluded = CheckboxesField(_l("Handlers the reporter left out"), coerce=int, validators=[Optional()])


class ExclusionForm(FlaskForm):
    user = SelectField(_l("User"), coerce=int)
    facility = SelectField(_l("Facility"), validators=[Optional()])
    supplier = SelectField(_l("Supplier"), validators=[Optional()])


class SettingsForm(FlaskForm):
    recipient_choices = CheckboxesField(_l("Recipient choices offered to reporters"),
                                            validators=[InputRequired(_l("Offer at least one choice."))])
    shown_handlers = CheckboxesField(_l("Handlers a reporter can leave out, by name"), coerce=int,
                                         validators=[Optional()])
