"""Hostile evidence files: what a worker's phone or a malicious sender may upload.

Each file is cleaned in a confined process: a photo is written anew from its
pixels, a PDF anew from pictures of its pages, so nothing hidden survives; a
file that would take too much memory or time is refused with a reason the
worker can act on, and the server stays within its limits. Files are checked
as the investigator gets them (decrypted), with exiftool and with every PDF
stream decompressed."""

import io
import json
import shutil
import struct
import subprocess
import sys
import zlib

import pikepdf
import pypdfium2
import pytest
from evidence import stored_files
from PIL import Image
from reporter_pages import send_report
from sqlalchemy import func, select

from portal import create_app
from portal.models import CaseItem
from portal.services import attachments, confinement

CANARY = b"Canary"
MiB = 1024 * 1024
PEAK_MEMORY = 512 * MiB

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool (libimage-exiftool-perl)")


# Hostile files, built here


def photo_with_gps(size=(64, 48), fmt="JPEG", orientation=None):
    """A phone photo: camera, GPS position, artist, owner and serial number, comment."""
    exif = Image.Exif()
    exif[0x010F] = "CanaryMaker"
    exif[0x013B] = "Canary Artist"
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769).update({0xA430: "Canary Owner", 0xA431: "CANARY-SERIAL-42"})
    exif.get_ifd(0x8825).update({1: "N", 2: (5.0, 21.0, 30.0), 3: "E", 4: (100.0, 30.0, 0.0)})
    out = io.BytesIO()
    extra = {"comment": b"Canary comment"} if fmt == "JPEG" else {}
    Image.new("RGB", size, (120, 20, 140)).save(out, fmt, exif=exif, **extra)
    return out.getvalue()


