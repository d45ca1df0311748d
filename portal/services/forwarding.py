"""Forwarding a case to a partner instance (Electronics Watch), and filing the
bundles a partner forwards to us.

The sender's keyholder chooses what goes: the report, messages, files (each
with its evidence record), the retaliation record, a cover note. The
reporter's consent decides the scope: without consent to share their identity,
the contact details stay out, and the sender is shown so. Every stored file was
cleaned as it arrived, so every file may go.
The bundle is built in the keyholder's request, with their unlocked identity,
and encrypted to the partner's monitor users: once built, this server cannot
read it. Delivery retries with backoff until the partner has it; the partner
files a bundle once, however often it arrives.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import crypto

from ..models import (
    CATEGORIES,
    REMOTE_STATUSES,
    RETALIATION_TYPES,
    Case,
    CaseCategory,
    CaseItem,
    Forward,
    Keyholder,
    Partner,
    ReceivedBundle,
    User,
)
from ..models.case import AUTHORS
from . import (
    attachments,
    audit,
    bundles,
    clock,
    deadlines,
    evidence,
    exchange,
    keyring,
    manifests,
    notifications,
    outbound,
    partner_http,
    partners,
    retaliation,
    signing,
)
from .refusal import Refusal

MONITOR_ROLE = "monitor"
RECEIVED_STATUSES = ("received",) + REMOTE_STATUSES
IDENTIFYING_REPORT_FIELDS = outbound.IDENTIFYING_REPORT_FIELDS
# What a partner's forward may hold: what forwarding.create and outbound put in one.
FORWARDED_KINDS = ("report", "claim", "message", "attachment", "retaliation_record", "cover_note",
                   outbound.RECORD_KIND)
# The largest status sequence number a partner may sign: what PostgreSQL's integer column holds.
MAX_STATUS_SEQUENCE = 2**31 - 1


class ForwardError(Refusal):
    """A forward that cannot be made (reason: consent, partner, nothing, recipients)."""


@dataclass
class Choice:
    """What the keyholder chose to forward."""

    report: bool = True
    message_ids: list[int] = field(default_factory=list)
    attachment_ids: list[int] = field(default_factory=list)
    retaliation_record: bool = False
    cover_note: str = ""


@dataclass(frozen=True)
class Plan:
    """What can go, and what the reporter's consent keeps out."""

    consent: str
    scope: str | None  # None: the reporter did not agree to sharing, and nothing obliges it
    messages: list[tuple[CaseItem, str]]
    attachments: list[CaseItem]
    left_out_fields: list[str]
    has_retaliation_record: bool
    # Files stored before this portal cleaned every file (sound, kept as sent): never without consent.
    left_out_attachments: list[CaseItem] = field(default_factory=list)


def _decrypt(item: CaseItem, identity) -> bytes:
    return crypto.decrypt(item.blob, identity)


def _written(case: Case, identity) -> dict:
    item = next((i for i in case.items if i.kind in ("report", "claim")), None)
    return json.loads(_decrypt(item, identity)) if item is not None else {}


def plan(session, case: Case, identity) -> Plan:
    written = _written(case, identity)
    consent = written.get("consent", "without_identity" if case.kind == "retaliation" else "none")
    if consent == "with_identity":
        scope = "with_identity"
    elif consent == "without_identity" or case.mandatory_notification:
        # The contract obliges notifying suspected forced or child labour: without identity.
        scope = "without_identity"
    else:
        scope = None
    files = [i for i in case.items if i.kind == "attachment"]
    uncleaned = [] if scope == "with_identity" else [i for i in files if evidence.never_cleaned(i)]
    return Plan(
        consent=consent, scope=scope,
        messages=[(i, _decrypt(i, identity).decode("utf-8")) for i in case.items if i.kind == "message"],
        attachments=[i for i in files if i not in uncleaned],
        left_out_fields=[] if scope == "with_identity" else
        [name for name in IDENTIFYING_REPORT_FIELDS if written.get(name)],
        has_retaliation_record=case.kind == "retaliation",
        left_out_attachments=uncleaned,
    )


