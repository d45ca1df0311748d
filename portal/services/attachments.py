"""Evidence files: recognise the type from content, strip identifying metadata.

Photos and PDFs are cleaned in a confined child process (``confinement``),
by ``pixel_cleaner``: a photo is written anew from its pixels, a PDF anew from
images of its pages, so nothing the original carried besides what it shows
survives. Limits, checked before decoding where a header tells: ``MAX_PIXELS``
for a photo, ``MAX_PAGES`` for a PDF, each page drawn at ``PAGE_DPI`` and at
most ``PAGE_PIXELS``; the child's memory, time and output are bounded by
``LIMITS``. Sound and video are written anew from their first sound and
picture by ffmpeg (``media``), the voice disguised when the worker asks. Every
file is cleaned or refused; none is kept as it came.

Refusals are ``AttachmentError(reason)``: "empty", "unsupported", "damaged",
"too_many_pixels", "too_many_pages", "expands" (the file grows past the
memory or output limit once opened), "cannot_clean" (it took too long or broke
the cleaner) and "busy" (every cleaning slot of the server stayed taken).
"""

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import confinement, media
from .refusal import Refusal

# A photo of up to 50 megapixels (8160 x 6120, a phone's largest common mode) is cleaned;
# a larger one is refused from its header, before its pixels are decoded.
MAX_PIXELS = 50_000_000
# A PDF of up to 50 pages; each drawn at 150 dpi (an A4 page: 1240 x 1754 pixels, readable),
# a page larger than A3 scaled down to 8 megapixels.
MAX_PAGES = 50
PAGE_DPI = 150
PAGE_PIXELS = 8_000_000
LIMITS = confinement.Limits()

_CLEANER = Path(__file__).with_name("pixel_cleaner.py")
# "expands": a small file that grows past the memory or output limit once opened (a bomb).
_CONFINEMENT_REASONS = {"busy": "busy", "too_large": "expands", "timeout": "cannot_clean",
                        "failed": "cannot_clean"}
_CHILD_REASONS = {"damaged": "damaged", "unsupported": "unsupported", "too_many_pixels": "too_many_pixels",
                  "too_many_pages": "too_many_pages", "too_large": "expands"}


# A file's type as another side declares it (a partner's bundle, a row stored before this check): a
# type and a subtype, each an ASCII token (RFC 9110), no parameter, no more than the column holds.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+")
UNKNOWN_TYPE = "application/octet-stream"


def media_type(declared) -> str:
    """``declared``, lower-cased, if it is a bare type/subtype a single file can have; otherwise
    application/octet-stream (a header broken by CR/LF, a parameter, a multipart or message type)."""
    if not isinstance(declared, str) or len(declared) > 100 or not _MEDIA_TYPE.fullmatch(declared):
        return UNKNOWN_TYPE
    declared = declared.lower()
    return UNKNOWN_TYPE if declared.startswith(("multipart/", "message/")) else declared


class AttachmentError(Refusal):
    """A file that cannot be accepted: "empty", "unsupported", "damaged", "too_long" (sound or
    video longer than ``media.AUDIO_SECONDS`` / ``media.VIDEO_SECONDS``), "too_large",
    "cannot_clean" or "busy" (too many files being cleaned at once: try again)."""


# What cleaning did to a file, as codes the inbox names for investigators.
STEPS = (
    "location_removed",        # a GPS position was in the file
    "author_removed",          # an author, owner or device name was in the file
    "metadata_removed",        # other metadata (EXIF, XMP, document information, tags)
    "orientation_applied",
    "rebuilt_from_pixels",     # a photo written anew from its pixels
    "rebuilt_from_pages",      # a document written anew from images of its pages
    "converted_to_jpeg",
    "hidden_content_removed",  # scripts, attachments, annotations, links
    "extra_streams_removed",   # chapters, subtitles, cover art, data tracks
    "voice_disguised",
)


