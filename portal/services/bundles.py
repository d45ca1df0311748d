"""The bundle: one file that carries a forwarded case between instances.

A ZIP archive (stored, not compressed: age files do not compress) holding

- ``manifest.json``: what the case is (reference, facility as disclosed,
  categories, dates, urgency, the reporter's consent), who sent it to whom,
  and the contents list with the SHA-256 of every item;
- ``manifest.sig``: the sending instance's Ed25519 signature of the manifest;
- ``items/NN-kind.age``: each item as an age file encrypted to the receiving
  instance's monitor users (and its recovery key). The standard ``age`` tool
  opens them with a monitor's key.

Signing the manifest signs every item through its hash.

A bundle comes from another organisation, and before its signature is checked
it is only bytes anyone could have made: it is opened within fixed limits
(``LIMITS``), read from its central directory and each member as a bounded
stream, so that a small file that would inflate to gigabytes, or hold
thousands of members, is refused before it costs memory.
"""

import hashlib
import io
import json
import re
import struct
import zipfile
from dataclasses import dataclass

from . import signing

FORMAT = "whistleblower-portal-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# The names a bundle's items may have: one level under items/, nothing that climbs or nests.
ITEM_NAME = re.compile(r"items/[0-9]{2,4}-[a-z_]{1,40}\.age")
READ_CHUNK = 64 * 1024
STREAM_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a bundle may be, checked before anything in it is trusted."""

    # The file itself: one case with every file it holds fits in this.
    bundle_bytes: int = 256 * 1024 * 1024
    members: int = 500
    manifest_bytes: int = 1024 * 1024
    item_bytes: int = 128 * 1024 * 1024
    total_bytes: int = 256 * 1024 * 1024
    # Age files do not compress and the portal stores them so; a member that claims to
    # inflate more than this (beyond a small allowance) is a bomb, not a bundle.
    ratio: int = 10
    ratio_free_bytes: int = 64 * 1024


LIMITS = Limits()


class BundleError(ValueError):
    """A bundle that is not well formed, not signed by its sender, or changed (``reason``).

    ``too_large``: the file is larger than ``Limits.bundle_bytes``; ``limits``: it holds more
    members, larger or more compressed members, or other names than a bundle may."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Item:
    name: str
    kind: str
    data: bytes
    meta: dict


def _member(name: str) -> zipfile.ZipInfo:
    # A fixed date: the archive would otherwise keep the second it was built, for
    # a report sent to Electronics Watch the second the worker sent it.
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def build(session, manifest: dict, items: list[Item]) -> bytes:
    """Sign ``manifest`` (with every item's hash added) and pack it with the items."""
    contents = []
    for item in items:
        contents.append(dict(item.meta, file=item.name, kind=item.kind, sha256=hashlib.sha256(item.data).hexdigest(),
                             size=len(item.data)))
    manifest = dict(manifest, format=FORMAT, contents=contents)
    body = signing.canonical(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_member(MANIFEST), body)
        archive.writestr(_member(SIGNATURE), signing.sign(session, body))
        for item in items:
            archive.writestr(_member(item.name), item.data)
    return buffer.getvalue()


def read_limited(stream, declared_length: int | None = None, limits: Limits = LIMITS) -> bytes:
    """The bytes of a bundle arriving on ``stream``, refused (``too_large``) as soon as they
    exceed the limit: before reading when ``declared_length`` (Content-Length, a file's size)
    says so, and by a bounded read when it lies or is absent."""
    if declared_length is not None and declared_length > limits.bundle_bytes:
        raise BundleError("too_large")
    # In chunks: a stream's read(n) may set aside n bytes before it knows how many will come.
    data = bytearray()
    while chunk := stream.read(min(STREAM_CHUNK, limits.bundle_bytes + 1 - len(data))):
        data += chunk
        if len(data) > limits.bundle_bytes:
            raise BundleError("too_large")
    return bytes(data)


def read_manifest(bundle: bytes, limits: Limits = LIMITS) -> dict:
    """The manifest, unverified: to find out who says they sent the bundle."""
    try:
        with _zip(bundle, limits) as archive:
            manifest = json.loads(_read(archive, MANIFEST, limits.manifest_bytes))
    except BundleError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError, RecursionError):
        # RecursionError: JSON nested deeper than Python parses.
        raise BundleError("malformed") from None
    if not isinstance(manifest, dict):
        raise BundleError("malformed")
    return manifest


def open_verified(bundle: bytes, sender_key: bytes, sender_fingerprint: str,
                  own_fingerprint: str, limits: Limits = LIMITS) -> tuple[dict, list[Item]]:
    """The manifest and items, once the limits, the signature, the addressee and every hash hold."""
    try:
        return _open_verified(bundle, sender_key, sender_fingerprint, own_fingerprint, limits)
    except BundleError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, EOFError, OSError, RecursionError):
        # A member that fails its CRC, a manifest that is not the expected JSON, or nested too deep...
        raise BundleError("malformed") from None


