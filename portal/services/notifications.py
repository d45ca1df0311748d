"""E-mail notifications: a case number and a link, never any content.

Requests only queue them (a row in the same transaction as the event); a
separate process sends them (``portal notifications send``) and retries with
back-off, so a slow or broken mail server never delays or breaks a report.

A queued row holds a case number, so it holds no time finer than the day: it
is due from the start of the day it was queued, a failed one stays due, and
the sending process keeps its back-off in memory (``Backoff``), not in the
row. A sent row is deleted at once.
"""

import smtplib
import time
from datetime import timedelta
from email.message import EmailMessage

from flask_babel import force_locale, gettext
from sqlalchemy import delete, select

from ..models import Case, OutboxEmail, User
from . import clock

MAX_BACKOFF = timedelta(hours=6)


def queue_for(session, users: list[User], case: Case, base_url: str, path: str | None = None) -> None:
    """Tell each user (who has an address) that ``case`` needs them, with a link to
    the case (or to ``path``, the page where they can act on it)."""
    link = f"{base_url.rstrip('/')}{path or f'/inbox/cases/{case.id}'}"
    for user in users:
        if not user.email or not user.active:
            continue
        with force_locale(user.language or "en"):
            subject = gettext("Case %(reference)s needs your attention", reference=case.reference)
            body = gettext(
                "There is something new in case %(reference)s.\n\n"
                "Open it in the secure inbox: %(link)s\n\n"
                "This message says nothing about the case on purpose.",
                reference=case.reference, link=link,
            )
        queue_message(session, user, subject, body)


def queue_mandatory_notice(session, users: list[User], case: Case, base_url: str, path: str) -> None:
    """Tell the contracting authority's ``users`` that ``case`` was notified to Electronics Watch under the
    contract's mandatory notification: its reference, the day and its categories (codes), nothing the
    reporter wrote and nothing about who they are."""
    link = f"{base_url.rstrip('/')}{path}"
    for user in users:
        if not user.email or not user.active:
            continue
        with force_locale(user.language or "en"):
            subject = gettext("Mandatory notification: case %(reference)s", reference=case.reference)
            body = gettext(
                "Under the contract's mandatory notification of suspected forced or child labour, case "
                "%(reference)s was notified to Electronics Watch on %(day)s.\n\n"
                "Categories: %(categories)s\n\n"
                "Its escalation record: %(link)s\n\n"
                "This message says nothing of what the reporter wrote or who they are, on purpose.",
                reference=case.reference, day=case.mandatory_notified_on.isoformat(),
                categories=", ".join(case.category_codes), link=link,
            )
        queue_message(session, user, subject, body)


def queue_activation(session, user: User, link: str) -> None:
    """The one-time activation link, to the account's own address only."""
    with force_locale(user.language or "en"):
        subject = gettext("Your account of the secure inbox")
        body = gettext(
            "An account of the secure inbox was made for you, or its key was reset.\n\n"
            "Choose your passphrase here within 7 days: %(link)s\n\n"
            "If you did not expect this message, tell your administrator and do not open the link.",
            link=link,
        )
    queue_message(session, user, subject, body)


def queue_message(session, user: User, subject: str, body: str) -> None:
    """A notice already in ``user``'s language, to their own address (the caller checked they have one)."""
    session.add(OutboxEmail(to_address=user.email, subject=subject, body=body, attempts=0,
                            next_attempt_at=clock.start_of_today()))


class Backoff:
    """When each failed notice may be tried again, kept by the sending process only.

    A process that starts again tries every waiting notice once more at once:
    a little more mail-server traffic, never a lost notice.
    """

    def __init__(self, monotonic=time.monotonic):
        self.monotonic = monotonic
        self.not_before = {}

    def waiting(self, email_id: int) -> bool:
        return self.not_before.get(email_id, 0) > self.monotonic()

    def failed(self, email: OutboxEmail) -> None:
        delay = min(timedelta(minutes=2 ** min(email.attempts, 10)), MAX_BACKOFF)
        self.not_before[email.id] = self.monotonic() + delay.total_seconds()

    def forget(self, email_id: int) -> None:
        self.not_before.pop(email_id, None)


def send_due(session, config, limit: int = 100, backoff: Backoff | None = None) -> tuple[int, int]:
    """Send what is due; returns ``(sent, failed)``. Failures are retried later."""
    backoff = backoff or Backoff()
    # Rows an older version kept after sending them: gone, never sent again.
    session.execute(delete(OutboxEmail).where(OutboxEmail.sent_at.is_not(None)))
    due = [email for email in session.scalars(
        select(OutboxEmail).where(OutboxEmail.sent_at.is_(None), OutboxEmail.next_attempt_at <= clock.now())
        .order_by(OutboxEmail.id)
    ) if not backoff.waiting(email.id)][:limit]
    session.commit()
    sent = failed = 0
    for email in due:
        try:
            _deliver(config, email)
        except (OSError, smtplib.SMTPException) as error:
            email.attempts += 1
            email.last_error = f"{type(error).__name__}: {error}"[:500]
            backoff.failed(email)
            failed += 1
        else:
            # Nothing of a sent notice is kept: its row would say when a case moved.
            backoff.forget(email.id)
            session.delete(email)
            sent += 1
        session.commit()
    return sent, failed


def _deliver(config, email: OutboxEmail) -> None:
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message.set_content(email.body)
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=20) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USER"]:
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
        smtp.send_message(message)
