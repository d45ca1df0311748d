"""A case exported for a lawyer or a court: one ZIP, encrypted with age to a
recipient the keyholder names, that the standard ``age`` tool opens.

The ZIP holds

- ``report.json`` and ``report.txt``: the case's facts and the report (or claim) as written;
- ``messages.json``/``messages.txt`` and ``notes.json``/``notes.txt``;
- ``files/NNNN-file.<ext>``: each stored evidence file (the worker's, or a corrective action's) as
  cleaning left it, beside
  ``files/NNNN-evidence.json``, its evidence record;
- ``records/NNNN-<kind>.json``: any other item of the case (a claim's measures, remedies, findings,
  corrective actions...);
- ``audit.json``: the audit entries of this case only;
- ``manifest.json``: the path, size and SHA-256 of every file above, the case's reference,
  who exported it and on which day, and the instance's signing key (the one that signs its
  forwarding bundles) with its fingerprint; ``manifest.sig``: that key's Ed25519 signature of
  ``manifest.json`` as stored, the scheme of ``bundles``.

Nothing decrypted touches the disk: the ZIP is written a member at a time into the age
encryption, which reads it as a stream; only ciphertext may spill to a temporary file.
``verify`` checks a decrypted export without the instance's database, as a court would.
"""

import base64
import hashlib
import io
import json
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import select

import crypto

from ..models import AuditEntry, Case, CaseItem, Facility, User
from . import audit, cases, clock, evidence, signing
from .refusal import Refusal

FORMAT = "whistleblower-portal-case-export/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# Ciphertext is kept in memory up to this size, then in a temporary file (it is encrypted).
SPOOL_BYTES = 8 * 1024 * 1024
READ_CHUNK = 64 * 1024
# A member goes into the ZIP, and on to the encryption, this much at a time.
WRITE_CHUNK = 1024 * 1024
# A recipient is one line: a hybrid post-quantum one is about 2,000 characters.
RECIPIENT_CHARS = 4000
REPORT_KINDS = ("report", "claim")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf",
              "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/mp4": "m4a", "video/mp4": "mp4",
              "video/webm": "webm", "text/plain": "txt"}


class ExportError(Refusal):
    """An export refused: ``recipient`` (not an age recipient)."""


def recipient_from(text: str):
    """The age recipient (``age1...`` or hybrid ``age1pq1...``) in ``text``; ExportError if it is none."""
    text = (text or "").strip()
    if not text or len(text) > RECIPIENT_CHARS or "\n" in text:
        raise ExportError("recipient")
    try:
        return crypto.parse_recipient(text)
    except (crypto.AgeError, ValueError, TypeError):
        raise ExportError("recipient") from None


def recipient_fingerprint(text: str) -> str:
    """SHA-256 of the recipient as written, in hex: what the audit trail keeps of it."""
    return hashlib.sha256(text.strip().lower().encode("ascii", "replace")).hexdigest()


@dataclass
class Sealed:
    """The encrypted export: ``file`` (positioned at 0) holds ``size`` bytes of age ciphertext."""

    file: object
    size: int
    filename: str


def export(session, user: User, identity, case: Case, recipient_text: str) -> Sealed:
    """The case, decrypted with the keyholder's ``identity`` and encrypted to ``recipient_text``
    (ExportError if it is not a recipient), recorded in the audit trail by the recipient's
    fingerprint. The caller has checked that ``user`` holds the case."""
    recipient = recipient_from(recipient_text)
    sealed = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        archive = _ZipStream(_members(session, user, identity, case),
                             lambda listed: _signed_manifest(session, user, case, listed))
        crypto.encrypt_stream(archive, sealed, [recipient])
        size = sealed.tell()
        sealed.seek(0)
        audit.record(session, "case_export", user, case.id, {
            "recipient": recipient_fingerprint(recipient_text), "files": archive.count,
            "own_key": recipient_text.strip() == (user.recipient or "").strip()})
    except BaseException:
        sealed.close()
        raise
    return Sealed(sealed, size, f"case-{case.reference}.zip.age")


def _signed_manifest(session, user, case, listed) -> tuple[bytes, bytes]:
    public = signing.public_key(session)
    manifest = {"format": FORMAT, "case": case.reference, "exported_on": clock.today().isoformat(),
                "exported_by": {"username": user.username, "display_name": user.display_name},
                "signer": {"public_key": base64.b64encode(public).decode(), "fingerprint": signing.fingerprint(public)},
                "files": listed}
    body = signing.canonical(manifest)
    return body, signing.sign(session, body)