def hostile_pdf():
    """What a photo-to-PDF app and a malicious sender put in a PDF besides its page."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(300, 200))
    page = pdf.pages[0]
    photo = pikepdf.Stream(pdf, photo_with_gps())
    photo.Type, photo.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    photo.Width, photo.Height, photo.BitsPerComponent = 64, 48, 8
    photo.ColorSpace, photo.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    photo_xmp = pikepdf.Stream(pdf, b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
                                    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                                    b'<rdf:Description exif:GPSLatitude="5,21.5N" dc:creator="Canary XMP"/>'
                                    b'</rdf:RDF></x:xmpmeta>')
    photo_xmp.Type, photo_xmp.Subtype = pikepdf.Name.Metadata, pikepdf.Name.XML
    photo.Metadata = photo_xmp
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Photo=photo))
    page.obj.Contents = pikepdf.Stream(pdf, b"q 256 0 0 192 22 4 cm /Photo Do Q")
    page.obj.Annots = pdf.make_indirect(pikepdf.Array([
        pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[10, 10, 30, 30],
                           T="Canary Annotator", Contents="Canary note"),
        pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 300, 200],
                           A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI="https://canary.example/seen")),
    ]))
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.launchURL('https://canary.example');")
    pdf.attachments["canary.txt"] = pikepdf.AttachedFileSpec(pdf, b"Canary attachment", mime_type="text/plain")
    pdf.docinfo["/Author"] = "Canary Author"
    with pdf.open_metadata() as meta:
        meta["dc:creator"] = ["Canary Creator"]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def plain_pdf(pages=1):
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, fix_metadata_version=False)
    return out.getvalue()


def deflated_zeros(size, block=16 * MiB):
    """A zlib stream of ``size`` zero bytes, built in a second: one flushed block repeated."""
    compressor, zeros = zlib.compressobj(9), bytes(block)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(size, block)
    assert full >= 2
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FULL_FLUSH)
    adler32 = ((size % 65521) << 16) | 1  # of zeros: a stays 1, b counts the bytes
    return first + again * (full - 1) + tail + b"\x03\x00" + struct.pack(">I", adler32)


def nested_flate_bomb():
    """A 3 KB PDF whose page inflates to 8 GiB: twice Flate-compressed zeros."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    contents = pikepdf.Stream(pdf, b"")
    contents.write(zlib.compress(deflated_zeros(8 * 1024 * MiB), 9),
                   filter=[pikepdf.Name.FlateDecode, pikepdf.Name.FlateDecode])
    pdf.pages[0].obj.Contents = contents
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def png(width, height, rows=None, text=None):
    """A PNG written chunk by chunk: any declared size, any (small) amount of real pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    idat = deflated_zeros((3 * width + 1) * (height if rows is None else rows))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + (chunk(b"tEXt", text) if text else b"") + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# Looking at what the investigator gets


def stored_count(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(CaseItem).where(CaseItem.kind == "attachment"))


def exiftool_tags(data, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run(["exiftool", "-j", "-a", "-u", "-G1", "-ee", str(path)], capture_output=True,
                            check=True)
    [tags] = json.loads(result.stdout)
    return {key: value for key, value in tags.items() if not key.startswith(("System:", "ExifTool:"))}


def decompressed(pdf_bytes):
    """The whole PDF as text a scan can search: every object, every stream decoded."""
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        parts = [pdf_bytes]
        for thing in pdf.objects:
            parts.append(repr(thing).encode())
            if isinstance(thing, pikepdf.Stream):
                try:
                    parts.append(thing.read_bytes(decode_level=pikepdf.StreamDecodeLevel.generalized))
                except pikepdf.PdfError:  # a JPEG: its EXIF is plain in its raw bytes
                    parts.append(thing.read_raw_bytes())
        return b"\n".join(parts)


def peak_memory_of(code: str, data: bytes = b"") -> int:
    """The peak memory of the processes ``code`` starts (the confined cleaners), run in a fresh process:
    every child this test process ever had (servers, tools) would count in its own figure."""
    measure = ("\nimport resource, sys\n"
               "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))")
    done = subprocess.run([sys.executable, "-c", code + measure], input=data, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return int(done.stdout.split()[-1])


def cleaning_peak_memory(data: bytes) -> int:
    """The peak memory of cleaning ``data`` (refused or not)."""
    return peak_memory_of("import sys\nfrom portal.services import attachments\n"
                          "try:\n    attachments.clean(sys.stdin.buffer.read())\n"
                          "except attachments.AttachmentError:\n    pass", data)


def refusal(data):
    with pytest.raises(attachments.AttachmentError) as refused:
        attachments.clean(data)
    return refused.value.reason


# The stories


@needs_exiftool
def test_a_photo_to_pdf_with_hidden_content_is_rebuilt_from_its_page(app, client, facility_ids, investigators,
                                                                    tmp_path):
    original = hostile_pdf()
    assert CANARY in decompressed(original) and b"/JavaScript" in original
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(original), "scan.pdf")]})
    assert response.status_code == 200
    [(stored_type, _record, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "application/pdf"

    scan = decompressed(clean)
    for hidden in (CANARY, b"canary", b"/JS", b"/JavaScript", b"/OpenAction", b"/EmbeddedFile", b"/Annots",
                   b"/URI", b"/Author", b"/Metadata", b"/Font", b"GPS"):
        assert hidden not in scan, hidden
    tags = exiftool_tags(clean, tmp_path, "clean.pdf")
    assert not any("GPS" in key or "Author" in key or "Creator" in key for key in tags), tags
    assert "canary" not in json.dumps(tags).lower()
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        [page] = pdf.pages
        assert [round(float(side)) for side in page.mediabox] == [0, 0, 300, 200]
        [picture] = page.obj.Resources.XObject.values()
        page_jpeg = picture.read_raw_bytes()
    assert not Image.open(io.BytesIO(page_jpeg)).getexif()
    assert "canary" not in json.dumps(exiftool_tags(page_jpeg, tmp_path, "page.jpg")).lower()
    # What the page showed is still there: the purple photo, drawn as pixels.
    drawn = pypdfium2.PdfDocument(clean)[0].render(scale=1).to_pil().convert("RGB")
    red, green, blue = drawn.getpixel((150, 100))
    assert abs(red - 120) < 25 and green < 50 and abs(blue - 140) < 25


def test_the_steps_name_what_the_original_had_and_nothing_more():
    hostile = attachments.clean(hostile_pdf())
    assert hostile.steps == ("location_removed", "author_removed", "metadata_removed", "rebuilt_from_pages",
                             "hidden_content_removed")
    assert hostile.pages == 1 and hostile.content_type == "application/pdf" and hostile.extension == "pdf"
    assert attachments.clean(plain_pdf(3)) == attachments.CleanFile(
        attachments.clean(plain_pdf(3)).data, "application/pdf", "pdf", ("rebuilt_from_pages",), pages=3)

    plain = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(plain, "PNG")
    assert attachments.clean(plain.getvalue()).steps == ("rebuilt_from_pixels",)


@needs_exiftool
def test_a_phone_photo_loses_its_position_owner_and_serial_and_stands_upright(app, client, facility_ids,
                                                                                investigators, tmp_path):
    original = photo_with_gps(size=(64, 48), orientation=6)
    assert any("GPS" in key for key in exiftool_tags(original, tmp_path, "original.jpg"))
    cleaned = attachments.clean(original)
    assert cleaned.steps == ("location_removed", "author_removed", "metadata_removed", "orientation_applied",
                             "rebuilt_from_pixels")

    send_report(client, facility_ids[0], files={"files": [(io.BytesIO(original), "IMG_0001.jpg")]})
    [(stored_type, _record, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "image/jpeg" and CANARY not in clean
    tags = exiftool_tags(clean, tmp_path, "clean.jpg")
    assert not any(word in key for key in tags for word in ("GPS", "Artist", "Owner", "Serial", "Comment",
                                                             "Make", "Orientation", "XMP")), tags
    assert Image.open(io.BytesIO(clean)).size == (48, 64)


def test_a_photo_declaring_huge_dimensions_is_refused_from_its_header(app, client, facility_ids):
    bomb = png(100_000, 100_000, rows=200, text=b"Comment\x00Canary text")
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(bomb), "photo.png")]})
    assert response.status_code == 400
    assert "more than 50 megapixels" in response.get_data(as_text=True)
    assert stored_count(app) == 0
    assert refusal(bomb) == "too_many_pixels"


def test_a_small_png_of_119_megapixels_is_refused_within_the_memory_limit():
    bomb = png(10_920, 10_920)
    assert len(bomb) < 1 * MiB
    assert refusal(bomb) == "too_many_pixels"
    assert cleaning_peak_memory(bomb) < PEAK_MEMORY


def test_a_pdf_bomb_of_nested_flate_is_refused_without_being_inflated(app, client, facility_ids):
    bomb = nested_flate_bomb()
    assert len(bomb) < 100_000
    assert refusal(bomb) == "expands"
    assert cleaning_peak_memory(bomb) < PEAK_MEMORY
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(bomb), "payslip.pdf")]})
    assert response.status_code == 400
    assert "grows too large to be cleaned safely" in response.get_data(as_text=True)
    assert stored_count(app) == 0


def test_a_pdf_of_too_many_pages_is_refused_before_any_is_drawn(app, client, facility_ids):
    assert attachments.clean(plain_pdf(attachments.MAX_PAGES)).pages == attachments.MAX_PAGES
    response = send_report(client, facility_ids[0],
                           files={"files": [(io.BytesIO(plain_pdf(attachments.MAX_PAGES + 1)), "long.pdf")]})
    assert response.status_code == 400
    assert f"more than {attachments.MAX_PAGES} pages" in response.get_data(as_text=True)
    assert stored_count(app) == 0


def test_a_file_is_cleaned_as_what_its_content_is_whatever_its_name(app, client, facility_ids, investigators):
    send_report(client, facility_ids[0], files={"files": [(io.BytesIO(hostile_pdf()), "photo.jpg")]})
    [(stored_type, _record, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "application/pdf" and b"/JavaScript" not in decompressed(clean)

    # A photo with a ZIP archive glued after it keeps its picture and loses the archive.
    glued = photo_with_gps() + b"PK\x03\x04" + b"Canary archive" * 20
    assert b"PK\x03\x04" not in attachments.clean(glued).data

    assert refusal(b"\x89PNG\r\n\x1a\n" + b"Canary garbage" * 100) == "damaged"
    assert refusal(b"%PDF-1.7\n" + b"<html><script>alert(1)</script></html>") == "damaged"
    for disguised in (b"PK\x03\x04\x14\x00" + b"\x00" * 100, b"<!DOCTYPE html><html><body>hi</body></html>",
                      b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'):
        assert refusal(disguised) == "unsupported"


def test_a_file_that_breaks_the_cleaner_is_refused_and_nothing_is_stored(app, client, facility_ids, monkeypatch):
    # A cleaner given too little memory to even start stands for one a file made crash.
    monkeypatch.setattr(attachments, "LIMITS", confinement.Limits(memory_bytes=32 * MiB))
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(photo_with_gps()), "photo.jpg")]})
    assert response.status_code == 400
    assert "we could not remove the hidden information in it" in response.get_data(as_text=True)
    assert stored_count(app) == 0


def test_when_every_cleaning_slot_stays_taken_the_worker_is_asked_to_try_again(app_config, investigators,
                                                                                facility_ids):
    busy_app = create_app(dict(app_config, CLEANING_SLOTS=1, CLEANING_WAIT_SECONDS=0))
    busy_app.config["TESTING"] = True
    try:
        with confinement.slot():
            response = send_report(busy_app.test_client(), facility_ids[0],
                                   files={"files": [(io.BytesIO(photo_with_gps()), "photo.jpg")]})
        assert response.status_code == 503
        assert "we are busy with other files" in response.get_data(as_text=True)
        assert stored_count(busy_app) == 0
        assert attachments.clean(photo_with_gps()).content_type == "image/jpeg"  # the slot is free again
    finally:
        busy_app.extensions["portal.engine"].dispose()


# The confinement any cleaner uses (photos and PDFs here, ffmpeg for sound and video)


def python(code):
    return [sys.executable, "-I", "-c", code]


def test_a_confined_child_reads_its_input_and_returns_its_output():
    assert confinement.run(python("import sys; sys.stdout.write(sys.stdin.read().upper())"), b"evidence") \
        == b"EVIDENCE"


def test_a_confined_child_that_grabs_memory_is_stopped_by_its_limit():
    with pytest.raises(confinement.ConfinementError) as refused:
        confinement.run(python("x = bytearray(1024 ** 3)"), b"", confinement.Limits(memory_bytes=256 * MiB))
    assert refused.value.reason == "failed"
    assert peak_memory_of(
        "from portal.services import confinement\n"
        f"argv = {python('x = bytearray(1024 ** 3)')!r}\n"
        "try:\n    confinement.run(argv, b'', confinement.Limits(memory_bytes=256 * 1024 ** 2))\n"
        "except confinement.ConfinementError:\n    pass") < PEAK_MEMORY


def test_a_confined_child_that_never_ends_is_killed_at_its_deadline():
    with pytest.raises(confinement.ConfinementError) as refused:
        confinement.run(python("import time; time.sleep(60)"), b"", confinement.Limits(wall_seconds=1))
    assert refused.value.reason == "timeout"


def test_a_confined_child_that_spins_is_stopped_by_its_cpu_limit():
    with pytest.raises(confinement.ConfinementError) as refused:
        confinement.run(python("while True: pass"), b"", confinement.Limits(cpu_seconds=1, wall_seconds=30))
    assert refused.value.reason == "failed"


def test_a_confined_child_that_writes_too_much_is_cut_off():
    with pytest.raises(confinement.ConfinementError) as refused:
        confinement.run(python("import sys; sys.stdout.buffer.write(bytes(10 ** 7))"), b"",
                        confinement.Limits(output_bytes=MiB))
    assert refused.value.reason == "too_large"


def test_a_confined_child_writes_no_file_and_sees_no_portal_setting(monkeypatch):
    monkeypatch.setenv("PORTAL_SMTP_PASSWORD", "secret")
    code = "import os; print(os.environ.get('PORTAL_SMTP_PASSWORD')); f = open('x', 'w'); f.write('evidence'); f.flush()"
    with pytest.raises(confinement.ConfinementError) as refused:
        confinement.run(python(code), b"")
    assert refused.value.reason == "failed"
    assert confinement.run(python("import os; print(os.environ.get('PORTAL_SMTP_PASSWORD'))"), b"") == b"None\n"
