"""Reply templates: the standard messages an investigator sends a reporter, in the reporter's language.

The standard templates are gettext messages, so every catalog translates them; an
administrator adds templates of their own, per language (services/custom_templates.py).
A template may carry placeholders: ``%(date)s`` the day the reporter is told what was
done, ``%(outcome)s`` what a closed case found; both are written in the reporter's locale.
"""

from dataclasses import dataclass

from flask_babel import force_locale, format_date
from flask_babel import lazy_gettext as _l

from ..models import Case

# The acknowledgement is the very message acknowledging a case sends (services/cases.py).
ACKNOWLEDGEMENT = _l(
    "We have received your report and we have read it. Thank you for telling us. "
    "We will tell you what we did by %(date)s. Come back with your receipt to read our "
    "messages and to answer our questions."
)
CLOSING = _l(
    "We are closing your case. %(outcome)s Thank you for telling us. You can still read this "
    "page with your receipt until the case is deleted. If you write to us here, we open your case again."
)
STANDARD = {
    "acknowledgement": (_l("Acknowledgement"), ACKNOWLEDGEMENT),
    "more_details": (_l("Request for more details"), _l(
        "Thank you for your report. To look into it, we need to know more. Please tell us, as far as you "
        "can: where and when it happened, who was involved, and how many workers it affects. You can answer "
        "on this page with your receipt, and add photos, voice notes or documents.")),
    "investigation_started": (_l("Investigation started"), _l(
        "We have started to investigate what you reported. We will tell you what we found by %(date)s. "
        "If something new happens, or if someone treats you badly because you reported, tell us here.")),
    "findings": (_l("Findings shared"), _l(
        "We have looked into what you reported. This is what we found:")),
    "remedy": (_l("Remedy offered"), _l(
        "We have asked the company to put right what happened. Please tell us here whether it is done "
        "and whether you agree. This is what is proposed:")),
    "closing": (_l("Closing with the outcome"), CLOSING),
}
# What a closed case found, as the reporter reads it in the closing message.
OUTCOME_SENTENCES = {
    "substantiated": _l("We found that what you reported is true."),
    "partly_substantiated": _l("We found that part of what you reported is true."),
    "not_substantiated": _l("We could not confirm what you reported."),
    "out_of_scope": _l("What you reported is outside what we can investigate."),
}
PLACEHOLDERS = ("%(date)s", "%(outcome)s")


@dataclass(frozen=True)
class Filled:
    """A template written out for one case: in the reporter's language, and in English beside it."""
    key: str
    text: str
    english: str


def fill(text: str, case: Case, outcome: str | None = None) -> str:
    """Write the placeholders out in the current locale. Only the known ones are replaced, so an
    administrator's text with a stray ``%`` or an unknown ``%(name)s`` is kept as written."""
    outcome = outcome or case.outcome
    values = {
        "%(date)s": format_date(case.feedback_due, format="long"),
        "%(outcome)s": str(OUTCOME_SENTENCES[outcome]) if outcome in OUTCOME_SENTENCES else "",
    }
    for placeholder, value in values.items():
        if not value:
            # No outcome yet: the sentence is left out, and the space after it.
            text = text.replace(placeholder + " ", "")
        text = text.replace(placeholder, value)
    return text.strip()


def standard_text(key: str, case: Case, locale: str, outcome: str | None = None) -> str:
    """A standard template in ``locale``, its placeholders filled."""
    with force_locale(locale):
        return fill(str(STANDARD[key][1]), case, outcome)


def closing_text(case: Case, outcome: str) -> str:
    """The closing message with the outcome, in the language the reporter wrote in."""
    return standard_text("closing", case, case.language, outcome)