# Writing the ZIP ---------------------------------------------------------------------------------

def _members(session, user, identity, case):
    """``(path, bytes)`` of every file of the export, decrypted one at a time: each item's
    ciphertext is read from the database as its turn comes, so a case of many large files
    holds one of them in memory at a time."""
    authors = dict(session.execute(select(User.id, User.display_name)).all())
    items = session.execute(select(*ITEM_FIELDS).where(CaseItem.case_id == case.id).order_by(CaseItem.id)).all()

    def opened(item) -> bytes:
        return crypto.decrypt(session.scalar(select(CaseItem.blob).where(CaseItem.id == item.id)), identity)

    report, messages, notes = {}, [], []
    for item in items:
        if item.kind in REPORT_KINDS:
            report = json.loads(opened(item))
        elif item.kind in ("message", "note"):
            entry = {"id": item.id, "from": _author(item, authors), "day": item.created_on.isoformat(),
                     "text": opened(item).decode("utf-8")}
            if item.author == "handler" and item.created_at:
                entry["at"] = clock.as_utc(item.created_at).isoformat(timespec="seconds")
            (messages if item.kind == "message" else notes).append(entry)
    facts = _facts(session, case)
    yield "report.json", _json(dict(facts, report=report))
    yield "report.txt", _report_text(facts, report).encode("utf-8")
    yield "messages.json", _json(messages)
    yield "messages.txt", _thread_text(gettext("Messages"), messages).encode("utf-8")
    yield "notes.json", _json(notes)
    yield "notes.txt", _thread_text(gettext("Internal notes"), notes).encode("utf-8")
    for item in items:
        # A corrective action's evidence is a file like the worker's (services/findings.py).
        if item.kind in ("attachment", "action_evidence"):
            stem = f"files/{item.id:04d}"
            yield f"{stem}-file.{EXTENSIONS.get(item.content_type or '', 'bin')}", opened(item)
            sealed_record = session.scalar(select(CaseItem.evidence_record).where(CaseItem.id == item.id))
            record = evidence.unseal(sealed_record, identity) if sealed_record else None
            yield f"{stem}-evidence.json", _json({
                "content_type": item.content_type, "day": item.created_on.isoformat(),
                "record": None if record is None else {
                    "content_type": record.content_type, "size": record.size, "sha256": record.sha256,
                    "cleaning_steps": list(record.steps), "pages": record.pages, "duration": record.duration}})
        # The worker's phone number (a report by text) stays out of an export: it is for texting them alone.
        elif item.kind not in REPORT_KINDS + ("message", "note", "action_evidence", "contact_sms"):
            yield f"records/{item.id:04d}-{item.kind}.json", _json({
                "kind": item.kind, "from": _author(item, authors), "day": item.created_on.isoformat(),
                "content": _content(opened(item))})
    yield "audit.json", _json(_audit_entries(session, case, authors))


# What the export reads of an item before its turn: everything but the ciphertext.
ITEM_FIELDS = (CaseItem.id, CaseItem.kind, CaseItem.author, CaseItem.author_user_id, CaseItem.created_on,
               CaseItem.created_at, CaseItem.content_type)


def _author(item, authors) -> str:
    return authors.get(item.author_user_id, "") if item.author == "handler" else item.author


def _content(data: bytes):
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def _facts(session, case) -> dict:
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    return {"reference": case.reference, "kind": case.kind, "status": case.status, "outcome": case.outcome,
            "received_on": case.received_on.isoformat(), "language": case.language,
            "categories": case.category_codes, "urgent": case.urgent,
            "acknowledged_on": _day(case.acknowledged_on), "feedback_given_on": _day(case.feedback_given_on),
            "closed_on": _day(case.closed_on),
            "facility": None if facility is None else {"name": facility.name, "country": facility.country,
                                                       "address": facility.address, "supplier": facility.supplier},
            "keyholders": [holder.display_name for holder in cases.keyholders(session, case)]}


def _day(value):
    return value.isoformat() if value else None


def _audit_entries(session, case, authors) -> list[dict]:
    entries = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id))
    return [{"id": entry.id, "at": clock.as_utc(entry.at).isoformat(), "actor_user_id": entry.actor_user_id,
             "actor": authors.get(entry.actor_user_id, ""), "action": entry.action,
             "detail": json.loads(entry.detail or "{}"), "previous_digest": entry.previous_digest.hex(),
             "digest": entry.digest.hex()} for entry in entries]


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


