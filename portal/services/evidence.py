"""The evidence record of a stored file: what it is and what cleaning did to it.

Investigators see, for each file, its type, size, page count or duration, the
SHA-256 of the cleaned file and the cleaning steps. The record is made as the
file is stored and kept beside it as an age file encrypted to the same
recipients (``CaseItem.evidence_record``): the server cannot read it, and a
hand-over rewrites its header with the file's. A forwarded bundle carries it as
an item of its own, so the partner shows the same record.

A file stored before records were kept, or received from a partner instance
that does not send them, has none; it is still shown and downloadable.
"""

import hashlib
import json
from dataclasses import dataclass

import crypto

from ..models import CaseItem
from . import attachments


@dataclass(frozen=True)
class Record:
    content_type: str
    size: int
    sha256: str
    steps: tuple[str, ...] = ()
    pages: int | None = None
    duration: float | None = None  # seconds


# What the inbox previews: image types the portal itself writes as it cleans a photo, and PDFs
# (as page images rendered on the server, never by the browser), the first pages only.
PREVIEW_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
PREVIEW_PAGES = 5


@dataclass(frozen=True)
class File:
    """A stored file as the inbox shows it: the item, and its record if it has one."""

    item: CaseItem
    record: Record | None

    @property
    def preview(self) -> str | None:
        """"image", "pdf" or None: only a file with a record (cleaned by a portal) previews."""
        if self.record is None or self.record.content_type != self.item.content_type:
            return None
        if self.item.content_type in PREVIEW_IMAGE_TYPES:
            return "image"
        if self.item.content_type == "application/pdf" and self.record.pages:
            return "pdf"
        return None

    @property
    def preview_pages(self) -> int:
        """How many pages of a PDF the preview shows."""
        return min(self.record.pages, PREVIEW_PAGES) if self.preview == "pdf" else 0


def of(clean: attachments.CleanFile) -> Record:
    """The record of a file as cleaning left it."""
    return Record(content_type=clean.content_type, size=len(clean.data),
                  sha256=hashlib.sha256(clean.data).hexdigest(),
                  steps=tuple(step for step in clean.steps if step in attachments.STEPS),
                  pages=clean.pages, duration=clean.duration)


def seal(record: Record, recipients) -> bytes:
    """The record as an age file for ``recipients``."""
    document = {"content_type": record.content_type, "size": record.size, "sha256": record.sha256,
                "steps": list(record.steps), "pages": record.pages, "duration": record.duration}
    return crypto.encrypt(json.dumps(document, ensure_ascii=False).encode("utf-8"), recipients)


def unseal(sealed: bytes, identity) -> Record | None:
    """The record in ``sealed``; None when it is not a record (a partner's bundle written otherwise)."""
    try:
        document = json.loads(crypto.decrypt(sealed, identity))
        pages, duration = document.get("pages"), document.get("duration")
        return Record(content_type=str(document["content_type"]), size=int(document["size"]),
                      sha256=str(document["sha256"]),
                      steps=tuple(s for s in document.get("steps", []) if s in attachments.STEPS),
                      pages=int(pages) if isinstance(pages, int) and pages > 0 else None,
                      duration=float(duration) if isinstance(duration, (int, float)) and duration > 0 else None)
    except crypto.NoIdentityError:
        raise
    except (crypto.AgeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(item: CaseItem, clean: attachments.CleanFile, recipients) -> CaseItem:
    """Give ``item`` (the cleaned file, encrypted to ``recipients``) its type and record."""
    item.content_type = clean.content_type
    item.evidence_record = seal(of(clean), recipients)
    return item


def never_cleaned(item: CaseItem) -> bool:
    """A reporter's file stored before every file was cleaned: photos and PDFs were cleaned then
    too, sound files were kept as sent (and a partner's file without a record is the partner's)."""
    cleaned_then = (item.content_type or "").startswith("image/") or item.content_type == "application/pdf"
    return item.evidence_record is None and item.author == "reporter" and not cleaned_then


def record_of(item: CaseItem, identity) -> Record | None:
    return unseal(item.evidence_record, identity) if item.evidence_record else None


def file_of(item: CaseItem, identity) -> File:
    return File(item, record_of(item, identity))
