"""E-mail notifications: a case number and a link, never any content.

Requests only queue them (a row in the same transaction as the event); a
separate process sends them (``portal notifications send``) and retries with
back-off, so a slow or broken mail server never delays or breaks a report.
"""

import smtplib
from datetime import timedelta
from email.message import EmailMessage

from flask_babel import force_locale, gettext
from sqlalchemy import select

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
        session.add(OutboxEmail(to_address=user.email, subject=subject, body=body, attempts=0,
                                next_attempt_at=clock.now()))


def send_due(session, config, limit: int = 100) -> tuple[int, int]:
    """Send what is due; returns ``(sent, failed)``. Failures are retried later."""
    now = clock.now()
    due = list(session.scalars(
        select(OutboxEmail).where(OutboxEmail.sent_at.is_(None), OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.id).limit(limit)
    ))
    sent = failed = 0
    for email in due:
        try:
            _deliver(config, email)
        except (OSError, smtplib.SMTPException) as error:
            email.attempts += 1
            email.next_attempt_at = now + min(timedelta(minutes=2 ** min(email.attempts, 10)), MAX_BACKOFF)
            email.last_error = f"{type(error).__name__}: {error}"[:500]
            failed += 1
        else:
            email.sent_at = now
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
