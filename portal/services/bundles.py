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
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

from . import signing

FORMAT = "whistleblower-portal-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_MEMBERS = 500


class BundleError(ValueError):
    """A bundle that is not well formed, not signed by its sender, or changed (``reason``)."""

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


def read_manifest(bundle: bytes) -> dict:
    """The manifest, unverified: to find out who says they sent the bundle."""
    with _zip(bundle) as archive:
        try:
            return json.loads(archive.read(MANIFEST))
        except (KeyError, ValueError):
            raise BundleError("malformed") from None


def open_verified(bundle: bytes, sender_key: bytes, sender_fingerprint: str,
                  own_fingerprint: str) -> tuple[dict, list[Item]]:
    """The manifest and items, once the signature, the addressee and every hash hold."""
    try:
        return _open_verified(bundle, sender_key, sender_fingerprint, own_fingerprint)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as error:
        if isinstance(error, BundleError):
            raise
        # A member that fails its CRC, a manifest that is not the expected JSON...
        raise BundleError("malformed") from None


def _open_verified(bundle, sender_key, sender_fingerprint, own_fingerprint):
    with _zip(bundle) as archive:
        names = archive.namelist()
        if len(names) > MAX_MEMBERS or len(set(names)) != len(names):
            raise BundleError("malformed")
        try:
            body, signature = archive.read(MANIFEST), archive.read(SIGNATURE)
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
        listed = {entry.get("file") for entry in manifest.get("contents", [])}
        if listed | {MANIFEST, SIGNATURE} != set(names):
            raise BundleError("contents")
        items = []
        for entry in manifest["contents"]:
            data = archive.read(entry["file"])
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                raise BundleError("contents")
            items.append(Item(entry["file"], entry.get("kind", ""), data, entry))
    return manifest, items


def _zip(bundle: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(bundle))
    except (zipfile.BadZipFile, ValueError):
        raise BundleError("malformed") from None
