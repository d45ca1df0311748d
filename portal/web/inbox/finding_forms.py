"""Forms of a case's findings and corrective actions. The case page draws their fields by hand,
one set per finding or action with ids of its own; these classes check what comes back."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ...services import findings
from ..common.fields import CheckboxesField, PortalForm

TOO_LONG = _l("This text is too long.")


def _text(label, required=None, limit=findings.TEXT_LIMIT):
    first = [InputRequired(required)] if required else [Optional()]
    return TextAreaField(label, validators=[*first, Length(max=limit, message=TOO_LONG)])


class FindingForm(PortalForm):
    id_prefix = "new-finding"
    text = _text(_l("What the investigation found (keyholders only)"), _l("Write the finding before saving."))
    found = _text(_l("What we found, for the worker"))
    will_change = _text(_l("What will change, for the worker"))
    shared = BooleanField(_l("Show these two texts to the worker on their follow-up page"))
    cases = CheckboxesField(_l("Other reports of this facility with the same root cause"), validators=[Optional()])


class ActionForm(PortalForm):
    id_prefix = "new-action"
    description = _text(_l("Corrective action (keyholders only)"), _l("Describe the action before saving."))
    owner = StringField(_l("Owner (who carries it out)"),
                        validators=[Optional(), Length(max=findings.OWNER_LIMIT, message=TOO_LONG)])
    due_on = DateField(_l("Due by"), validators=[Optional()])


class ActionStateForm(PortalForm):
    state = SelectField(_l("New state"), choices=list(findings.KEYHOLDER_STATES), validators=[InputRequired()])


class VerdictForm(PortalForm):
    verdict = SelectField(_l("Verdict"), choices=list(findings.VERDICTS), validators=[InputRequired()])
    comment = _text(_l("Comment (keyholders only)"))
