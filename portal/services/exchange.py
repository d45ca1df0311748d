"""The exchange on a forwarded case: the contractor's keyholders and Electronics Watch's monitor
users write to each other about a case the contractor forwarded, both ways, on the forwarding
transport (signed bundles of age items, delivered with retries, refused on replay).

Who reads what:

- the contractor sends to the partner's published monitor recipients and its recovery key, as
  for a forward;
- the monitor sends to the recipients the contractor named in its latest bundle of the case
  (``exchange_recipients``: the case's keyholders there and the contractor's recovery key, never
  the reporter). The contractor files the items as they are: nobody on the monitor's server, nor
  the contractor's server, can open them. Each side keeps its own copy of what it sent,
  encrypted to its own keyholders.

Every bundle is numbered per case, partner and direction (``sequence``); the receiver files them
in that order. One that arrives before its predecessor is held (stored, not shown) until the gap
is filled; a bundle delivered twice is filed once (the partner answers "duplicate"); another
bundle claiming a number already filed is refused (``sequence``).

A bundle holds one item of a kind in ``KINDS`` (a message, a request for information, a request
for a site visit), then any documents (each cleaned as the sender's portal cleans every file,
followed by its evidence record).

Two kinds carry the findings of a case (``findings``) and Electronics Watch's answer to them:

- ``findings``: the contractor's keyholders send the findings of the case and its corrective action
  plan (``send_findings``): each finding's text, each action's public reference, description, owner,
  due date and state, as they stand that day, and the actions' evidence files if asked. Sent again, it is a new bundle with the state of then.
- ``action_verdict``: the monitor verifies an action or finds it not done, with a comment
  (``send_verdict``). The action's reference and the verdict travel in the item's manifest entry
  (signed, in clear: no secret, the action's uuid and a word); the comment in the encrypted item.
  The contractor refuses whole a verdict naming no action of the case the exchange is about
  (``contents``), and as it files it (``on_filed``, in order) records it on the action:
  ``findings.record_monitor_verdict``.

Extension point: a kind is one entry of ``KINDS``: ``on_filed``, a function ``(session, case, row,
meta)`` called once, in order, as the receiving side files the bundle, and ``check``, called with
``(session, case, meta)`` as it arrives, to refuse it whole. Transport, order, replay and
notifications are the kind's for free.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import crypto

from ..models import Case, CaseItem, ExchangeBundle, Forward, Partner, ReceivedBundle, User
from . import (
    attachments,
    audit,
    bundles,
    clock,
    conflicts,
    evidence,
    findings,
    keyring,
    manifests,
    notifications,
    outbound,
    partner_http,
    partners,
)
from . import instance as instance_service
from .refusal import Refusal

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
FILE_KINDS = ("attachment", outbound.RECORD_KIND)
MAX_SEQUENCE = 2**31 - 1
# How far ahead of the last bundle filed a partner's bundle may be numbered and still be held: a gap
# is the bundles in flight, and a bundle numbered beyond it would be stored, never shown, forever.
HOLD_AHEAD = 100
MAX_TEXT = 10000
# Keyholders sending on one case at the same moment: each clash costs the loser one more attempt.
NUMBERING_ATTEMPTS = 5


@dataclass(frozen=True)
class Kind:
    """One kind of exchange bundle."""

    content_type: str
    # Only the monitor's side (the instance the case was forwarded to) sends it.
    monitor_only: bool = False
    # The other side answers it ("in answer to").
    answerable: bool = False
    # Called as the receiving side files a bundle of this kind, in order: (session, case, row, meta).
    on_filed: Callable | None = None
    # Offered in the case page's exchange form (a kind sent from a page of its own is not).
    offered: bool = True
    # Only the contractor's side (the instance that forwarded the case) sends it.
    contractor_only: bool = False
    # Called as a bundle of this kind arrives, before anything is stored: (session, case, meta);
    # False refuses the bundle whole.
    check: Callable | None = None


def _verdict_check(session, case: Case, meta: dict) -> bool:
    action = findings.action_by_reference(session, case, meta.get("action"))
    return action is not None and meta.get("verdict") in findings.VERDICTS


def _verdict_filed(session, case: Case, row, meta: dict) -> None:
    action = findings.action_by_reference(session, case, meta.get("action"))
    if action is None or not findings.verdict_allowed(action, meta.get("verdict")):
        # Checked on arrival; a verdict held behind an earlier bundle may have been overtaken
        # (verified, then given again): it stays in the exchange and moves nothing.
        return
    # The comment is in the encrypted item: the contractor's server cannot read it, so the
    # verdict item says "see the exchange" for it, and the exchange shows it to keyholders.
    findings.record_monitor_verdict(session, action.reference, meta["verdict"], monitor=None, commit=False)


KINDS = {
    "message": Kind(TEXT),
    "information_request": Kind(TEXT, monitor_only=True, answerable=True),
    # A JSON document: {"text": ..., "dates": ...} (the dates proposed, as written).
    "visit_request": Kind(JSON, monitor_only=True, answerable=True),
    # A JSON document: {"findings": [{"text": ..., "actions": [{"reference", "description", "owner",
    # "due_on", "state"}]}]}.
    "findings": Kind(JSON, contractor_only=True, offered=False),
    # A JSON document: {"action": reference, "verdict": ..., "comment": ...}.
    "action_verdict": Kind(JSON, monitor_only=True, offered=False, on_filed=_verdict_filed, check=_verdict_check),
}


class ExchangeError(Refusal):
    """Nothing sent (reason: channel, kind, empty, answers, recipients, busy: others kept sending on
    the case at the same moment)."""


@dataclass(frozen=True)
class Channel:
    case: Case
    partner: Partner
    # The bundle id of the forward that opened the exchange: both instances know the case by it.
    anchor: str
    # Whether this is the monitor's side (the case was forwarded to us).
    monitor_side: bool
    # Whom what this side sends is encrypted to.
    recipients: list


def channel_of(session, case: Case) -> Channel | None:
    """The exchange of ``case`` with its partner, if it has one this side can write on."""
    if case.kind == "forwarded":
        received = list(session.scalars(select(ReceivedBundle).where(ReceivedBundle.case_id == case.id)
                                        .order_by(ReceivedBundle.id)))
        if not received:
            return None
        named = [json.loads(r.manifest).get("exchange_recipients") for r in received
                 if r.partner_id == received[0].partner_id]
        recipients = next((r for r in reversed(named) if r), None)
        partner = session.get(Partner, received[0].partner_id)
        if not recipients or not partner.active or not partner.outbound_token:
            return None
        return Channel(case, partner, received[0].bundle_id, True, list(recipients))
    anchor = _anchor_forward(session, case)
    if anchor is None:
        return None
    partner = session.get(Partner, anchor.partner_id)
    recipients = partners.monitor_recipients(partner)
    if not partner.active or not recipients:
        return None
    return Channel(case, partner, anchor.bundle_id, False, recipients)


def _anchor_forward(session, case: Case) -> Forward | None:
    """The first delivered forward of a case its keyholders here hold (not one the worker sent to
    the partner alone: the contractor has no keyholder on it)."""
    if case.recipient_choice == "monitor":
        return None
    return session.scalar(select(Forward).where(Forward.case_id == case.id, Forward.delivered_at.is_not(None))
                          .order_by(Forward.id).limit(1))



def _payload(kind: str, text: str, dates: str) -> bytes:
    if KINDS[kind].content_type == JSON:
        return json.dumps({"text": text, "dates": dates}, ensure_ascii=False).encode("utf-8")
    return text.encode("utf-8")


def send(session, actor: User, case: Case, kind: str, text: str, *, dates: str = "", files=(),
         answers: int | None = None, base_url: str = "", document: dict | None = None,
         meta: dict | None = None) -> ExchangeBundle:
    """Sign and keep, waiting for delivery, a bundle of the exchange: ``kind``'s item, then the
    ``files`` (bytes, cleaned here), ``answers`` naming the partner's request it answers.
    ``document`` is the item of a JSON kind written whole (``text`` and ``dates`` otherwise);
    ``meta``, what its manifest entry says in clear.
    Raises ``ExchangeError``, or ``attachments.AttachmentError`` for a file refused; nothing is kept then."""
    channel = channel_of(session, case)
    if channel is None:
        raise ExchangeError("channel")
    spec = KINDS.get(kind)
    if spec is None or (spec.monitor_only and not channel.monitor_side) or (spec.contractor_only
                                                                            and channel.monitor_side):
        raise ExchangeError("kind")
    text, dates = (text or "").strip()[:MAX_TEXT], (dates or "").strip()[:1000]
    if not text and not dates and not files and not document:
        raise ExchangeError("empty")
    if answers is not None and answers not in {row.sequence for row in answerable(session, case)}:
        raise ExchangeError("answers")
    cleaned = attachments.cleaned(list(files), disguise_voice=False)
    ours = keyring.case_recipients(session, case, reporter=False)
    theirs = channel.recipients
    payload = (json.dumps(document, ensure_ascii=False).encode("utf-8") if document is not None
               else _payload(kind, text, dates))
    day = clock.today().isoformat()
    try:
        items = [bundles.Item(f"items/01-{kind}.age", kind, crypto.encrypt(payload, theirs),
                              dict(meta or {}, content_type=spec.content_type, day=day))]
        for clean in cleaned:
            items.append(bundles.Item(f"items/{len(items) + 1:02d}-attachment.age", "attachment",
                                      crypto.encrypt(clean.data, theirs), {"content_type": clean.content_type,
                                                                           "day": day}))
            items.append(outbound.record_item(len(items) + 1, items[-1].name, evidence.of(clean), theirs))
    except (crypto.AgeError, ValueError, TypeError):
        raise ExchangeError("recipients") from None
    kept = _Kept(crypto.encrypt(payload, ours), len(payload),
                 [(clean, crypto.encrypt(clean.data, ours)) for clean in cleaned], ours)
    for _attempt in range(NUMBERING_ATTEMPTS):
        try:
            return _numbered_and_kept(session, actor, channel, kind, answers, items, kept, base_url)
        except IntegrityError:
            # Another keyholder's bundle took the number between our reading it and writing ours:
            # nothing of this attempt stays, and the next one reads the number after theirs.
            session.rollback()
    raise ExchangeError("busy")


@dataclass(frozen=True)
class _Kept:
    """This side's own copy of what it sends, encrypted to its keyholders: the item, then the files."""

    blob: bytes
    size: int
    files: list  # (cleaned file, its bytes encrypted)
    recipients: list