def create(session, actor: User, identity, case: Case, partner: Partner, choice: Choice) -> Forward:
    """Build, sign and store the bundle, ready for delivery."""
    found = plan(session, case, identity)
    if found.scope is None:
        raise ForwardError("consent")
    if not partner.active or partner.signing_key is None:
        raise ForwardError("partner")
    recipients = partners.monitor_recipients(partner)
    if not recipients:
        raise ForwardError("recipients")
    allowed_messages = {item.id: text for item, text in found.messages}
    allowed_files = {item.id: item for item in found.attachments}
    if not set(choice.message_ids) <= set(allowed_messages) or not set(choice.attachment_ids) <= set(allowed_files):
        raise ForwardError("nothing")

    items, number = [], 0

    def add(kind: str, data: bytes, **meta):
        nonlocal number
        number += 1
        items.append(bundles.Item(f"items/{number:02d}-{kind}.age", kind, crypto.encrypt(data, recipients), meta))

    written = _written(case, identity)
    if choice.report and written:
        shared = {k: v for k, v in written.items()
                  if found.scope == "with_identity" or k not in outbound.IDENTIFYING_FIELDS}
        add("report" if case.kind == "report" else "claim", _json(shared), content_type="application/json")
    by_id = {item.id: item for item in case.items}
    for item_id in sorted(choice.message_ids):
        item = by_id[item_id]
        add("message", allowed_messages[item_id].encode("utf-8"), content_type="text/plain; charset=utf-8",
            author=item.author, day=item.created_on.isoformat())
    for item_id in sorted(choice.attachment_ids):
        item = allowed_files[item_id]
        add("attachment", _decrypt(item, identity), content_type=item.content_type, day=item.created_on.isoformat())
        record = evidence.record_of(item, identity)
        if record is not None:
            number += 1
            items.append(outbound.record_item(number, items[-1].name, record, recipients))
    if choice.retaliation_record and found.has_retaliation_record:
        add("retaliation_record", _json(_retaliation_record(session, case, identity)),
            content_type="application/json")
    if choice.cover_note.strip():
        add("cover_note", choice.cover_note.strip().encode("utf-8"), content_type="text/plain; charset=utf-8")
    if not items:
        raise ForwardError("nothing")

    forward = outbound.store(session, actor, case, partner, found.scope, recipients, items,
                             {"fields": found.left_out_fields, "files": len(found.left_out_attachments)})
    session.commit()
    return forward


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def _retaliation_record(session, claim: Case, identity) -> dict:
    """The claim's course, protection, discipline and remedies, as the officers' page shows them."""
    record = retaliation.record(session, claim, identity)

    def entries(rows, fields):
        return [dict({name: _plain(getattr(row, name)) for name in fields}, **details) for row, details in rows]

    return {
        "status": claim.status, "risk_level": claim.risk_level, "risk_assessed_on": _plain(claim.risk_assessed_on),
        "measures": entries(record.measures, ("kind", "decided_on")),
        "discipline": entries(record.discipline, ("kind", "state", "decided_on")),
        "remedies": entries(record.remedies, ("kind", "state", "due_on", "state_changed_on")),
    }


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


# --- Delivery -----------------------------------------------------------------


def deliver_due(session, base_url: str, everything_now: bool = False) -> int:
    """Deliver every pending bundle and unsent status whose time has come (or all, ``everything_now``).

    ``base_url`` is this instance's address, for the links of the notices a delivery sends."""
    now = clock.now()
    pending = select(Forward).where(Forward.state == "pending").order_by(Forward.next_attempt_at)
    unsent = select(ReceivedBundle).where(ReceivedBundle.status_unsent.is_(True))
    if not everything_now:
        pending = pending.where(Forward.next_attempt_at <= now)
        unsent = unsent.where(ReceivedBundle.status_next_attempt_at <= now)
    sent = 0
    for forward in session.scalars(pending).all():
        sent += outbound.deliver(session, forward, base_url)
    statuses = session.scalars(unsent).all()
    for received in statuses:
        sent += send_status(session, received)
    return sent + exchange.deliver_due(session, everything_now)


def forwards_of(session, case_id: int) -> list[Forward]:
    return list(session.scalars(select(Forward).where(Forward.case_id == case_id).order_by(Forward.id)))


