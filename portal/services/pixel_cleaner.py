"""The confined child that cleans photos and PDFs by writing them anew from pixels.

Run by ``attachments.clean`` through ``confinement.run`` as
``python -I -B pixel_cleaner.py KIND SETTINGS`` with the file on standard input,
never imported by the portal: it imports nothing of it, so a file that breaks a
decoder breaks only this process, within the limits the parent set.

KIND is "image" or "pdf"; SETTINGS is JSON with ``max_pixels``, ``max_pages``,
``page_dpi`` and ``page_pixels``. Standard output is one JSON line, then the
cleaned file: ``{"content_type", "extension", "steps", "pages"}`` or
``{"refused": REASON}``.

What is looked for BEFORE cleaning decides which steps are reported, so
"location_removed" means the original really had a position.

- A photo's size is read from its header and refused above ``max_pixels``
  before a single pixel is decoded (Pillow itself only refuses at twice its own
  limit). Its orientation is applied, and only the pixels of its first frame are
  written into a new file: EXIF, GPS, maker notes, XMP, IPTC, ICC profiles,
  comments, text chunks, thumbnails and anything appended after the image end.
- A PDF is drawn page by page with PDFium (no JavaScript engine) at
  ``page_dpi``, a large page scaled down to at most ``page_pixels``, each page
  kept only as a JPEG image in a new PDF written here, of the same page size.
  Text becomes pictures of text: nothing else of the original survives, no
  scripts, attachments, annotations, forms, links, fonts, document information,
  XMP or EXIF in its images. More than ``max_pages`` pages are refused before
  any page is drawn, and so is a PDF with a Flate stream inflating past
  ``STREAM_BYTES`` (a bomb: inflated layer by layer, each stopped at the cap).
"""

import io
import json
import math
import sys
import zlib

import pikepdf
import pypdfium2
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

register_heif_opener()

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
ORIENTATION = 0x0112
# Artist, Copyright, XPAuthor in the main IFD; owner and serial numbers in the EXIF IFD.
AUTHOR_TAGS = (0x013B, 0x8298, 0x9C9D)
AUTHOR_EXIF_TAGS = (0xA430, 0xA431, 0xA435)
# Words of XMP and PNG text that name a person or a place.
AUTHOR_WORDS = (b"dc:creator", b"pdf:Author", b"photoshop:AuthorsPosition", b"xmpRights:Owner",
                b"aux:SerialNumber", b"exifEX:BodySerialNumber", b"exifEX:CameraOwnerName", b"Iptc4xmpCore")
LOCATION_WORDS = (b"exif:GPS", b"GPSLatitude", b"GPSPosition", b"photoshop:City", b"Iptc4xmpCore:Location")
PNG_AUTHOR_KEYS = {"author", "artist", "copyright", "owner"}

OUTPUT_FORMATS = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "WEBP": ("WEBP", "image/webp", "webp"),
    # HEIC is written as JPEG, which every investigator's computer opens.
    "HEIF": ("JPEG", "image/jpeg", "jpg"),
}


class Refused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def main() -> int:
    kind, settings = sys.argv[1], json.loads(sys.argv[2])
    source = io.BytesIO(sys.stdin.buffer.read())  # shares the bytes read: one copy of the file
    out = sys.stdout.buffer
    try:
        if kind == "image":
            header, write = clean_image(source, settings)
        elif kind == "pdf":
            header, write = clean_pdf(source.getvalue(), settings)
        elif kind == "page":
            header, write = draw_page(source.getvalue(), settings)
        else:
            raise Refused("unsupported")
    except Refused as refusal:
        header, write = {"refused": refusal.reason}, None
    except MemoryError:
        header, write = {"refused": "too_large"}, None
    out.write(json.dumps(header).encode() + b"\n")
    out.flush()
    if write:
        # Written straight to the pipe; a failure now ends this process with an error,
        # which the parent takes as a refusal, never as a file.
        write(out)
        out.flush()
    return 0


# Photos


