"""Deadline reminders to a case's lead: content-free e-mails through the outbox.

A daily job (``portal reminders queue``) queues, for each case with a lead:
a reminder ``REMIND_DAYS_BEFORE`` days (or fewer) before its acknowledgement
or feedback is due, and one once the day has passed while it is still not
done. Each (case, deadline, stage, due day) is queued once, whenever and
however often the job runs (``SentReminder``). A lead who chose the digest
gets one e-mail per run listing case numbers and what is due; the others one
e-mail per reminder. An e-mail holds case numbers, deadlines and days only.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import force_locale, format_date, gettext
from sqlalchemy import and_, select

from ..models import Case, SentReminder, User
from . import clock, notifications
from .inbox import OPEN

# The deadline, and the statuses in which it is still to be met.
PENDING = {"acknowledge": ("received",), "feedback": OPEN}


@dataclass(frozen=True)
class Reminder:
    case: Case
    deadline: str  # "acknowledge" or "feedback"
    stage: str  # "before" or "passed"
    due_on: date


def due(session, days_before: int, today: date | None = None) -> list[Reminder]:
    """The reminders not queued yet, by case: at most one per deadline, the passed one if it has passed."""
    today = today or clock.today()
    horizon = today + timedelta(days=days_before)
    found = []
    for deadline, statuses in PENDING.items():
        column = Case.acknowledge_due if deadline == "acknowledge" else Case.feedback_due
        for stage, window in (("passed", column < today), ("before", and_(column >= today, column <= horizon))):
            sent = select(SentReminder.id).where(
                SentReminder.case_id == Case.id, SentReminder.deadline == deadline,
                SentReminder.stage == stage, SentReminder.due_on == column).exists()
            for case in session.scalars(select(Case).where(
                    Case.status.in_(statuses), Case.lead_user_id.is_not(None), window, ~sent).order_by(Case.id)):
                found.append(Reminder(case, deadline, stage, getattr(case, f"{deadline}_due")))
    return sorted(found, key=lambda r: (r.case.id, r.deadline))


def queue(session, base_url: str, days_before: int) -> int:
    """Queue the reminders that are due (one digest per lead who chose it); returns how many reminders."""
    reminders = due(session, days_before)
    by_lead = {}
    for reminder in reminders:
        by_lead.setdefault(reminder.case.lead_user_id, []).append(reminder)
    for lead_id, theirs in by_lead.items():
        lead = session.get(User, lead_id)
        if lead.email and lead.active:
            if lead.reminder_digest:
                _queue_digest(session, lead, theirs, base_url)
            else:
                for reminder in theirs:
                    _queue_one(session, lead, reminder, base_url)
        # Recorded even for a lead without an address: the inbox shows what is due.
        for reminder in theirs:
            session.add(SentReminder(case_id=reminder.case.id, deadline=reminder.deadline, stage=reminder.stage,
                                     due_on=reminder.due_on))
    session.commit()
    return len(reminders)


def _what(reminder: Reminder) -> str:
    """The reminder in words, in the current locale: which deadline, and its day."""
    day = format_date(reminder.due_on)
    reference = reminder.case.reference
    if reminder.deadline == "acknowledge":
        if reminder.stage == "passed":
            return gettext("Case %(reference)s: the acknowledgement was due on %(date)s and is overdue.",
                           reference=reference, date=day)
        return gettext("Case %(reference)s: acknowledge by %(date)s.", reference=reference, date=day)
    if reminder.stage == "passed":
        return gettext("Case %(reference)s: the feedback was due on %(date)s and is overdue.",
                       reference=reference, date=day)
    return gettext("Case %(reference)s: give feedback by %(date)s.", reference=reference, date=day)


def _queue_one(session, lead: User, reminder: Reminder, base_url: str) -> None:
    link = f"{base_url.rstrip('/')}/inbox/cases/{reminder.case.id}"
    with force_locale(lead.language or "en"):
        subject = (gettext("Case %(reference)s is overdue", reference=reminder.case.reference)
                   if reminder.stage == "passed" else
                   gettext("Case %(reference)s is due soon", reference=reminder.case.reference))
        body = gettext(
            "%(what)s\n\nOpen it in the secure inbox: %(link)s\n\n"
            "You lead this case. This message says nothing about the case on purpose.",
            what=_what(reminder), link=link)
    notifications.queue_message(session, lead, subject, body)


def _queue_digest(session, lead: User, reminders: list[Reminder], base_url: str) -> None:
    link = f"{base_url.rstrip('/')}/inbox/"
    with force_locale(lead.language or "en"):
        subject = gettext("Deadlines of the cases you lead")
        lines = "\n".join(f"- {_what(reminder)}" for reminder in reminders)
        body = gettext(
            "Deadlines of the cases you lead:\n\n%(lines)s\n\nOpen the secure inbox: %(link)s\n\n"
            "This message says nothing about the cases on purpose.",
            lines=lines, link=link)
    notifications.queue_message(session, lead, subject, body)