def shared_with_monitor(session, case_id: int) -> list[Forward]:
    """Delivered forwards of a case: the reporter's follow-up page says so, with the scope."""
    return [f for f in forwards_of(session, case_id) if f.delivered_at is not None]


# --- Receiving ----------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    received: ReceivedBundle
    duplicate: bool


def receive(session, partner: Partner, bundle: bytes, base_url: str = "") -> Filed:
    """Check a bundle from ``partner`` and file it as a case for our monitor users.

    Raises ``bundles.BundleError`` (nothing stored) when it is not signed by the
    partner, not addressed to us, or changed. A bundle filed before is not filed again.
    """
    if partner.signing_key is None:
        raise bundles.BundleError("sender")
    manifest, items = bundles.open_verified(bundle, partner.signing_key, partner.fingerprint,
                                            partners.own_fingerprint(session))
    manifests.check(manifest, items)
    bundle_id = manifest["bundle_id"]
    earlier = session.scalar(select(ReceivedBundle).where(ReceivedBundle.bundle_id == bundle_id))
    if earlier is not None:
        return Filed(earlier, True)
    if "exchange" in manifest:
        try:
            case, called = exchange.file_received(session, partner, bundle_id, manifest, items)
        except IntegrityError:
            # A delivery of the same bundle filed it at the same moment (a retry that overtook a slow
            # answer), or another bundle of the same number did: one of them is filed, once.
            session.rollback()
            earlier = session.scalar(select(ReceivedBundle).where(ReceivedBundle.bundle_id == bundle_id))
            if earlier is None:
                raise bundles.BundleError("sequence") from None
            return Filed(earlier, True)
        return _file_on_case(session, partner, case, bundle_id, manifest, len(items), from_reporter=False,
                             called=called, base_url=base_url)
    answered = _forward_answered(session, partner, manifest.get("reply_to"))
    if answered is not None:
        return _file_reply(session, partner, answered, bundle_id, manifest, items)
    joined = _case_it_joins(session, partner, manifest.get("addition_to"))
    if joined is not None:
        return _file_addition(session, partner, joined, bundle_id, manifest, items, base_url)
    if any(item.kind not in FORWARDED_KINDS for item in items):
        # A partner's bundle cannot file an internal note, or an exchange item, as part of a case.
        raise bundles.BundleError("contents")
    described = manifest.get("case", {})
    today = clock.today()
    recipients = set(manifest.get("recipients", []))
    monitors = [u for u in session.scalars(select(User).where(User.role == MONITOR_ROLE, User.active.is_(True)))
                if u.recipient in recipients]
    case = Case(
        kind="forwarded", received_on=today, status="received", facility_id=None,
        language=described.get("language") or "en", urgent=bool(described.get("urgent")),
        acknowledge_due=deadlines.acknowledge_due(today, 7), feedback_due=deadlines.feedback_due(today, 3),
        receipt_lookup=None, submission_digest=hashlib.sha256(b"bundle:" + bundle_id.encode()).digest(),
        reporter_recipient="", recipient_choice="monitor",
        mandatory_notification=bool(described.get("mandatory_notification")),
    )
    case.related_case_id = _received_case_id(session, partner, described.get("about_reference"))
    valid_codes = set(CATEGORIES) | set(RETALIATION_TYPES)
    case.categories = [CaseCategory(code=c) for c in sorted(set(described.get("categories", []))) if c in valid_codes]
    case.keyholders = [Keyholder(user_id=u.id) for u in monitors]
    case.lead_user_id = monitors[0].id if monitors else None
    # An attachment's evidence record travels as an item of its own, encrypted to the same monitors.
    records = {item.meta.get("describes"): item.data for item in items if item.kind == outbound.RECORD_KIND}
    case.items.extend(_case_item(item, item.meta.get("author", "system"), records, today)
                      for item in items if item.kind != outbound.RECORD_KIND)
    # The day only: a bundle forwarded as the worker's report arrived comes in the same minute.
    received = ReceivedBundle(bundle_id=bundle_id, partner_id=partner.id, received_at=clock.start_of_today(),
                              manifest=json.dumps(manifest, ensure_ascii=False), status="received")
    session.add(case)
    try:
        session.flush()
        received.case_id = case.id
        case.last_reporter_item_id = max((i.id for i in case.items), default=0)
        session.add(received)
        session.flush()
        audit.record(session, "bundle_received", None, case.id, {"partner": partner.id, "items": len(items)},
                     commit=False)
        if base_url:
            notifications.queue_for(session, monitors, case, base_url)
        session.commit()
    except IntegrityError:
        return _filed_before(session, bundle_id)
    return Filed(received, False)


