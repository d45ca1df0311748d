"""Choosing a reply template on a case's page: the "use template" step.

A GET of the case page with ``?template=`` draws the page again with the template written
out in the reporter's language (and in English beside it) in the reply box, where the
investigator edits it before sending. No script is needed. The closing template goes into
the status form's closing message when the case can be closed now.
"""

from dataclasses import dataclass

from flask import request
from flask_babel import force_locale
from wtforms.fields.choices import SelectChoice

from ...services import cases, custom_templates, reply_templates
from ..common.database import db
from .forms import OUTCOME_LABELS, MessageForm

# A template that is a step of the case: acknowledging sends it, and so does closing.
STATUS_STEPS = (("standard:acknowledgement", "acknowledged", "acknowledging"), ("standard:closing", "closed", "closing"))


@dataclass(frozen=True)
class Chosen:
    key: str
    name: str
    text: str
    english: str
    # Where the text landed: "reply" (the reply box), or the status form's message when the template's
    # step can be taken now: "acknowledging" or "closing".
    into: str


def choices(case) -> list[SelectChoice]:
    """The standard templates, then the administrators' ones that exist in the case's language."""
    found = [SelectChoice(f"standard:{key}", str(name)) for key, (name, _text) in reply_templates.STANDARD.items()]
    found += [SelectChoice(f"custom:{t.name}", t.name) for t in custom_templates.in_language(db(), case.language)]
    return found


def chosen(case) -> Chosen | None:
    """The template the page was asked to use, written out for this case; None if none or unknown."""
    key = request.args.get("template", "")
    outcome = request.args.get("outcome") or None
    outcome = outcome if outcome in OUTCOME_LABELS else None
    kind, _sep, name = key.partition(":")
    if kind == "standard" and name in reply_templates.STANDARD:
        label = str(reply_templates.STANDARD[name][0])
        text = reply_templates.standard_text(name, case, case.language, outcome)
        english = reply_templates.standard_text(name, case, "en", outcome)
    elif kind == "custom":
        versions = next((t.versions for t in custom_templates.in_language(db(), case.language) if t.name == name),
                        None)
        if versions is None:
            return None
        label = name
        with force_locale(case.language):
            text = reply_templates.fill(versions[case.language], case, outcome)
        with force_locale("en"):
            english = reply_templates.fill(versions["en"], case, outcome)
    else:
        return None
    into = next((into for template, status, into in STATUS_STEPS
                 if key == template and status in cases.TRANSITIONS[case.status]), "reply")
    return Chosen(key, label, text, english, into)


def page_context(case, status_form) -> dict:
    """What the case page needs for the templates: the choices, the chosen one, the reply form."""
    template = chosen(case)
    message_form = MessageForm()
    if template is not None and template.into == "reply" and not message_form.text.data:
        message_form.text.data = template.text
    elif template is not None:
        status_form.status.data = next(status for key, status, into in STATUS_STEPS if into == template.into)
        if template.into == "closing":
            status_form.outcome.data = request.args.get("outcome", "")
        status_form.message.data = template.text
    return dict(message_form=message_form, template_choices=choices(case), chosen_template=template,
                outcome_labels=OUTCOME_LABELS)
