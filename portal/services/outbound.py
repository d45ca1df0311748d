"""Bundles this instance sends to a partner: signed, stored, and delivered with
retries until the partner has them.

Besides the forwards a keyholder prepares (``forwarding``), a report the worker
sends to Electronics Watch becomes a forward as it is stored, built from what
the worker just wrote.
"""

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

import crypto

from ..models import Case, Facility, Forward, Keyholder, Partner, User
from . import audit, authority_notices, bundles, clock, evidence, partner_http, partners
from . import instance as instance_service

BUNDLES_PATH = "/api/v1/bundles"
FIRST_RETRY_SECONDS = 30
LAST_RETRY_SECONDS = 6 * 3600
# What the reporter wrote that names or reaches them: left out without consent to share identity.
IDENTIFYING_REPORT_FIELDS = ("contact", "excluded_handlers")
# ... and in a retaliation claim, the handlers the worker named as the ones it is about.
IDENTIFYING_FIELDS = IDENTIFYING_REPORT_FIELDS + ("about_user_ids",)
# A bundle item holding an attachment's evidence record (services/evidence.py).
RECORD_KIND = "evidence_record"


def forward_as_written(session, case: Case, partner: Partner, kind: str, written: dict, files: list) -> Forward:
    """The forward of a report (``kind`` "report") or retaliation claim ("claim") the worker sent
    to Electronics Watch, made as it is stored.

    Built from what the worker just wrote, in the same transaction (not committed
    here), within the consent they gave: without consent to share their identity,
    the contact details and the handlers they named stay out. Every file goes,
    cleaned, with its evidence record.
    """
    scope = "with_identity" if written.get("consent") == "with_identity" else "without_identity"
    recipients = partners.monitor_recipients(partner)
    shared = {k: v for k, v in written.items() if scope == "with_identity" or k not in IDENTIFYING_FIELDS}
    items = [bundles.Item(f"items/01-{kind}.age", kind,
                          crypto.encrypt(json.dumps(shared, ensure_ascii=False, indent=1).encode("utf-8"), recipients),
                          {"content_type": "application/json"})]
    _add_files(items, files, recipients, case.received_on.isoformat())
    left_out = {"fields": [name for name in IDENTIFYING_FIELDS if written.get(name) and name not in shared]}
    return store(session, None, case, partner, scope, recipients, items, left_out)


def _add_files(items: list, files: list, recipients: list, day: str) -> None:
    """Each cleaned file, followed by its evidence record."""
    for clean in files:
        items.append(bundles.Item(f"items/{len(items) + 1:02d}-attachment.age", "attachment",
                                  crypto.encrypt(clean.data, recipients),
                                  {"content_type": clean.content_type, "day": day}))
        items.append(record_item(len(items) + 1, items[-1].name, evidence.of(clean), recipients))


def record_item(number: int, describes: str, record: evidence.Record, recipients: list) -> bundles.Item:
    """The bundle item carrying the evidence record of the attachment named ``describes``."""
    return bundles.Item(f"items/{number:02d}-{RECORD_KIND}.age", RECORD_KIND, evidence.seal(record, recipients),
                        {"content_type": "application/json", "describes": describes})


def arrival_forward(session, case: Case) -> Forward | None:
    """The forward made (by no one) as the worker's report or claim arrived, if it went to a partner."""
    return session.scalar(select(Forward).where(Forward.case_id == case.id, Forward.created_by.is_(None))
                          .order_by(Forward.id).limit(1))


def forward_addition(session, case: Case, arrival: Forward, message: str, files: list) -> Forward:
    """What the worker adds later to a case that went to a partner as it arrived: a bundle of its
    own to the same partner, within the same consent, filed there with the case (not committed here)."""
    partner = session.get(Partner, arrival.partner_id)
    recipients = partners.monitor_recipients(partner)
    day = clock.today().isoformat()
    items = []
    if message.strip():
        items.append(bundles.Item("items/01-message.age", "message", crypto.encrypt(message.encode("utf-8"), recipients),
                                  {"content_type": "text/plain; charset=utf-8", "author": "reporter", "day": day}))
    _add_files(items, files, recipients, day)
    return store(session, None, case, partner, arrival.scope, recipients, items, {"fields": []},
                 links={"addition_to": arrival.bundle_id})