def _case_item(item: bundles.Item, author: str, records: dict, today: date) -> CaseItem:
    """A partner's item as a case item here: a message by ``author``, a file typed as every stored
    file is (whatever the partner declared), with its evidence record. A bundle from an older
    instance carries no record: the file shows as received, and downloads."""
    attachment = item.kind == "attachment"
    return CaseItem(kind=item.kind, author=author if item.kind == "message" and author in AUTHORS else "system",
                    created_on=today,
                    blob=item.data, size=len(item.data),
                    content_type=attachments.media_type(item.meta.get("content_type")) if attachment else None,
                    evidence_record=records.get(item.name) if attachment else None)


def _filed_before(session, bundle_id: str) -> Filed:
    """Called on a clash while filing: the same bundle, filed by a delivery that won the race."""
    session.rollback()
    earlier = session.scalar(select(ReceivedBundle).where(ReceivedBundle.bundle_id == bundle_id))
    if earlier is None:
        raise  # the clash being handled was another one
    return Filed(earlier, True)


def can_answer_worker(received: ReceivedBundle | None) -> bool:
    """A case the sender's worker sent to us alone: we answer them through the sender's portal."""
    return received is not None and bool(json.loads(received.manifest).get("reply_recipient"))


def answer_worker(session, actor: User, case: Case, text: str) -> Forward:
    """A monitor's message to the worker of a case the sender forwarded as it arrived, for us alone.

    Kept here for the case's keyholders, and sent back to the sender encrypted to the worker's
    key only: the worker reads it there with their receipt; nobody at the sender can."""
    received = received_of(session, case.id)
    if not can_answer_worker(received) or not text.strip():
        raise ForwardError("answer")
    manifest = json.loads(received.manifest)
    partner = session.get(Partner, received.partner_id)
    body = text.strip().encode("utf-8")
    today = clock.today()
    session.add(CaseItem(case_id=case.id, kind="message", author="handler", author_user_id=actor.id,
                         created_on=today, created_at=clock.now(), size=len(body),
                         blob=crypto.encrypt(body, keyring.case_recipients(session, case, reporter=False))))
    to_worker = [manifest["reply_recipient"]]
    item = bundles.Item("items/01-message.age", "message", crypto.encrypt(body, to_worker),
                        {"content_type": "text/plain; charset=utf-8", "author": "monitor", "day": today.isoformat()})
    forward = outbound.store(session, actor, case, partner, str(manifest.get("consent_scope", "without_identity")),
                             to_worker, [item], {"fields": [], "files": 0},
                             links={"reply_to": received.bundle_id})
    audit.record(session, "message", actor, case.id, {"to": "reporter", "via": partner.id}, commit=False)
    session.commit()
    return forward


def _forward_answered(session, partner: Partner, reply_to) -> Forward | None:
    """Our forward, made as a worker's case arrived for ``partner`` alone, that ``partner`` answers."""
    if not isinstance(reply_to, str) or not reply_to:
        return None
    forward = session.scalar(select(Forward).where(Forward.bundle_id == reply_to, Forward.partner_id == partner.id,
                                                   Forward.created_by.is_(None)))
    if forward is None or session.get(Case, forward.case_id).recipient_choice != "monitor":
        raise bundles.BundleError("contents")
    return forward


def _file_reply(session, partner: Partner, answered: Forward, bundle_id: str, manifest: dict, items) -> Filed:
    """The partner's answer to our worker: a message on the case, which only the worker's key opens."""
    case = session.get(Case, answered.case_id)
    messages = [item for item in items if item.kind == "message"]
    if not messages or not all(_is_age_file(item.data) for item in messages):
        raise bundles.BundleError("contents")
    for item in messages:
        case.items.append(CaseItem(kind="message", author="handler", created_on=clock.today(), blob=item.data,
                                   size=len(item.data)))
    return _file_on_case(session, partner, case, bundle_id, manifest, len(messages), from_reporter=False)


