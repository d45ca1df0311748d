"""Bundles this instance sends to a partner: signed, stored, and delivered with
retries until the partner has them.

Besides the forwards a keyholder prepares (``forwarding``), a report the worker
sends to Electronics Watch becomes a forward as it is stored, built from what
the worker just wrote.
"""

import json
import uuid
from datetime import datetime, timedelta

import crypto

from ..models import Case, Facility, Forward, Partner, User
from . import audit, bundles, clock, evidence, partner_http, partners
from . import instance as instance_service

BUNDLES_PATH = "/api/v1/bundles"
FIRST_RETRY_SECONDS = 30
LAST_RETRY_SECONDS = 6 * 3600
# What the reporter wrote that names or reaches them: left out without consent to share identity.
IDENTIFYING_REPORT_FIELDS = ("contact", "excluded_handlers")
# A bundle item holding an attachment's evidence record (services/evidence.py).
RECORD_KIND = "evidence_record"


def forward_new_report(session, case: Case, partner: Partner, written: dict, files: list) -> Forward:
    """The forward of a report the worker sent to Electronics Watch, made as it is stored.

    Built from what the worker just wrote, in the same transaction (not committed
    here), within the consent they gave: without consent to share their identity,
    the contact details stay out. Every file goes, cleaned, with its evidence record.
    """
    scope = "with_identity" if written.get("consent") == "with_identity" else "without_identity"
    recipients = partners.monitor_recipients(partner)
    shared = {k: v for k, v in written.items() if scope == "with_identity" or k not in IDENTIFYING_REPORT_FIELDS}
    items = [bundles.Item("items/01-report.age", "report", crypto.encrypt(json.dumps(shared, ensure_ascii=False, indent=1).encode("utf-8"), recipients),
                          {"content_type": "application/json"})]
    for clean in files:
        items.append(bundles.Item(f"items/{len(items) + 1:02d}-attachment.age", "attachment",
                                  crypto.encrypt(clean.data, recipients),
                                  {"content_type": clean.content_type, "day": case.received_on.isoformat()}))
        items.append(record_item(len(items) + 1, items[-1].name, evidence.of(clean), recipients))
    left_out = {"fields": [name for name in IDENTIFYING_REPORT_FIELDS if written.get(name) and name not in shared]}
    return store(session, None, case, partner, scope, recipients, items, left_out)


def record_item(number: int, describes: str, record: evidence.Record, recipients: list) -> bundles.Item:
    """The bundle item carrying the evidence record of the attachment named ``describes``."""
    return bundles.Item(f"items/{number:02d}-{RECORD_KIND}.age", RECORD_KIND, evidence.seal(record, recipients),
                        {"content_type": "application/json", "describes": describes})


def store(session, actor: User | None, case: Case, partner: Partner, scope: str, recipients: list,
           items: list, left_out: dict) -> Forward:
    """Sign the bundle of ``items`` for ``partner`` and add it, waiting for delivery, to the session."""
    bundle_id = str(uuid.uuid4())
    instance = instance_service.load(session)
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    manifest = {
        "bundle_id": bundle_id,
        # A forward made as the worker sends the report says only the day.
        "created_at": (clock.now().isoformat(timespec="seconds") if actor else clock.today().isoformat()),
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
        },
        "consent_scope": scope,
        "left_out": left_out,
    }
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


def _facility_as_disclosed(facility: Facility | None) -> dict:
    if facility is None:
        return {"listed": False}
    return {"listed": True, "name": facility.name, "local_name": facility.local_name, "country": facility.country,
            "supplier": facility.supplier, "address": facility.address, "reference": facility.reference}


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LAST_RETRY_SECONDS))


def deliver(session, forward: Forward) -> bool:
    """One delivery attempt; True once the partner has the bundle."""
    partner = session.get(Partner, forward.partner_id)
    now = _moment(forward.created_by is not None)
    forward.attempts += 1
    try:
        answer = partner_http.post(partner.base_url, BUNDLES_PATH, partner.outbound_token, forward.bundle,
                                   "application/zip")
    except partner_http.Unreachable as error:
        return _retry_later(session, forward, now, f"unreachable: {error}")
    body = answer.json() or {}
    if answer.status in (200, 201) or (answer.status == 409 and body.get("error") == "duplicate"):
        forward.state = "delivered" if forward.state == "pending" else forward.state
        forward.delivered_at = forward.delivered_at or now
        forward.last_error = ""
        case = session.get(Case, forward.case_id)
        if case.mandatory_notification and case.mandatory_notified_on is None:
            case.mandatory_notified_on = clock.today()
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