def _numbered_and_kept(session, actor: User, channel: Channel, kind: str, answers: int | None, items: list,
                       kept: _Kept, base_url: str) -> ExchangeBundle:
    """Number the bundle after the last sent on the case, sign it and keep it with our copy, all
    committed at once. The number is read before this transaction writes anything: two keyholders
    sending at once both read it, and the unique number refuses the second (IntegrityError), who
    tries again. (Written first, our copy would hold SQLite's write lock while the number is read.)"""
    case, partner = channel.case, channel.partner
    today, day = clock.today(), clock.today().isoformat()
    sequence = 1 + (session.scalar(select(func.max(ExchangeBundle.sequence)).where(
        ExchangeBundle.case_id == case.id, ExchangeBundle.partner_id == partner.id,
        ExchangeBundle.direction == "sent")) or 0)
    bundle_id = str(uuid.uuid4())
    instance = instance_service.load(session)
    manifest = {
        "bundle_id": bundle_id, "created_at": day,
        "sender": {"organisation": instance.organisation_name, "fingerprint": partners.own_fingerprint(session)},
        "addressee_fingerprint": partner.fingerprint, "recipients": channel.recipients,
        "exchange": {"of": channel.anchor, "sequence": sequence, "answers": answers},
        # The sender's own reference of the case: each side reads the other's.
        "case": {"reference": case.reference},
    }
    if not channel.monitor_side:
        # Keyholders come and go: each bundle tells the partner whom to write to now.
        manifest["exchange_recipients"] = kept.recipients
    signed = bundles.build(session, manifest, items)
    stored = [CaseItem(kind="exchange", author="handler", author_user_id=actor.id, created_on=today,
                       created_at=clock.now(), content_type=KINDS[kind].content_type, size=kept.size,
                       blob=kept.blob)]
    for clean, blob in kept.files:
        stored.append(evidence.store(CaseItem(kind="exchange_file", author="handler", author_user_id=actor.id,
                                              created_on=today, created_at=clock.now(), size=len(clean.data),
                                              blob=blob), clean, kept.recipients))
    case.items.extend(stored)
    session.flush()
    row = ExchangeBundle(bundle_id=bundle_id, case_id=case.id, partner_id=partner.id, direction="sent",
                         sequence=sequence, kind=kind, answers=answers, item_ids=json.dumps([i.id for i in stored]),
                         position=_next_position(session, case), created_on=today, created_by=actor.id,
                         bundle=signed, state="pending", attempts=0, next_attempt_at=clock.now(), last_error="")
    session.add(row)
    session.flush()
    audit.record(session, "exchange", actor, case.id, {"partner": partner.id, "kind": kind,
                                                       "sequence": sequence, "files": len(kept.files)}, commit=False)
    if base_url:
        notifications.queue_for(session, [u for u in _called(session, case) if u.id != actor.id], case, base_url)
    session.commit()
    return row