def _is_age_file(data: bytes) -> bool:
    """Whether ``data`` is an age file at all: what only the worker's key opens cannot be checked here."""
    try:
        crypto.split_header(data)
    except (crypto.AgeError, ValueError):
        return False
    return True


def _case_it_joins(session, partner: Partner, addition_to) -> Case | None:
    """The case filed here from ``partner``'s bundle ``addition_to``, which a later bundle adds to."""
    if not isinstance(addition_to, str) or not addition_to:
        return None
    first = session.scalar(select(ReceivedBundle).where(ReceivedBundle.bundle_id == addition_to,
                                                        ReceivedBundle.partner_id == partner.id))
    case = session.get(Case, first.case_id) if first is not None else None
    # Only a case the partner's forward made here. Its exchange bundles are filed on our own report
    # too: naming one of them must not add "the worker's" messages to a report the worker wrote here.
    if case is not None and case.kind != "forwarded":
        raise bundles.BundleError("contents")
    return case


def _file_addition(session, partner: Partner, case: Case, bundle_id: str, manifest: dict, items,
                   base_url: str) -> Filed:
    """What the worker added at the sender (a message, files) joins the case they sent before."""
    today = clock.today()
    records = {item.meta.get("describes"): item.data for item in items if item.kind == outbound.RECORD_KIND}
    added = [item for item in items if item.kind in ("message", "attachment")]
    case.items.extend(_case_item(item, "reporter", records, today) for item in added)
    return _file_on_case(session, partner, case, bundle_id, manifest, len(added), from_reporter=True,
                         called=keyring.holders_of(session, case), base_url=base_url)


def _file_on_case(session, partner: Partner, case: Case, bundle_id: str, manifest: dict, count: int, *,
                  from_reporter: bool, called=(), base_url: str = "") -> Filed:
    """Record a bundle whose items were added to ``case`` (a case filed before) and commit; a bundle
    filed by a concurrent delivery of the same bundle wins."""
    received = ReceivedBundle(bundle_id=bundle_id, partner_id=partner.id, case_id=case.id,
                              received_at=clock.start_of_today(), manifest=json.dumps(manifest, ensure_ascii=False),
                              status="received")
    session.add(received)
    try:
        session.flush()
        if from_reporter:
            case.last_reporter_item_id = max((i.id for i in case.items), default=0)
        audit.record(session, "bundle_received", None, case.id, {"partner": partner.id, "items": count},
                     commit=False)
        if base_url and called:
            notifications.queue_for(session, list(called), case, base_url)
        session.commit()
    except IntegrityError:
        return _filed_before(session, bundle_id)
    return Filed(received, False)


def _received_case_id(session, partner: Partner, reference) -> int | None:
    """The case filed here from ``partner``'s bundle of its case ``reference``: a claim the
    worker filed there about a report forwarded here earlier is shown with it."""
    if not isinstance(reference, str) or not reference:
        return None
    candidates = session.scalars(select(ReceivedBundle).where(
        ReceivedBundle.partner_id == partner.id, ReceivedBundle.manifest.contains(reference))
        .order_by(ReceivedBundle.id))
    return next((r.case_id for r in candidates
                 if json.loads(r.manifest).get("case", {}).get("reference") == reference), None)


def import_file(session, bundle: bytes, base_url: str = "") -> Filed:
    """An offline bundle (uploaded, or ``portal forwards import``): its sender must be a registered partner."""
    sender = bundles.read_manifest(bundle).get("sender")
    if not isinstance(sender, dict) or not isinstance(sender.get("fingerprint"), str):
        raise bundles.BundleError("malformed")
    partner = partners.by_fingerprint(session, sender["fingerprint"])
    if partner is None:
        raise bundles.BundleError("unknown_sender")
    return receive(session, partner, bundle, base_url)


def received_of(session, case_id: int) -> ReceivedBundle | None:
    """The bundle that filed the case (later ones added the worker's messages and files to it)."""
    return session.scalar(select(ReceivedBundle).where(ReceivedBundle.case_id == case_id)
                          .order_by(ReceivedBundle.id).limit(1))