def clean_image(source: io.BytesIO, settings: dict):
    # Pillow's own bomb check stays on as a second line, at the same limit.
    Image.MAX_IMAGE_PIXELS = settings["max_pixels"]
    try:
        image = Image.open(source)
    except Image.DecompressionBombError:
        raise Refused("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Refused("damaged") from None
    if image.format not in OUTPUT_FORMATS:
        raise Refused("unsupported")
    width, height = image.size
    if width * height > settings["max_pixels"]:
        raise Refused("too_many_pixels")
    found = image_findings(image)
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
    except Image.DecompressionBombError:
        raise Refused("too_many_pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise Refused("damaged") from None
    source.close()  # the file itself is no longer needed: its memory goes to the pixels
    output_format, content_type, extension = OUTPUT_FORMATS[image.format]
    mode = image.mode
    if output_format == "JPEG" and mode not in ("RGB", "L"):
        mode = "RGB"
    elif mode not in ("RGB", "RGBA", "L", "LA", "P"):
        mode = "RGBA" if "A" in image.getbands() else "RGB"
    # A new image around the decoded pixels alone: none of the original's metadata comes along.
    pixels = image.convert(mode) if mode != image.mode else image
    rebuilt = Image.Image()._new(pixels.im)
    if rebuilt.mode == "P":
        rebuilt.putpalette(pixels.getpalette())
    del image, pixels
    options = {"quality": 90} if output_format in ("JPEG", "WEBP") else {}
    steps = found | {"rebuilt_from_pixels"}
    return ({"content_type": content_type, "extension": extension, "steps": sorted(steps)},
            lambda out: rebuilt.save(out, format=output_format, **options))


def image_findings(image) -> set[str]:
    """What of the reporter a photo carries besides its pixels, read before anything is decoded."""
    found = set()
    exif = image.getexif()
    if exif.get_ifd(GPS_IFD):
        found.add("location_removed")
    if any(exif.get(tag) for tag in AUTHOR_TAGS) or any(exif.get_ifd(EXIF_IFD).get(tag)
                                                       for tag in AUTHOR_EXIF_TAGS):
        found.add("author_removed")
    if exif.get(ORIENTATION, 1) not in (0, 1):
        found.add("orientation_applied")
    xmp = image.info.get("xmp") or b""
    xmp = xmp.encode() if isinstance(xmp, str) else xmp
    if any(word in xmp for word in AUTHOR_WORDS):
        found.add("author_removed")
    if any(word in xmp for word in LOCATION_WORDS):
        found.add("location_removed")
    text = getattr(image, "text", None) or {}  # PNG text chunks
    if any(key.lower() in PNG_AUTHOR_KEYS for key in text):
        found.add("author_removed")
    carried = set(image.info) - {"dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density", "progressive",
                                  "progression", "interlace", "gamma", "aspect", "transparency", "loop",
                                  "duration", "background", "adobe", "adobe_transform", "srgb"}
    if exif or carried or text or found:
        found.add("metadata_removed")
    if image.format == "HEIF":
        found.add("converted_to_jpeg")
    return found


# Documents


def clean_pdf(data: bytes, settings: dict):
    found = pdf_findings(data, settings["max_pages"])
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise Refused("damaged") from None
    count = len(document)
    if count == 0:
        raise Refused("damaged")
    if count > settings["max_pages"]:
        raise Refused("too_many_pages")
    out = pikepdf.new()
    for number in range(count):
        try:
            page = document[number]
            width, height = page.get_size()
            scale = settings["page_dpi"] / 72
            if width * height * scale * scale > settings["page_pixels"]:
                scale = math.sqrt(settings["page_pixels"] / (width * height))
            picture = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
            page.close()
        except pypdfium2.PdfiumError:
            raise Refused("damaged") from None
        _add_page(out, picture, scale)
        del picture
    document.close()
    buffer = io.BytesIO()
    out.save(buffer, deterministic_id=True, fix_metadata_version=False)
    steps = found | {"rebuilt_from_pages"}
    return ({"content_type": "application/pdf", "extension": "pdf", "steps": sorted(steps), "pages": count},
            lambda out: out.write(buffer.getbuffer()))


def draw_page(data: bytes, settings: dict):
    """Page ``settings["index"]`` (from 0) of a PDF as a PNG, for the inbox's preview."""
    try:
        document = pypdfium2.PdfDocument(data)
        if not 0 <= settings["index"] < min(len(document), settings["max_pages"]):
            raise Refused("too_many_pages")
        page = document[settings["index"]]
        width, height = page.get_size()
        scale = min(settings["dpi"] / 72, settings["largest_side"] / max(width, height, 1))
        picture = page.render(scale=scale).to_pil()
    except pypdfium2.PdfiumError:
        raise Refused("damaged") from None
    picture = picture if picture.mode in ("RGB", "L") else picture.convert("RGB")
    return {"content_type": "image/png"}, lambda out: picture.save(out, "PNG")


def _add_page(out, picture, scale: float) -> None:
    """A page of the page's size holding only ``picture``, as a JPEG."""
    encoded = io.BytesIO()
    picture.save(encoded, "JPEG", quality=85, optimize=True)
    width, height = picture.size[0] / scale, picture.size[1] / scale
    image = pikepdf.Stream(out, encoded.getvalue())
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height = picture.size
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    image.Filter = pikepdf.Name.DCTDecode
    content = f"q {width:.2f} 0 0 {height:.2f} 0 0 cm /Page Do Q".encode()
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, round(width, 2), round(height, 2)],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Page=image)),
        Contents=pikepdf.Stream(out, content),
    )
    out.pages.append(pikepdf.Page(page))