def _next_position(session, case: Case) -> int:
    return 1 + (session.scalar(select(func.max(ExchangeBundle.position)).where(ExchangeBundle.case_id == case.id))
                or 0)


def findings_document(session, case: Case, identity, *, evidence_files: bool = False) -> tuple[dict, list]:
    """The findings of ``case`` and its corrective action plan as they stand, read with a keyholder's
    key; with ``evidence_files``, the actions' evidence too (each already cleaned, with its record),
    each action naming its files by their place among the bundle's documents (from 1)."""
    files = []

    def evidence_of(view) -> list[int]:
        numbers = []
        for file in view.files if evidence_files else ():
            record = file.record
            if record is None:
                continue
            files.append(attachments.CleanFile(crypto.decrypt(file.item.blob, identity), record.content_type, "",
                                               record.steps, record.pages, record.duration))
            numbers.append(len(files))
        return numbers

    document = {"findings": [
        {"text": view.text, "actions": [
            {"reference": a.action.reference, "description": a.description, "owner": a.owner,
             "due_on": a.action.due_on.isoformat() if a.action.due_on else "", "state": a.action.state,
             "evidence": evidence_of(a)}
            for a in view.actions]}
        for view in findings.for_case(session, case, identity)]}
    return document, files


def send_findings(session, actor: User, identity, case: Case, *, answers: int | None = None,
                  evidence_files: bool = False, base_url: str = "") -> ExchangeBundle:
    """The contractor's findings and corrective action plan of ``case``, as they stand today, to the
    monitor, with the actions' evidence files if asked. Raises ``ExchangeError("empty")`` for a case
    without findings."""
    document, files = findings_document(session, case, identity, evidence_files=evidence_files)
    if not document["findings"]:
        raise ExchangeError("empty")
    return send(session, actor, case, "findings", "", answers=answers, base_url=base_url, document=document,
                files=files)