def set_status(session, actor: User, received: ReceivedBundle, status: str) -> None:
    """The monitor's status for the sender (acknowledged, under review, findings shared, closed)."""
    order = RECEIVED_STATUSES
    if status not in REMOTE_STATUSES or order.index(status) <= order.index(received.status):
        raise ForwardError("status")
    received.status, received.status_changed_at = status, clock.now()
    received.status_sequence = (received.status_sequence or 0) + 1
    received.status_unsent, received.status_attempts = True, 0
    received.status_next_attempt_at = clock.now()
    case = session.get(Case, received.case_id)
    case.status = "closed" if status == "closed" else "acknowledged" if status == "acknowledged" else case.status
    if status == "acknowledged":
        case.acknowledged_on = clock.today()
    audit.record(session, "status", actor, received.case_id, {"remote_status": status}, commit=False)
    session.commit()


def send_status(session, received: ReceivedBundle) -> bool:
    """Tell the sender our status for its bundle, signed; retried until it arrives."""
    partner = session.get(Partner, received.partner_id)
    document = {"bundle_id": received.bundle_id, "status": received.status,
                "at": clock.as_utc(received.status_changed_at).isoformat(timespec="seconds"),
                "from": partners.own_fingerprint(session), "sequence": received.status_sequence}
    body = signing.canonical(signing.signed_document(session, document))
    received.status_attempts += 1
    try:
        answer = partner_http.post(partner.base_url, f"{outbound.BUNDLES_PATH}/{received.bundle_id}/status",
                                   partner.outbound_token, body, "application/json")
        # "stale": the sender has this status, or a newer one, already (an earlier try arrived).
        delivered = answer.status == 200 or (answer.status == 409 and (answer.json() or {}).get("error") == "stale")
    except partner_http.Unreachable as error:
        partner_http.log_unreachable(partner.id, error)
        delivered = False
    if delivered:
        received.status_unsent = False
    else:
        received.status_next_attempt_at = clock.now() + outbound.backoff(received.status_attempts)
    session.commit()
    return delivered


def record_remote_status(session, partner: Partner, bundle_id: str, envelope) -> Forward:
    """A status the partner sent back for one of our bundles, checked against its key.

    Every status is signed with its sequence number, counted per bundle by the partner; one whose
    number is not greater than the last accepted is refused (``stale``): an old signed status,
    replayed, cannot move a forward back. A status from a portal that sends no number is accepted
    only while none with a number was, and only if it comes later in the order of statuses."""
    document = signing.open_signed_document(envelope, partner.signing_key or b"")
    if document is None or document.get("from") != partner.fingerprint or document.get("bundle_id") != bundle_id:
        raise ForwardError("signature")
    forward = session.scalar(select(Forward).where(Forward.bundle_id == bundle_id,
                                                   Forward.partner_id == partner.id)
                             .with_for_update())
    if forward is None:
        raise ForwardError("unknown")
    status = document.get("status")
    if status not in REMOTE_STATUSES:
        raise ForwardError("status")
    sequence = document.get("sequence")
    if sequence is None:
        newer = forward.remote_status_sequence == 0 and (
            forward.remote_status is None or REMOTE_STATUSES.index(status) > REMOTE_STATUSES.index(forward.remote_status))
    elif type(sequence) is not int or not 0 < sequence <= MAX_STATUS_SEQUENCE:
        # A count from 1 that every database's integer column holds: a number beyond it would
        # fail the write (an error instead of an answer), or freeze the forward's statuses.
        raise ForwardError("status")
    else:
        newer = sequence > forward.remote_status_sequence
    if not newer:
        session.rollback()
        raise ForwardError("stale")
    now = clock.now()
    forward.remote_status, forward.remote_status_at = status, now
    forward.remote_status_sequence = sequence or 0
    forward.delivered_at = forward.delivered_at or now
    forward.state = "acknowledged"
    forward.acknowledged_at = forward.acknowledged_at or now
    case = session.get(Case, forward.case_id)
    if forward.created_by is None and case.recipient_choice == "monitor" and case.acknowledged_on is None:
        # Electronics Watch alone handles this report: its acknowledgement is the case's,
        # so the deadline here is met and the worker's page moves on.
        case.status, case.acknowledged_on = "acknowledged", clock.today()
    session.commit()
    return forward
