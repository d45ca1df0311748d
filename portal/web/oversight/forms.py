"""Forms and labels of the oversight pages: the escalation record."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..common.fields import PortalForm

ESCALATION_LABELS = {
    "breach_indicated": _l("Breach indicated"),
    "cooperation_started": _l("Cooperation started"),
    "statement_requested": _l("Written statement requested (measures and timeframe)"),
    "statement_received": _l("Written statement received"),
    "meeting_held": _l("Meeting with a senior representative held"),
    "remedial_action_required": _l("Remedial action required"),
    "notice_of_default": _l("Notice of default given (Royal Decree on execution, article 44, section 2)"),
    "penalty_applied": _l("Special penalty of EUR 10,000 or ex officio measures applied"),
    "resolved": _l("Resolved"),
}


class EscalationForm(PortalForm):
    step = SelectField(_l("Step"), validators=[InputRequired()])
    happened_on = DateField(_l("Date"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=20000)])
    documents = MultipleFileField(_l("Documents (PDF or photos)"))
    due_on = DateField(_l("Next step due by"), validators=[Optional()])


class CorrectionForm(PortalForm):
    happened_on = DateField(_l("Corrected date"), validators=[Optional()])
    note = TextAreaField(_l("Corrected note"), validators=[Optional(), Length(max=20000)])
    withdrawn = BooleanField(_l("This step did not happen"))


class DueForm(PortalForm):
    due_on = DateField(_l("Next step due by"), validators=[InputRequired()])


class ReferenceForm(PortalForm):
    reference = StringField(_l("Case reference (e.g. 2026-00042)"),
                            validators=[InputRequired(_l("Enter a case reference."))])