def received_plan(session, case: Case, identity) -> dict:
    """The latest findings the partner sent on ``case`` (the monitor's side), by action reference:
    ``{reference: action}``, empty when none came."""
    rows = session.scalars(select(ExchangeBundle).where(
        ExchangeBundle.case_id == case.id, ExchangeBundle.direction == "received", ExchangeBundle.kind == "findings",
        ExchangeBundle.position.is_not(None)).order_by(ExchangeBundle.sequence.desc()).limit(1)).all()
    for row in rows:
        item = session.get(CaseItem, json.loads(row.item_ids)[0])
        try:
            document = _json_object(crypto.decrypt(item.blob, identity))
        except crypto.NoIdentityError:
            return {}
        return {str(a.get("reference")): a for f in _list(document.get("findings")) if isinstance(f, dict)
                for a in _list(f.get("actions")) if isinstance(a, dict)}
    return {}


def send_verdict(session, actor: User, identity, case: Case, reference: str, verdict: str, comment: str = "",
                 base_url: str = "") -> ExchangeBundle:
    """The monitor's verdict on an action of the plan the contractor sent: "verified" or "not_done",
    with a comment. Raises ``ExchangeError("action")`` for an action not in that plan, or a verdict
    that is not one."""
    plan = received_plan(session, case, identity)
    if verdict not in findings.VERDICTS or reference not in plan:
        raise ExchangeError("action")
    document = {"action": reference, "verdict": verdict, "comment": (comment or "").strip()[:findings.TEXT_LIMIT],
                "description": str(plan[reference].get("description", ""))[:findings.TEXT_LIMIT]}
    return send(session, actor, case, "action_verdict", "", base_url=base_url, document=document,
                meta={"action": reference, "verdict": verdict})


