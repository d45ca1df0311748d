"""The words pages use for the domain's codes: categories, retaliation types,
remedies, case statuses and the cleaning of evidence files, shared by the reporter's and the staff's pages."""

from flask_babel import format_date, get_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

CATEGORY_LABELS = {
    "forced_labour": _l("Forced work, or you cannot leave the job"),
    "recruitment_fees": _l("Fees paid to get the job, or debt to an agent"),
    "child_labour": _l("Children working"),
    "wages": _l("Pay, overtime pay or social insurance"),
    "working_hours": _l("Too many working hours, or no day off"),
    "health_safety": _l("Health and safety: danger, injuries, chemicals"),
    "freedom_of_association": _l("Joining a union or speaking up together"),
    "discrimination": _l("Unfair treatment (discrimination)"),
    "harassment": _l("Violence, threats or harassment"),
    "contracts_dismissal": _l("Contracts, dismissal or documents kept from you"),
    "environment": _l("Pollution or harm to the environment"),
    "other": _l("Something else"),
}

ONGOING_CHOICES = [
    SelectChoice("yes", _l("Yes")),
    SelectChoice("no", _l("No")),
    SelectChoice("unknown", _l("I don't know")),
]
PEOPLE_CHOICES = [
    SelectChoice("one", _l("Only me")),
    SelectChoice("few", _l("A few people")),
    SelectChoice("many", _l("Many people")),
    SelectChoice("unknown", _l("I don't know")),
]
RECIPIENT_CHOICES = [
    # Staff-facing: the reporter's form names the organisation (``contractor_choice``).
    SelectChoice("contractor", _l("The organisation's own investigators")),
    SelectChoice("monitor", _l("Only Electronics Watch, the independent monitor")),
    SelectChoice("both", _l("Both")),
]


def contractor_choice(organisation: str) -> SelectChoice:
    """The narrowest recipient choice as a worker reads it: whose investigators, by name. Many
    translations call the employer "the company": "the company's investigators" read as the
    factory's own managers."""
    return SelectChoice("contractor", _("Investigators of %(organisation)s, not your factory's managers",
                                        organisation=organisation))


CONSENT_CHOICES = [
    SelectChoice("none", _l("No, only the people named above")),
    SelectChoice("without_identity", _l("Yes, but without my name or contact details")),
    SelectChoice("with_identity", _l("Yes, with my contact details")),
]


# Article 19 of EU Directive 2019/1937, in plain words.
RETALIATION_LABELS = {
    "dismissal": _l("Suspended or dismissed (fired)"),
    "demotion": _l("Moved to a lower job, or a promotion held back"),
    "transfer_pay_hours": _l("Moved to other work or another place, pay cut, or working hours changed"),
    "withheld_training": _l("Training taken away"),
    "negative_appraisal": _l("A bad review of my work, or a bad reference"),
    "disciplinary_measure": _l("Punished, or made to pay a fine"),
    "coercion_harassment": _l("Pressure, intimidation, bullying, or being left out by others"),
    "discrimination": _l("Unfair treatment (discrimination)"),
    "contract_not_renewed": _l("A temporary contract not made permanent, or not renewed"),
    "harm_financial_loss": _l("Harm to me or my name, or money lost"),
    "blacklisting": _l("Put on a blacklist, so I cannot find work"),
    "early_termination": _l("A contract for goods or services ended early"),
    "licence_cancelled": _l("A licence or permit cancelled (for example a work permit)"),
    "medical_referral": _l("Sent to a doctor or psychiatrist against my will"),
    "threats": _l("Threats or attempts to do any of these"),
}
REMEDY_LABELS = {
    "reinstatement": _l("Getting your job back"),
    "back_pay": _l("Pay you are owed (back pay)"),
    "compensation": _l("Compensation"),
    "restored_position_hours_contract": _l("Your position, hours or contract given back"),
    "apology": _l("An apology"),
    "medical_psychological_support": _l("Medical or psychological help"),
    "legal_costs": _l("Your legal costs paid"),
    "other": _l("Something else"),
}
# What cleaning did to an evidence file, in words (the codes of services/attachments.py STEPS).
# Joined into one sentence on the inbox's case page: "What cleaning did: GPS position removed, ...".
STEP_LABELS = {
    "location_removed": _l("GPS position removed"),
    "author_removed": _l("author, owner or device name removed"),
    "metadata_removed": _l("other metadata removed"),
    "orientation_applied": _l("turned upright"),
    "rebuilt_from_pixels": _l("rebuilt from its pixels"),
    "rebuilt_from_pages": _l("rebuilt from images of its pages"),
    "converted_to_jpeg": _l("converted to JPEG"),
    "hidden_content_removed": _l("hidden content removed (scripts, attachments, annotations, links)"),
    "extra_streams_removed": _l("extra streams removed (chapters, subtitles, cover art, data tracks)"),
    "voice_disguised": _l("voice disguised"),
}
STATUS_LABELS = {
    "received": lambda: pgettext("case status", "Received"),
    "acknowledged": lambda: _("Acknowledged"),
    "investigating": lambda: _("Under investigation"),
    "feedback_given": lambda: _("Feedback given"),
    "closed": lambda: _("Closed"),
    "risk_assessed": lambda: _("Risk assessed"),
    "substantiated": lambda: _("Substantiated"),
    "not_substantiated": lambda: _("Not substantiated"),
}


