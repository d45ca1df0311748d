"""Forms of the secure inbox: log-in, account, and a case's messages, notes, status and keyholders."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..common.fields import PortalForm

OUTCOME_LABELS = {
    "substantiated": _l("Substantiated"),
    "partly_substantiated": _l("Partly substantiated"),
    "not_substantiated": _l("Not substantiated"),
    "out_of_scope": _l("Out of scope"),
}


class LoginForm(PortalForm):
    username = StringField(_l("Username"), validators=[InputRequired(_l("Enter your username."))])
    passphrase = PasswordField(_l("Passphrase"), validators=[InputRequired(_l("Enter your passphrase."))])
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[InputRequired(_l("Enter the code from your authenticator app."))])


class PassphraseForm(PortalForm):
    passphrase = PasswordField(_l("New passphrase"), validators=[InputRequired(_l("Choose a passphrase."))])
    confirm = PasswordField(_l("The same passphrase again"),
                            validators=[InputRequired(_l("Type the passphrase again."))])


class ChangePassphraseForm(PassphraseForm):
    current = PasswordField(_l("Current passphrase"), validators=[InputRequired(_l("Enter your passphrase."))])


class CurrentPassphraseForm(PortalForm):
    current = PasswordField(_l("Current passphrase"), validators=[InputRequired(_l("Enter your passphrase."))])


class CodeForm(PortalForm):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[InputRequired(_l("Enter the code from your authenticator app."))])


class MessageForm(PortalForm):
    id_prefix = "reply"
    text = TextAreaField(_l("Message to the reporter"),
                         validators=[InputRequired(_l("Write a message.")), Length(max=20000)])


class NoteForm(PortalForm):
    id_prefix = "note"
    text = TextAreaField(_l("Internal note (only keyholders read it)"),
                         validators=[InputRequired(_l("Write a note.")), Length(max=20000)])


class StatusForm(PortalForm):
    status = SelectField(_l("New status"), validators=[InputRequired()])
    outcome = SelectField(
        _l("Outcome (when closing)"),
        choices=[SelectChoice("", "—")] + [SelectChoice(code, label) for code, label in OUTCOME_LABELS.items()],
        validators=[Optional()],
    )
    message = TextAreaField(_l("What the reporter reads (when acknowledging or closing)"),
                            validators=[Optional(), Length(max=20000)])


class KeyholderForm(PortalForm):
    user = SelectField(_l("Colleague"), validators=[InputRequired(_l("Choose a colleague."))])


class LeadForm(PortalForm):
    """Another keyholder leads the case; with a note, it is a hand-over and they are e-mailed."""
    id_prefix = "lead"
    user = SelectField(_l("New lead"), validators=[InputRequired(_l("Choose a colleague."))])
    note = TextAreaField(_l("Hand-over note to the new lead (optional; an internal note only keyholders read)"),
                         validators=[Optional(), Length(max=20000)])


class ReminderSettingsForm(PortalForm):
    id_prefix = "reminders"
    digest = BooleanField(_l("One digest a day instead of one e-mail per reminder"))


class ConflictedKeyForm(PortalForm):
    """Removing a conflicted holder's key from every item of the case: one confirmed action."""
    confirm = BooleanField(_l("Yes, remove this key from every item of the case"),
                           validators=[InputRequired(_l("Tick the box to confirm."))])