def _list(value) -> list:
    return value if isinstance(value, list) else []


# --- Delivery -----------------------------------------------------------------


def deliver(session, row: ExchangeBundle) -> bool:
    """One delivery attempt; True once the partner has the bundle (filed, held or filed before)."""
    partner = session.get(Partner, row.partner_id)
    row.attempts += 1
    try:
        answer = partner_http.post(partner.base_url, outbound.BUNDLES_PATH, partner.outbound_token, row.bundle,
                                   "application/zip")
    except partner_http.Unreachable as error:
        partner_http.log_unreachable(partner.id, error)
        delivered, error_text = False, "unreachable"
    else:
        body = answer.json() or {}
        delivered = answer.status in (200, 201) or (answer.status == 409 and body.get("error") == "duplicate")
        error_text = f"{answer.status}: {body.get('error', '')}"[:300]
    if delivered:
        row.state, row.delivered_at, row.last_error = "delivered", clock.now(), ""
    else:
        row.last_error = error_text
        row.next_attempt_at = clock.now() + outbound.backoff(row.attempts)
    session.commit()
    return delivered


def deliver_due(session, everything_now: bool = False) -> int:
    due = select(ExchangeBundle).where(ExchangeBundle.state == "pending").order_by(
        ExchangeBundle.case_id, ExchangeBundle.sequence)
    if not everything_now:
        due = due.where(ExchangeBundle.next_attempt_at <= clock.now())
    return sum(deliver(session, row) for row in session.scalars(due).all())


# --- Receiving ----------------------------------------------------------------


def file_received(session, partner: Partner, bundle_id: str, manifest: dict, items) -> tuple[Case, list[User]]:
    """Add a verified exchange bundle from ``partner`` to its case (not committed); returns the case
    and the keyholders to tell. Raises ``bundles.BundleError``: ``contents`` (no such exchange, an
    item it may not hold), ``sequence`` (a number not a count, or one filed before)."""
    link = manifest.get("exchange")
    if not isinstance(link, dict):
        raise bundles.BundleError("contents")
    case, monitor_side = _case_of_anchor(session, partner, link.get("of"))
    sequence, answers = link.get("sequence"), link.get("answers")
    if type(sequence) is not int or not 0 < sequence <= MAX_SEQUENCE:
        raise bundles.BundleError("sequence")
    if answers is not None and (type(answers) is not int or not 0 < answers <= MAX_SEQUENCE):
        raise bundles.BundleError("contents")
    spec = KINDS.get(items[0].kind) if items else None
    # A contractor does not ask its monitor for a visit: what it may not send is refused whole.
    if spec is None or (spec.monitor_only and monitor_side) or (spec.contractor_only and not monitor_side):
        raise bundles.BundleError("contents")
    if spec.check is not None and not spec.check(session, case, items[0].meta):
        # A verdict on an action of another case, or of none: filed nowhere.
        raise bundles.BundleError("contents")
    rest = items[1:]
    if any(item.kind not in FILE_KINDS for item in rest) or not all(_is_age_file(i.data) for i in items):
        raise bundles.BundleError("contents")
    if monitor_side and not manifests.usable_recipients(manifest.get("exchange_recipients")):
        raise bundles.BundleError("contents")
    if sequence > _filed_up_to(session, case, partner) + HOLD_AHEAD:
        raise bundles.BundleError("sequence")
    if session.scalar(select(ExchangeBundle.id).where(
            ExchangeBundle.case_id == case.id, ExchangeBundle.partner_id == partner.id,
            ExchangeBundle.direction == "received", ExchangeBundle.sequence == sequence)) is not None:
        # The same number under another bundle id: a replay dressed as new, or a partner that lies.
        raise bundles.BundleError("sequence")
    today = clock.today()
    main = items[0]
    stored = [CaseItem(kind="exchange", author="partner", created_on=today, content_type=spec.content_type,
                       size=len(main.data), blob=main.data)]
    records = {item.meta.get("describes"): item.data for item in rest if item.kind == outbound.RECORD_KIND}
    for item in rest:
        if item.kind == "attachment":
            stored.append(CaseItem(kind="exchange_file", author="partner", created_on=today,
                                   content_type=attachments.media_type(item.meta.get("content_type")),
                                   size=len(item.data), blob=item.data, evidence_record=records.get(item.name)))
    case.items.extend(stored)
    session.flush()
    row = ExchangeBundle(bundle_id=bundle_id, case_id=case.id, partner_id=partner.id, direction="received",
                         sequence=sequence, kind=main.kind, answers=answers,
                         item_ids=json.dumps([i.id for i in stored]), position=None, created_on=today,
                         state="held", attempts=0, last_error="")
    session.add(row)
    session.flush()
    _release(session, case, partner, {bundle_id: main.meta})
    return case, _called(session, case)