def store(session, actor: User | None, case: Case, partner: Partner, scope: str, recipients: list,
          items: list, left_out: dict, links: dict | None = None) -> Forward:
    """Sign the bundle of ``items`` for ``partner`` and add it, waiting for delivery, to the session.

    ``links`` name a bundle exchanged before that these items belong with: ``addition_to`` (the
    worker's additions to a case sent before) or ``reply_to`` (the partner's answer to the worker)."""
    bundle_id = str(uuid.uuid4())
    instance = instance_service.load(session)
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    manifest = {
        "bundle_id": bundle_id,
        # A forward made as the worker sends the report, and what travels with a worker's case since,
        # says only the day.
        "created_at": (clock.now().isoformat(timespec="seconds") if actor and not links
                       else clock.today().isoformat()),
        "sender": {"organisation": instance.organisation_name, "fingerprint": partners.own_fingerprint(session)},
        "addressee_fingerprint": partner.fingerprint,
        "recipients": recipients,
        "case": {
            "reference": case.reference,
            "kind": case.kind,
            "received_on": case.received_on.isoformat(),
            "acknowledge_due": case.acknowledge_due.isoformat(),
            "feedback_due": case.feedback_due.isoformat(),
            "status": case.status,
            "language": case.language,
            "urgent": bool(case.urgent),
            "mandatory_notification": bool(case.mandatory_notification),
            "categories": case.category_codes,
            "facility": _facility_as_disclosed(facility),
            # A claim names the report it is about, which the partner may hold already.
            "about_reference": _about_reference(session, case),
        },
        "consent_scope": scope,
        "left_out": left_out,
    }
    if case.recipient_choice == "monitor" and actor is None and case.reporter_recipient:
        # The partner alone handles this case: it answers the worker, who reads the answer here
        # with their receipt, encrypted to the worker's key only.
        manifest["reply_recipient"] = case.reporter_recipient
    manifest.update(links or {})
    answer_to = exchange_recipients(session, case)
    if answer_to:
        # Whom the partner encrypts what it sends back on this case to (services/exchange.py).
        manifest["exchange_recipients"] = answer_to
    summary = {"contents": [i.kind for i in items], "left_out": left_out}
    forward = Forward(bundle_id=bundle_id, case_id=case.id, partner_id=partner.id,
                      created_by=actor.id if actor else None, created_on=clock.today(), scope=scope,
                      summary=json.dumps(summary), bundle=bundles.build(session, manifest, items), state="pending",
                      next_attempt_at=_moment(actor is not None))
    session.add(forward)
    session.flush()
    audit.record(session, "forward", actor, case.id, {"forward": forward.id, "partner": partner.id,
                                                      "scope": scope, "items": len(items)}, commit=False)
    return forward


def exchange_recipients(session, case: Case) -> list | None:
    """What a bundle of ``case`` tells the partner to encrypt its answers to: the case's keyholders
    and custodians here, never the reporter. None for a case no keyholder here holds."""
    if case.kind == "forwarded" or case.recipient_choice == "monitor":
        return None
    holders = session.scalars(select(User).join(Keyholder, Keyholder.user_id == User.id)
                              .where(Keyholder.case_id == case.id)).all()
    recipients = [user.recipient for user in holders if user.recipient]
    if not recipients:
        return None
    return recipients + [instance_service.load(session).recovery_recipient]


def _about_reference(session, case: Case) -> str | None:
    original = session.get(Case, case.related_case_id) if case.related_case_id else None
    return original.reference if original is not None else None


def _facility_as_disclosed(facility: Facility | None) -> dict:
    if facility is None:
        return {"listed": False}
    return {"listed": True, "name": facility.name, "local_name": facility.local_name, "country": facility.country,
            "supplier": facility.supplier, "address": facility.address, "reference": facility.reference}


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LAST_RETRY_SECONDS))


def deliver(session, forward: Forward, base_url: str) -> bool:
    """One delivery attempt; True once the partner has the bundle.

    The first delivered forward of a case flagged for mandatory notification is
    Electronics Watch's notification; the contracting authority is told with it
    (``authority_notices``), its notices linking to ``base_url``."""
    partner = session.get(Partner, forward.partner_id)
    now = _moment(forward.created_by is not None)
    forward.attempts += 1
    try:
        answer = partner_http.post(partner.base_url, BUNDLES_PATH, partner.outbound_token, forward.bundle,
                                   "application/zip")
    except partner_http.Unreachable as error:
        # The kind of failure goes to the operator's log only: stored or shown, it would tell
        # a refused port from a timeout.
        partner_http.log_unreachable(partner.id, error)
        return _retry_later(session, forward, now, "unreachable")
    body = answer.json() or {}
    if answer.status in (200, 201) or (answer.status == 409 and body.get("error") == "duplicate"):
        forward.state = "delivered" if forward.state == "pending" else forward.state
        forward.delivered_at = forward.delivered_at or now
        forward.last_error = ""
        authority_notices.monitor_notified(session, session.get(Case, forward.case_id), base_url)
        session.commit()
        return True
    return _retry_later(session, forward, now, f"{answer.status}: {body.get('error', '')}"[:300])


def _retry_later(session, forward: Forward, now: datetime, error: str) -> bool:
    forward.last_error = error
    # A forward made as the report arrived is retried at every run of the job: a back-off would
    # write a time finer than the day beside its case.
    forward.next_attempt_at = now + backoff(forward.attempts) if forward.created_by is not None else now
    session.commit()
    return False


def _moment(by_staff: bool) -> datetime:
    """Now, for a forward a staff member made; the day only for one made as the worker's report
    arrived, whose times would tell when the worker wrote."""
    return clock.now() if by_staff else clock.start_of_today()