# What each audit action is, in words (the codes of services/audit.py ACTIONS).
# A corrective action's state, as investigators, monitors and the worker read it.
ACTION_STATE_LABELS = {
    "planned": _l("Planned"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
    "verified": _l("Verified by Electronics Watch"),
    "not_done": _l("Not done, Electronics Watch found"),
}

# The same states in the plain words of the worker's follow-up page.
ACTION_STATE_WORDS_FOR_WORKERS = {
    "planned": _l("Planned"),
    "in_progress": _l("Being done now"),
    "done": _l("Done"),
    "verified": _l("Done, and checked by Electronics Watch, the independent monitor"),
    "not_done": _l("Not done yet: Electronics Watch, the independent monitor, checked"),
}


def month_and_year(day) -> str:
    """The month and year as the reader's language writes them (CLDR's yMMMM): a due month."""
    skeletons = get_locale().datetime_skeletons
    pattern = skeletons.get("yMMMM") or skeletons.get("yMMM")
    return format_date(day, pattern.pattern if pattern is not None else "MMMM y")


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
    "case_export": _l("Case exported (encrypted to a recipient)"),
    "account_created": _l("Account created"),
    "account_activated": _l("Account activated"),
    "identity_reset": _l("Key reset (lost passphrase)"),
    "readmit": _l("Key re-admitted with the recovery key"),
    "passphrase_changed": _l("Passphrase changed"),
    "recovery_codes_renewed": _l("New recovery codes made"),
    "disclosure_import": _l("Facility disclosure imported"),
    "registry_export": _l("Facility registry and its change log exported"),
    "poster_download": _l("Poster or wallet card downloaded"),
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
    "authority_notified": _l("Contracting authority notified (mandatory notification)"),
    "conflict_block": _l("Conflict of interest: a holder barred from the case"),
    "conflict_unblock": _l("Conflict of interest removed: the holder may open the case again"),
    "conflict_key_removed": _l("Conflicted holder's key removed from the case"),
    "rule_created": _l("Routing rule created"),
    "rule_changed": _l("Routing rule changed"),
    "rule_moved": _l("Routing rule moved"),
    "rule_deleted": _l("Routing rule deleted"),
    "conflict_declared": _l("Conflict of interest declared"),
    "conflict_removed": _l("Conflict of interest removed"),
    "text_search": _l("Searched the words of the cases they hold (the words are not recorded)"),
    "settings_changed": _l("Settings changed"),
    "reopen": _l("Case opened again"),
    "reply_template_saved": _l("Reply template saved"),
    "reply_template_removed": _l("Reply template removed"),
    "lead_changed": _l("Lead of the case changed"),
    "finding": _l("Finding written or changed"),
    "corrective_action": _l("Corrective action recorded or changed"),
    "corrective_action_state": _l("State of a corrective action changed"),
    "translation_overridden": _l("Translation changed for this portal"),
    "report_entered": _l("Report entered for a worker (the channel in the detail)"),
}


# How a report entered for a worker came in (services/intake.py CHANNELS), as staff read it.
CHANNEL_LABELS = {
    "phone": _l("Phone call"),
    "in_person": _l("In person"),
    "letter": _l("Letter"),
    "partner_interview": _l("Partner interview"),
}