def _called(session, case: Case) -> list[User]:
    """The holders told that the exchange moved: active, and not barred from the case by a conflict
    of interest (even "something new" tells them the case about their facility is alive)."""
    barred = conflicts.conflicted_holder_ids(session, case)
    return [u for u in keyring.holders_of(session, case) if u.active and u.id not in barred]


def _filed_up_to(session, case: Case, partner: Partner) -> int:
    """The number of the partner's last bundle on ``case`` filed here (0: none yet)."""
    return session.scalar(select(func.max(ExchangeBundle.sequence)).where(
        ExchangeBundle.case_id == case.id, ExchangeBundle.partner_id == partner.id,
        ExchangeBundle.direction == "received", ExchangeBundle.position.is_not(None))) or 0


def _release(session, case: Case, partner: Partner, metas: dict) -> None:
    """File, in order, every held bundle whose predecessors are filed."""
    filed = _filed_up_to(session, case, partner)
    held = session.scalars(select(ExchangeBundle).where(
        ExchangeBundle.case_id == case.id, ExchangeBundle.partner_id == partner.id,
        ExchangeBundle.direction == "received", ExchangeBundle.position.is_(None))
        .order_by(ExchangeBundle.sequence)).all()
    for row in held:
        if row.sequence != filed + 1:
            break
        row.position, row.state = _next_position(session, case), "filed"
        session.flush()
        filed += 1
        hook = KINDS[row.kind].on_filed if row.kind in KINDS else None
        if hook is not None:
            hook(session, case, row, metas[row.bundle_id] if row.bundle_id in metas else _held_meta(session, row))


def _held_meta(session, row: ExchangeBundle) -> dict:
    """The first item's manifest entry of a bundle that was held: read back from its manifest as filed."""
    received = session.scalar(select(ReceivedBundle).where(ReceivedBundle.bundle_id == row.bundle_id))
    contents = json.loads(received.manifest).get("contents") if received is not None else None
    return contents[0] if isinstance(contents, list) and contents and isinstance(contents[0], dict) else {}


def _case_of_anchor(session, partner: Partner, anchor) -> tuple[Case, bool]:
    """The case the partner's bundle is about, named by the forward that opened the exchange."""
    if isinstance(anchor, str) and anchor:
        forward = session.scalar(select(Forward).where(Forward.bundle_id == anchor, Forward.partner_id == partner.id))
        if forward is not None:
            case = session.get(Case, forward.case_id)
            # The exchange runs on the case the first delivered forward made at the partner.
            opened = _anchor_forward(session, case)
            if opened is not None and opened.bundle_id == anchor:
                return case, False
        received = session.scalar(select(ReceivedBundle).where(ReceivedBundle.bundle_id == anchor,
                                                                ReceivedBundle.partner_id == partner.id))
        if received is not None:
            return session.get(Case, received.case_id), True
    raise bundles.BundleError("contents")