REPORT_LABELS = {
    "description": lambda: gettext("What happened"), "when": lambda: gettext("When"),
    "ongoing": lambda: gettext("Still happening"), "people_affected": lambda: gettext("People affected"),
    "contact": lambda: gettext("Contact details"), "consent": lambda: gettext("Sharing with Electronics Watch"),
}


# Shown above the report in report.txt, or of no use to a reader (report.json keeps them all).
NOT_IN_TEXT = ("language", "categories", "facility_id")


def _report_text(facts: dict, report: dict) -> str:
    lines = [gettext("Case %(reference)s", reference=facts["reference"]), ""]
    for label, value in ((gettext("Status"), facts["status"]), (gettext("Received"), facts["received_on"]),
                         (gettext("Language"), facts["language"]),
                         (gettext("Categories"), ", ".join(facts["categories"])),
                         (gettext("Facility"), ", ".join(v for v in (facts["facility"] or {}).values() if v))):
        lines.append(f"{label}: {value}")
    lines += ["", gettext("Report"), ""]
    for key, value in report.items():
        if key in NOT_IN_TEXT or value in ("", [], {}, None):
            continue
        label = REPORT_LABELS[key]() if key in REPORT_LABELS else key
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines += [f"{label}:", text, ""]
    return "\n".join(lines)


def _thread_text(title: str, entries: list[dict]) -> str:
    lines = [title, ""]
    for entry in entries:
        author = gettext("Reporter") if entry["from"] == "reporter" else entry["from"]
        lines += [f"[{entry.get('at', entry['day'])}] {author}", entry["text"], ""]
    return "\n".join(lines)


class _Sink:
    """Where zipfile writes: kept until taken. Not seekable, so zipfile streams (data descriptors)."""

    def __init__(self):
        self._parts = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


class _ZipStream(io.RawIOBase):
    """The ZIP of ``members`` as a readable stream, written a member at a time as it is read,
    with its manifest last, as ``signed_manifest(listed)`` returns it and its signature. ``count``: files listed in the manifest once read."""

    def __init__(self, members, signed_manifest):
        self._signed_manifest = signed_manifest
        self._chunks = self._write(members)
        self._chunk, self._at = b"", 0
        self.count = 0

    def readable(self):
        return True

    def readinto(self, buffer) -> int:
        while self._at >= len(self._chunk):
            self._chunk, self._at = next(self._chunks, None), 0
            if self._chunk is None:
                self._chunk = b""
                return 0
        size = min(len(buffer), len(self._chunk) - self._at)
        buffer[:size] = self._chunk[self._at:self._at + size]
        self._at += size
        return size

    def _write(self, members):
        sink, listed = _Sink(), []
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path, data in members:
                digest, view = hashlib.sha256(), memoryview(data)
                with archive.open(_member(path), "w") as member:
                    for start in range(0, len(view), WRITE_CHUNK):
                        digest.update(view[start:start + WRITE_CHUNK])
                        member.write(view[start:start + WRITE_CHUNK])
                        yield sink.take()
                listed.append({"path": path, "size": len(data), "sha256": digest.hexdigest()})
                del data, view
                yield sink.take()
            self.count = len(listed)
            body, signature = self._signed_manifest(listed)
            archive.writestr(_member(MANIFEST), body)
            archive.writestr(_member(SIGNATURE), signature)
        yield sink.take()


def _member(name: str) -> zipfile.ZipInfo:
    # A fixed date, as in a bundle: the archive does not keep the second it was made.
    member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    # Photos, PDFs and recordings are compressed already: deflating them again costs time for nothing.
    member.compress_type = zipfile.ZIP_STORED if name.startswith("files/") and name.endswith(
        tuple(f"-file.{extension}" for extension in EXTENSIONS.values() if extension != "txt")) else zipfile.ZIP_DEFLATED
    return member


# Checking an export ------------------------------------------------------------------------------

MANIFEST_BYTES = 16 * 1024 * 1024
# What reading a damaged or foreign ZIP raises: a bad CRC or header, a broken deflate stream,
# a member encrypted with a ZIP password (RuntimeError) or compressed in an unknown way.
UNREADABLE = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)