def _open_verified(bundle, sender_key, sender_fingerprint, own_fingerprint, limits):
    with _zip(bundle, limits) as archive:
        names = archive.namelist()
        try:
            body = _read(archive, MANIFEST, limits.manifest_bytes)
            signature = _read(archive, SIGNATURE, 64)
        except KeyError:
            raise BundleError("malformed") from None
        if not signing.verify(sender_key, signature, body):
            raise BundleError("signature")
        manifest = json.loads(body)
        if manifest.get("format") != FORMAT:
            raise BundleError("malformed")
        if manifest.get("sender", {}).get("fingerprint") != sender_fingerprint:
            raise BundleError("sender")
        if manifest.get("addressee_fingerprint") != own_fingerprint:
            raise BundleError("addressee")
        contents = manifest.get("contents", [])
        if not isinstance(contents, list):
            raise BundleError("malformed")
        listed = {entry.get("file") for entry in contents}
        # Each item listed once (listed twice, it would be filed twice), the manifest and signature never.
        if (listed | {MANIFEST, SIGNATURE} != set(names) or len(listed) != len(contents)
                or listed & {MANIFEST, SIGNATURE}):
            raise BundleError("contents")
        items = []
        for entry in contents:
            data = _read(archive, entry["file"], limits.item_bytes)
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                raise BundleError("contents")
            # The kind its name says, and its size, as the portal that built it wrote them.
            size = entry.get("size", len(data))
            if entry.get("kind") != _kind_of(entry["file"]) or type(size) is not int or size != len(data):
                raise BundleError("contents")
            items.append(Item(entry["file"], entry["kind"], data, entry))
    return manifest, items


def _kind_of(name: str) -> str:
    return name.split("-", 1)[1].removesuffix(".age")


def _zip(bundle: bytes, limits: Limits) -> zipfile.ZipFile:
    """The archive, once its directory is within the limits: counted from the end record
    before zipfile builds an object per member, then every member's name, sizes and ratio."""
    if len(bundle) > limits.bundle_bytes:
        raise BundleError("too_large")
    _check_end_record(bundle, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(bundle))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        raise BundleError("malformed") from None
    try:
        _check_members(archive.infolist(), limits)
    except BundleError:
        archive.close()
        raise
    return archive


END_RECORD = b"PK\x05\x06"
END_RECORD_SIZE = 22


def _check_end_record(bundle: bytes, limits: Limits) -> None:
    """Refuse a directory of more members than allowed, or a ZIP64 one (a bundle never needs it)."""
    at = bundle.rfind(END_RECORD, max(0, len(bundle) - END_RECORD_SIZE - 0xFFFF))
    if at < 0 or len(bundle) - at < END_RECORD_SIZE:
        raise BundleError("malformed")
    _disk, _start, _here, total, directory_size, _offset, _comment = struct.unpack(
        "<HHHHIIH", bundle[at + 4:at + END_RECORD_SIZE])
    if total == 0xFFFF or directory_size == 0xFFFFFFFF or b"PK\x06\x07" in bundle[max(0, at - 20):at]:
        raise BundleError("limits")
    # A directory entry is 46 bytes and a name: names are short.
    if total > limits.members or directory_size > limits.members * (46 + 128):
        raise BundleError("limits")


def _check_members(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(members) > limits.members:
        raise BundleError("limits")
    names, total = set(), 0
    for member in members:
        name = member.filename
        if name in names or not (name in (MANIFEST, SIGNATURE) or ITEM_NAME.fullmatch(name)):
            raise BundleError("limits")
        names.add(name)
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or member.flag_bits & 0x1:
            raise BundleError("limits")
        cap = limits.manifest_bytes if name == MANIFEST else 64 if name == SIGNATURE else limits.item_bytes
        if member.file_size > cap:
            raise BundleError("limits")
        if member.file_size > limits.ratio_free_bytes and member.file_size > limits.ratio * member.compress_size:
            raise BundleError("limits")
        total += member.file_size
        if total > limits.total_bytes:
            raise BundleError("limits")


def _read(archive: zipfile.ZipFile, name: str, cap: int) -> bytes:
    """A member, read as a stream that stops at ``cap`` whatever its header claims."""
    chunks, size = [], 0
    with archive.open(name) as member:
        while chunk := member.read(READ_CHUNK):
            size += len(chunk)
            if size > cap:
                raise BundleError("limits")
            chunks.append(chunk)
    return b"".join(chunks)