def _is_age_file(data: bytes) -> bool:
    try:
        crypto.split_header(data)
    except (crypto.AgeError, ValueError):
        return False
    return True


# --- Reading ------------------------------------------------------------------


@dataclass
class Entry:
    """One bundle of the exchange as a case page shows it."""

    row: ExchangeBundle
    ours: bool
    author: str
    text: str
    dates: str = ""
    files: list = field(default_factory=list)
    # A JSON item whole (findings, a verdict).
    document: dict = field(default_factory=dict)
    # Encrypted to keys that do not include the reader's.
    closed: bool = False
    # An item that does not open with the reader's key: changed, cut short, or not an age file's body.
    damaged: bool = False

    @property
    def day(self) -> date:
        return self.row.created_on


@dataclass(frozen=True)
class Thread:
    entries: list
    # Bundles that arrived before an earlier one: filed once it comes.
    held: int
    channel: Channel | None


def thread(session, case: Case, identity) -> Thread:
    """The exchange on ``case``, both ways, in the order it was filed here."""
    rows = list(session.scalars(select(ExchangeBundle).where(ExchangeBundle.case_id == case.id)
                                .order_by(ExchangeBundle.position, ExchangeBundle.id)))
    items = {item.id: item for item in case.items if item.kind in ("exchange", "exchange_file")}
    authors = {row.created_by for row in rows if row.created_by}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(authors))).all())
    entries = []
    for row in rows:
        if row.position is None:
            continue
        stored = [items[i] for i in json.loads(row.item_ids) if i in items]
        entry = Entry(row, row.direction == "sent", names.get(row.created_by, ""), "")
        try:
            for item in stored:
                if item.kind == "exchange_file":
                    entry.files.append(evidence.file_of(item, identity))
                    continue
                data = crypto.decrypt(item.blob, identity)
                if item.content_type == JSON:
                    document = _json_object(data)
                    entry.text, entry.dates = str(document.get("text", "")), str(document.get("dates", ""))
                    entry.document = document
                else:
                    entry.text = data.decode("utf-8", "replace")
        except crypto.NoIdentityError:
            # Sent to the keyholders the partner knew of: a holder who joined since waits for re-admission.
            entry.closed, entry.files = True, []
        except crypto.AgeError:
            # The partner's side wrote what it signed: a broken item is that entry's loss, not the page's.
            entry.damaged, entry.text, entry.dates, entry.files = True, "", "", []
        entries.append(entry)
    held = sum(1 for row in rows if row.position is None)
    return Thread(entries, held, channel_of(session, case))


def _json_object(data: bytes) -> dict:
    try:
        document = json.loads(data)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def answerable(session, case: Case) -> list[ExchangeBundle]:
    """The partner's requests on ``case`` this side may answer."""
    kinds = [name for name, kind in KINDS.items() if kind.answerable]
    return list(session.scalars(select(ExchangeBundle).where(
        ExchangeBundle.case_id == case.id, ExchangeBundle.direction == "received",
        ExchangeBundle.position.is_not(None), ExchangeBundle.kind.in_(kinds)).order_by(ExchangeBundle.sequence)))


def document(session, user: User, identity, case: Case, item_id: int) -> tuple[CaseItem, bytes] | None:
    """A document of the exchange, decrypted for a keyholder (the audit trail records the download)."""
    item = session.scalar(select(CaseItem).where(CaseItem.id == item_id, CaseItem.case_id == case.id,
                                                 CaseItem.kind == "exchange_file"))
    if item is None:
        return None
    try:
        data = crypto.decrypt(item.blob, identity)
    except crypto.AgeError:
        return None  # sent before this holder held the case, or damaged: see ``thread``
    audit.record(session, "download", user, case.id, {"item": item.id})
    return item, data
