"""Forms and labels of the retaliation officers' pages of a claim."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

from ...models import DISCIPLINE_KINDS, DISCIPLINE_STATES, MEASURE_KINDS, REMEDY_KINDS, RISK_LEVELS
from ..common.fields import PortalForm
from ..common.labels import REMEDY_LABELS

CLAIM_STATUS_LABELS = {
    "received": lazy_pgettext("case status", "Received"),
    "risk_assessed": _l("Risk assessed"),
    "investigating": _l("Under investigation"),
    "substantiated": _l("Substantiated"),
    "not_substantiated": _l("Not substantiated"),
    "closed": _l("Closed"),
}
RISK_LABELS = {"high": _l("High"), "medium": _l("Medium"), "low": _l("Low")}
MEASURE_LABELS = {
    "dismissal_suspended": _l("Dismissal suspended"),
    "paid_leave": _l("Paid leave"),
    "transfer_reversed": _l("Transfer reversed"),
    "other": lazy_pgettext("protection measure", "Other"),
}
DISCIPLINE_LABELS = {
    "warning": _l("Warning"),
    "training": _l("Training"),
    "suspension": _l("Suspension"),
    "dismissal": _l("Dismissal"),
    "other": lazy_pgettext("disciplinary action", "Other"),
}
DISCIPLINE_STATE_LABELS = {"proposed": lazy_pgettext("disciplinary action state", "Proposed"), "taken": _l("Taken"), "withdrawn": _l("Withdrawn")}
REMEDY_STATE_LABELS = {
    "proposed": lazy_pgettext("remedy state", "Proposed"),
    "agreed": _l("Agreed"),
    "delivered": _l("Delivered"),
    "confirmed": _l("Confirmed by the reporter"),
    "disputed": _l("Disputed by the reporter"),
}
def _choices(labels, codes):
    return [SelectChoice(code, labels[code]) for code in codes]


class OneOfManyForm(PortalForm):
    """A form drawn beside others on one page: its fields (and CSRF token) carry its prefix, so ids stay unique."""

    prefix = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix=self.prefix, **kwargs)


class RiskForm(OneOfManyForm):
    prefix = "risk"
    level = SelectField(_l("Risk of further harm"), choices=_choices(RISK_LABELS, RISK_LEVELS),
                        validators=[InputRequired()])
    measure = SelectField(_l("Interim protection measure"), choices=[SelectChoice("", "—")]
                          + _choices(MEASURE_LABELS, MEASURE_KINDS), validators=[Optional()])
    measure_text = TextAreaField(_l("What was decided"), validators=[Optional(), Length(max=5000)])


class MeasureForm(OneOfManyForm):
    prefix = "measure"
    measure = SelectField(_l("Interim protection measure"), choices=_choices(MEASURE_LABELS, MEASURE_KINDS),
                          validators=[InputRequired()])
    measure_text = TextAreaField(_l("What was decided"), validators=[Optional(), Length(max=5000)])


class ClaimStatusForm(PortalForm):
    status = SelectField(_l("New status"), validators=[InputRequired()])


class DisciplineForm(OneOfManyForm):
    prefix = "discipline"
    who = StringField(_l("Who threatened or retaliated (a role or a pseudonym)"),
                      validators=[InputRequired(_l("Say who: a role or a pseudonym.")), Length(max=500)])
    kind = SelectField(_l("Action"), choices=_choices(DISCIPLINE_LABELS, DISCIPLINE_KINDS),
                       validators=[InputRequired()])
    state = SelectField(_l("Stage of the action"), choices=_choices(DISCIPLINE_STATE_LABELS, DISCIPLINE_STATES),
                        validators=[InputRequired()])
    decided_on = DateField(_l("Date"), validators=[Optional()])


class StateForm(PortalForm):
    state = SelectField(_l("New state"), validators=[InputRequired()])


class RemedyForm(OneOfManyForm):
    prefix = "remedy"
    kind = SelectField(_l("Remedy"), choices=_choices(REMEDY_LABELS, REMEDY_KINDS), validators=[InputRequired()])
    details = TextAreaField(_l("Details (the reporter reads them)"),
                            validators=[InputRequired(_l("Describe the remedy.")), Length(max=5000)])
    amount = StringField(_l("Amount"), validators=[
        Optional(), Regexp(r"^\d+([.,]\d{1,2})?$", message=_l("Write the amount in digits, e.g. 1250.50."))])
    currency = StringField(_l("Currency (e.g. EUR, MYR, VND)"), validators=[
        Optional(), Regexp(r"^[A-Za-z]{3}$", message=_l("Use the three-letter currency code."))])
    due_on = DateField(_l("Due by"), validators=[Optional()])


class BreachForm(OneOfManyForm):
    prefix = "breach"
    reported_on = DateField(_l("Date they were informed"), validators=[Optional()])
