"""Forms of forwarding in the inbox: choosing what goes to a partner, importing bundles, sending a status back."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, MultipleFileField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..common.fields import CheckboxesField, PortalForm
from ..common.labels import ACTION_STATE_LABELS

REMOTE_STATUS_LABELS = {
    "received": _l("Not acknowledged yet"),
    "acknowledged": _l("Acknowledged"),
    "under_review": _l("Under review"),
    "findings_shared": _l("Findings shared"),
    "closed": _l("Closed"),
}
FORWARD_STATE_LABELS = {
    "pending": _l("Waiting for the partner (delivery is retried)"),
    "delivered": _l("Delivered to the partner"),
    "acknowledged": _l("Acknowledged by the partner"),
}
SCOPE_LABELS = {
    "without_identity": _l("without the reporter's identity"),
    "with_identity": _l("with the reporter's contact details"),
}


class ForwardForm(PortalForm):
    partner = SelectField(_l("Send to"), coerce=int, validators=[InputRequired()])
    report = BooleanField(_l("The report (or the claim)"), default=True)
    messages = CheckboxesField(_l("Messages"), coerce=int, choices=[], validators=[Optional()])
    attachments = CheckboxesField(_l("Files"), coerce=int, choices=[], validators=[Optional()])
    retaliation_record = BooleanField(_l("The retaliation record and remedies"))
    cover_note = TextAreaField(_l("Cover note to the partner"), validators=[Optional(), Length(max=10000)])


class ImportForm(PortalForm):
    bundle = FileField(_l("Bundle file"), validators=[FileRequired(_l("Choose a bundle file."))])


class RemoteStatusForm(PortalForm):
    status = SelectField(_l("Status to send back"), validators=[InputRequired()])


class AnswerWorkerForm(PortalForm):
    text = TextAreaField(_l("Message to the worker"), validators=[InputRequired(), Length(max=10000)])


EXCHANGE_KIND_LABELS = {
    "message": _l("Message"),
    "information_request": _l("Request for information"),
    "visit_request": _l("Request for a site visit"),
    "findings": _l("Findings and corrective action plan"),
    "action_verdict": _l("Verdict on a corrective action"),
}


class ExchangeForm(PortalForm):
    """A message, a request or an answer to the partner on a forwarded case, with documents."""

    kind = SelectField(_l("What you send"), validators=[InputRequired()])
    answers = SelectField(_l("In answer to"), validators=[Optional()])
    text = TextAreaField(_l("Text"), validators=[Optional(), Length(max=10000)])
    dates = TextAreaField(_l("Proposed dates and practical notes (site visit)"), validators=[Optional(),
                                                                                           Length(max=1000)])
    files = MultipleFileField(_l("Documents (photos, PDF files, sound or video)"))


class FindingsExchangeForm(PortalForm):
    """The case's findings and corrective action plan, as they stand, to the partner."""

    answers = SelectField(_l("In answer to"), validators=[Optional()])
    evidence = BooleanField(_l("With the actions' evidence files"))


class ExchangeVerdictForm(PortalForm):
    """Electronics Watch's verdict on an action of the plan the contractor sent."""

    action = HiddenField(validators=[InputRequired(), Length(max=36)])
    verdict = SelectField(_l("Verdict"), choices=[SelectChoice(state, ACTION_STATE_LABELS[state])
                                                  for state in ("verified", "not_done")],
                          validators=[InputRequired()])
    comment = TextAreaField(_l("Comment (keyholders only)"), validators=[Optional(), Length(max=5000)])