@dataclass
class Verification:
    """What ``verify`` checked (``checked``), and what does not hold (``problems``)."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(source, expected_fingerprint: str | None = None) -> Verification:
    """Check a decrypted export (a path or a binary file): the manifest's signature by the key it
    names, that key against ``expected_fingerprint`` when given, and that the ZIP holds exactly the
    files the manifest lists, each with its size and SHA-256. Needs no database."""
    result = Verification()
    try:
        with zipfile.ZipFile(source) as archive:
            _verify(archive, expected_fingerprint, result)
    except UNREADABLE as error:
        result.problems.append(f"not a readable export ZIP: {error}")
    return result


def _verify(archive, expected_fingerprint, result) -> None:
    names = archive.namelist()
    result.problems.extend(_layout_problems(archive))
    if len(names) != len(set(names)):
        result.problems.append("the ZIP holds two files of the same name")
    if MANIFEST not in names or SIGNATURE not in names:
        result.problems.append(f"{MANIFEST} or {SIGNATURE} is missing: this is not a signed export")
        return
    body = _read_capped(archive, MANIFEST, MANIFEST_BYTES)
    signature = _read_capped(archive, SIGNATURE, 64)
    try:
        manifest = json.loads(body)
        public = base64.b64decode(manifest["signer"]["public_key"], validate=True)
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, list):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        result.problems.append(f"{MANIFEST} is not the manifest of an export")
        return
    result.manifest = manifest
    fingerprint = signing.fingerprint(public)
    if manifest["signer"].get("fingerprint") != fingerprint:
        result.problems.append("the manifest's signer fingerprint is not that of its public key")
    if not signing.verify(public, signature, body):
        result.problems.append(f"{SIGNATURE} is not a valid signature of {MANIFEST} by the key it names: "
                               "the manifest or the signature was changed")
        return
    result.checked.append(f"signature: valid, by the key with fingerprint {signing.readable(fingerprint)}")
    if expected_fingerprint is not None:
        if signing.normalise_fingerprint(expected_fingerprint) != fingerprint:
            result.problems.append("the manifest is signed by another key than the fingerprint you gave")
        else:
            result.checked.append("signer: the fingerprint you gave")
    listed = set()
    for entry in files:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or path in listed or path in (MANIFEST, SIGNATURE):
            result.problems.append(f"the manifest lists {path!r} twice or wrongly")
            continue
        listed.add(path)
        if path not in names:
            result.problems.append(f"missing: {path}")
            continue
        size, digest = _measure(archive, path)
        if size != entry.get("size") or digest != entry.get("sha256"):
            result.problems.append(f"changed: {path} (SHA-256 {digest}, {size} bytes; "
                                   f"the manifest says {entry.get('sha256')}, {entry.get('size')} bytes)")
        else:
            result.checked.append(f"ok: {path} ({size} bytes, SHA-256 {digest})")
    for path in sorted(set(names) - listed - {MANIFEST, SIGNATURE}):
        result.problems.append(f"not in the manifest: {path}")


# A member's local header: 30 bytes, then its name and its extra field (their lengths at 26 and 28).
_LOCAL_HEADER = 30
# After a member written as a stream: its data descriptor, 16 bytes (24 with 64-bit sizes).
_DESCRIPTOR_BYTES = 24


def _layout_problems(archive) -> list[str]:
    """What a ZIP holds besides the members its directory lists, one after the other from its first
    byte: bytes before, between or after them (a reader that walks the ZIP from its start, as
    streaming unzippers do, would find files there the check never read), or a comment."""
    problems = []
    if archive.comment:
        problems.append("the ZIP carries a comment: an export has none")
    position = 0
    for info in sorted(archive.infolist(), key=lambda info: info.header_offset):
        if info.header_offset != position:
            problems.append(f"bytes before {info.filename} that are none of the export's files")
        archive.fp.seek(info.header_offset)
        header = archive.fp.read(_LOCAL_HEADER)
        if len(header) < _LOCAL_HEADER or header[:4] != b"PK\x03\x04":
            problems.append(f"{info.filename} has no local header where the directory says")
            return problems
        lengths = int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        position = info.header_offset + _LOCAL_HEADER + lengths + info.compress_size
        if info.flag_bits & 0x08:
            following = sorted(i.header_offset for i in archive.infolist() if i.header_offset > info.header_offset)
            end = following[0] if following else archive.start_dir
            # The descriptor, and nothing a member could hide in (a local header alone is 30 bytes).
            if 0 <= end - position <= _DESCRIPTOR_BYTES:
                position = end
    if position != archive.start_dir:
        problems.append("bytes after the export's files that are none of them")
    return problems


def _read_capped(archive, name: str, cap: int) -> bytes:
    with archive.open(name) as member:
        data = member.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"{name} is too large")
    return data


def _measure(archive, name: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    try:
        with archive.open(name) as member:
            while chunk := member.read(READ_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except UNREADABLE:
        # A member whose bytes no longer match its CRC, or that no longer inflates: changed inside the ZIP.
        return -1, "unreadable"
    return size, digest.hexdigest()