@dataclass(frozen=True)
class CleanFile:
    data: bytes
    content_type: str
    extension: str
    steps: tuple[str, ...] = ()
    pages: int | None = None
    duration: float | None = None  # seconds, for sound and video


_FTYP_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def sniff(data: bytes) -> tuple[str, str] | None:
    """Return ``(content type, extension)`` read from the first bytes, or None."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg", "ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr", "amr"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", "webm"  # sound or video: media.clean tells them apart
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac", "aac"  # ADTS: the MPEG sync word with layer 0
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg", "mp3"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_IMAGE_BRANDS:
            return "image/heic", "heic"
        if brand.startswith(b"3gp") or brand.startswith(b"3g2"):
            return "audio/3gpp", "3gp"
        return "video/mp4", "mp4"  # sound or video: media.clean tells them apart
    return None


def clean(data: bytes, *, disguise_voice: bool = False) -> CleanFile:
    """Recognise ``data`` and return it without metadata, or refuse it.

    ``disguise_voice`` changes the voice in a sound file and in a video's sound.
    """
    if not data:
        raise AttachmentError("empty")
    kind = sniff(data)
    if kind is None:
        raise AttachmentError("unsupported")
    content_type, extension = kind
    if content_type.startswith("image/"):
        return _clean_confined("image", data)
    if content_type == "application/pdf":
        return _clean_confined("pdf", data)
    return _clean_media(data, extension, disguise_voice)


def _clean_media(data: bytes, extension: str, disguise_voice: bool) -> CleanFile:
    try:
        cleaned = media.clean(data, container=extension, disguise_voice=disguise_voice)
    except media.Refused as refusal:
        raise AttachmentError(refusal.reason) from None
    return CleanFile(cleaned.data, cleaned.content_type, cleaned.extension, cleaned.steps,
                     duration=cleaned.duration)


def cleaned(files, *, disguise_voice: bool = True) -> list[CleanFile]:
    """Each file cleaned (a voice disguised unless told not to); one already cleaned (kept between
    two sends of a form) is taken as it is."""
    return [file if isinstance(file, CleanFile) else clean(file, disguise_voice=disguise_voice) for file in files]


def _clean_confined(kind: str, data: bytes) -> CleanFile:
    result, body = _confined(kind, data, {"max_pixels": MAX_PIXELS, "max_pages": MAX_PAGES, "page_dpi": PAGE_DPI,
                                          "page_pixels": PAGE_PIXELS})
    steps = tuple(step for step in STEPS if step in result["steps"])
    return CleanFile(body, result["content_type"], result["extension"], steps, pages=result.get("pages"))


def pdf_page_picture(pdf: bytes, index: int, dpi: int, largest_side: int) -> bytes:
    """Page ``index`` (from 0) of ``pdf`` drawn as a PNG, in the same confined child as cleaning: a PDF
    a partner sent is not ours, and PDFium never runs inside a web worker. Refusals as ``clean``'s."""
    _result, body = _confined("page", pdf, {"index": index, "dpi": dpi, "largest_side": largest_side,
                                            "max_pages": MAX_PAGES})
    return body


def _confined(kind: str, data: bytes, settings: dict) -> tuple[dict, bytes]:
    """The cleaner child's answer for ``kind``: its header and the file it wrote, or the refusal."""
    argv = [sys.executable, "-I", "-B", str(_CLEANER), kind, json.dumps(settings)]
    try:
        output = confinement.run(argv, data, LIMITS)
    except confinement.ConfinementError as error:
        raise AttachmentError(_CONFINEMENT_REASONS[error.reason]) from None
    header, _, body = output.partition(b"\n")
    try:
        result = json.loads(header)
    except ValueError:
        raise AttachmentError("cannot_clean") from None
    if "refused" in result:
        raise AttachmentError(_CHILD_REASONS.get(result["refused"], "cannot_clean"))
    return result, body