# No Flate stream may inflate past this (a 600 dpi A4 scan in colour is 104 MB).
STREAM_BYTES = 128 * 1024 * 1024
HIDDEN_KEYS = {"/JS", "/JavaScript", "/OpenAction", "/AA", "/EmbeddedFile", "/EmbeddedFiles", "/Annots",
               "/AcroForm", "/URI", "/Launch", "/RichMedia", "/XFA", "/GoToR", "/SubmitForm", "/ImportData"}
HIDDEN_TYPES = {"/Filespec", "/EmbeddedFile", "/Annot", "/Action"}


def pdf_findings(data: bytes, max_pages: int) -> set[str]:
    """What a PDF carries besides what its pages show, read without drawing anything."""
    found = set()
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError):
        raise Refused("damaged") from None
    with pdf:
        if len(pdf.pages) > max_pages:
            raise Refused("too_many_pages")
        info = pdf.trailer.get("/Info")
        if isinstance(info, pikepdf.Dictionary) and len(info):
            found.add("metadata_removed")
            if str(info.get("/Author", "")).strip():
                found.add("author_removed")
        for thing in pdf.objects:
            if not isinstance(thing, (pikepdf.Dictionary, pikepdf.Stream)):
                continue
            keys = set(thing.keys())
            if keys & HIDDEN_KEYS or str(thing.get("/Type", "")) in HIDDEN_TYPES \
                    or str(thing.get("/S", "")) in ("/JavaScript", "/URI", "/Launch"):
                found.add("hidden_content_removed")
            if "/T" in keys and ("/Subtype" in keys or "/FT" in keys) and str(thing.get("/T")).strip():
                found.add("author_removed")  # an annotation's author or a form field's name
            if "/PieceInfo" in keys:
                found.add("metadata_removed")
            if not isinstance(thing, pikepdf.Stream):
                continue
            _check_expansion(thing)
            if thing.get("/Type") == pikepdf.Name.Metadata:
                found.add("metadata_removed")
                found |= _xmp_findings(thing.read_bytes())
            elif thing.get("/Subtype") == pikepdf.Name.Image and thing.get("/Filter") in (
                    pikepdf.Name.DCTDecode, pikepdf.Array([pikepdf.Name.DCTDecode])):
                found |= _embedded_photo_findings(thing.read_raw_bytes())
    return found


def _check_expansion(stream) -> None:
    """Refuse a stream that inflates past ``STREAM_BYTES`` (a Flate bomb, often nested), reading no more."""
    filters = stream.get("/Filter")
    filters = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
    if not filters or any(name != pikepdf.Name.FlateDecode for name in filters):
        return  # other filters are bounded by the process's memory and time limits
    data = stream.read_raw_bytes()
    for _layer in filters:
        try:
            data = zlib.decompressobj().decompress(data, STREAM_BYTES + 1)
        except zlib.error:
            return  # a broken stream: PDFium decides what it makes of it
        if len(data) > STREAM_BYTES:
            raise Refused("too_large")


def _xmp_findings(xmp: bytes) -> set[str]:
    found = set()
    if any(word in xmp for word in AUTHOR_WORDS):
        found.add("author_removed")
    if any(word in xmp for word in LOCATION_WORDS):
        found.add("location_removed")
    return found


def _embedded_photo_findings(jpeg: bytes) -> set[str]:
    try:
        with Image.open(io.BytesIO(jpeg)) as photo:
            found = image_findings(photo)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return set()
    found.discard("orientation_applied")
    found.discard("converted_to_jpeg")
    return found


if __name__ == "__main__":
    sys.exit(main())
