"""Evidence a worker sends from a phone: each kind is recognised from its
content and cleaned (sound and video: test_evidence_media.py)."""

import io

import pikepdf
import pytest
from evidence import stored_files
from PIL import Image
from pillow_heif import register_heif_opener
from reporter_pages import send_report

register_heif_opener()


def image_with_metadata(fmt, **extra):
    exif = Image.Exif()
    exif[0x010F] = "CanaryMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (5.0, 21.0, 30.0)})
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "purple").save(out, fmt, exif=exif, **extra)
    return out.getvalue()


@pytest.mark.parametrize("fmt,content_type", [("PNG", "image/png"), ("WEBP", "image/webp"),
                                              ("HEIF", "image/jpeg")])
def test_photos_in_every_phone_format_are_stored_clean(app, client, facility_ids, investigators, fmt,
                                                       content_type):
    data = image_with_metadata(fmt)
    assert b"CanaryMaker" in data
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(data), "photo.bin")]})
    assert response.status_code == 200
    [(stored_type, cleaned, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == content_type and cleaned is True
    assert b"CanaryMaker" not in clean
    image = Image.open(io.BytesIO(clean))
    assert image.size == (32, 24) and not image.getexif()


def test_a_pdf_loses_its_author_and_xmp_metadata(app, client, facility_ids, investigators):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Canary Supervisor"
    with pdf.open_metadata() as meta:
        meta["dc:creator"] = ["Canary Creator"]
    out = io.BytesIO()
    pdf.save(out)
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(out.getvalue()), "pay.pdf")]})
    assert response.status_code == 200
    [(stored_type, cleaned, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "application/pdf" and cleaned is True
    assert b"Canary" not in clean
    assert len(pikepdf.open(io.BytesIO(clean)).pages) == 1


def test_the_type_comes_from_the_content_not_the_name(app, client, facility_ids, investigators):
    png = io.BytesIO()
    Image.new("L", (5, 5)).save(png, "PNG")
    send_report(client, facility_ids[0], files={"files": [(io.BytesIO(png.getvalue()), "notes.pdf")]})
    [(stored_type, _cleaned, _data)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "image/png"
