"""Evidence files: recognise the type from content, strip identifying metadata.

Photos are rebuilt from their pixels (orientation applied first), which drops
EXIF, GPS, XMP, comments, maker notes, thumbnails and ICC profiles at once.
PDFs lose their document information and XMP. Sound and video are written anew
from their first sound and picture (``media``), the voice disguised when the
worker asks. Every file is cleaned or refused; none is kept as it came.
"""

import io
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from . import media
from .refusal import Refusal

register_heif_opener()
# A decompression bomb is refused rather than expanded in memory.
Image.MAX_IMAGE_PIXELS = 60_000_000


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

    @property
    def metadata_removed(self) -> bool:
        return bool(self.steps)


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
        return _clean_image(data, content_type)
    if content_type == "application/pdf":
        return _clean_pdf(data)
    return _clean_media(data, extension, disguise_voice)


def _clean_media(data: bytes, extension: str, disguise_voice: bool) -> CleanFile:
    try:
        cleaned = media.clean(data, container=extension, disguise_voice=disguise_voice)
    except media.Refused as refusal:
        raise AttachmentError(refusal.reason) from None
    return CleanFile(cleaned.data, cleaned.content_type, cleaned.extension, cleaned.steps,
                     duration=cleaned.duration)


_OUTPUT_FORMATS = {
    "image/jpeg": ("JPEG", "image/jpeg", "jpg"),
    "image/png": ("PNG", "image/png", "png"),
    "image/webp": ("WEBP", "image/webp", "webp"),
    # HEIC is re-encoded as JPEG, which every investigator's computer opens.
    "image/heic": ("JPEG", "image/jpeg", "jpg"),
}


def _clean_image(data: bytes, content_type: str) -> CleanFile:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise AttachmentError("damaged") from None
    output_format, output_type, extension = _OUTPUT_FORMATS[content_type]
    mode = image.mode
    if output_format == "JPEG" and mode not in ("RGB", "L"):
        mode = "RGB"
    elif mode not in ("RGB", "RGBA", "L", "LA", "P"):
        mode = "RGBA" if "A" in image.getbands() else "RGB"
    source = image.convert(mode) if mode != image.mode else image
    # A new image from the pixels alone carries no metadata of the original.
    rebuilt = Image.new(source.mode, source.size)
    if source.mode == "P":
        rebuilt.putpalette(source.getpalette())
    rebuilt.paste(source)
    out = io.BytesIO()
    options = {"quality": 90} if output_format in ("JPEG", "WEBP") else {}
    rebuilt.save(out, format=output_format, **options)
    steps = ("rebuilt_from_pixels", "metadata_removed") + (("converted_to_jpeg",) if content_type == "image/heic" else ())
    return CleanFile(out.getvalue(), output_type, extension, steps)


def _clean_pdf(data: bytes) -> CleanFile:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            if "/Metadata" in pdf.Root:
                del pdf.Root["/Metadata"]
            page_count = len(pdf.pages)
            for page in pdf.pages:
                if "/Metadata" in page.obj:
                    del page.obj["/Metadata"]
            out = io.BytesIO()
            pdf.save(out, fix_metadata_version=False, deterministic_id=True)
    except pikepdf.PdfError:
        raise AttachmentError("damaged") from None
    return CleanFile(out.getvalue(), "application/pdf", "pdf", ("metadata_removed",), pages=page_count)
