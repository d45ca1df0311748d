"""Evidence a worker sends from a phone: each kind is recognised from its
content and cleaned, and investigators see what cleaning did (sound and video: test_evidence_media.py)."""

import hashlib
import io
import re

import pikepdf
import pytest
from evidence import stored_files
from inbox_pages import log_in, post_on_case
from PIL import Image
from pillow_heif import register_heif_opener
from reporter_pages import send_report
from sqlalchemy import select
from test_evidence_media import ffmpeg, tone

import crypto
from portal.models import AuditEntry, Case, User
from portal.services import attachments, evidence, keyring

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
    [(stored_type, record, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == content_type and "rebuilt_from_pixels" in record.steps
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
    [(stored_type, record, clean)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "application/pdf" and record.steps and record.pages == 1
    assert b"Canary" not in clean
    assert len(pikepdf.open(io.BytesIO(clean)).pages) == 1


def test_the_type_comes_from_the_content_not_the_name(app, client, facility_ids, investigators):
    png = io.BytesIO()
    Image.new("L", (5, 5)).save(png, "PNG")
    send_report(client, facility_ids[0], files={"files": [(io.BytesIO(png.getvalue()), "notes.pdf")]})
    [(stored_type, _record, _data)] = stored_files(app, investigators["anna"][1])
    assert stored_type == "image/png"


# --- What investigators see of each file ------------------------------------------------------------

def pdf_of(pages: int) -> bytes:
    pdf = pikepdf.new()
    for _page in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Author"] = "Canary Supervisor"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


FILE_LINK = re.compile(r'href="(/inbox/cases/\d+/files/(\d+))">File \d+</a> · ([\w/.+-]+) · ([\d.]+) KB')


def files_on(page: str) -> list[dict]:
    """Each file as the case page describes it, in order: link, type, size, and the paragraphs after it."""
    found = []
    sections = page.split('<section class="evidence">')[1:]
    for section in sections:
        link, item_id, content_type, size = FILE_LINK.search(section).groups()
        found.append({"url": link, "id": int(item_id), "type": content_type, "kb": size,
                      "sha256": re.search(r'<code class="digest">([0-9a-f]{64})</code>', section).group(1),
                      "text": section.split("</section>")[0]})
    return found


def step_words(data: bytes) -> list[str]:
    """The words the inbox uses for what cleaning does to ``data``."""
    from portal.web.common.labels import STEP_LABELS

    return [str(STEP_LABELS[step]) for step in attachments.clean(data).steps]


def test_investigators_see_each_files_type_size_pages_digest_and_cleaning_and_preview_it(
        app, client, facility_ids, colleague):
    photo = image_with_metadata("JPEG")
    payslips = pdf_of(7)
    assert send_report(client, facility_ids[0], files={"photo": [(io.BytesIO(photo), "IMG_0042.jpg")],
                                                       "files": [(io.BytesIO(payslips), "payslips.pdf")]}
                       ).status_code == 200
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalars(select(Case)).one().id
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    shown_photo, shown_pdf = files_on(page)

    # Type, size, pages, and the digest of exactly the bytes a download gives.
    with app.test_request_context():
        for shown, words in ((shown_photo, step_words(photo)), (shown_pdf, step_words(payslips))):
            downloaded = anna.get(shown["url"]).data
            assert shown["sha256"] == hashlib.sha256(downloaded).hexdigest()
            assert shown["kb"] == str(round(len(downloaded) / 1024, 1))
            assert words and "What cleaning did: " + ", ".join(words) + "." in shown["text"]
    assert shown_photo["type"] == "image/jpeg" and shown_pdf["type"] == "application/pdf"
    assert "7 pages" in shown_pdf["text"]
    assert "NOT removed" not in page and "not removed" not in page

    # The photo previews inline, as stored, and can run nothing even opened on its own.
    preview = anna.get(f"{shown_photo['url']}/preview")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    assert preview.data == anna.get(shown_photo["url"]).data
    policy = preview.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script" not in policy
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert preview.headers["Content-Disposition"].startswith("inline;")
    assert f'src="{shown_photo["url"]}/preview"' in page

    # The PDF previews as images of its first five pages, drawn on the server.
    for number in range(1, 6):
        drawn = anna.get(f"{shown_pdf['url']}/pages/{number}")
        assert drawn.status_code == 200 and drawn.mimetype == "image/png"
        assert "sandbox" in drawn.headers["Content-Security-Policy"]
        assert Image.open(io.BytesIO(drawn.data)).size[0] > 100
        assert f'src="{shown_pdf["url"]}/pages/{number}"' in page
    assert "first 5 of 7 pages" in shown_pdf["text"]
    assert anna.get(f"{shown_pdf['url']}/pages/6").status_code == 404
    assert anna.get(f"{shown_pdf['url']}/pages/0").status_code == 404
    # Neither is served the other way.
    assert anna.get(f"{shown_pdf['url']}/preview").status_code == 404
    assert anna.get(f"{shown_photo['url']}/pages/1").status_code == 404

    # Previews are recorded in the audit trail, like downloads.
    with app.extensions["portal.sessions"]() as session:
        anna_id = session.scalar(select(User.id).where(User.username == "anna"))
        previewed = session.scalars(select(AuditEntry.detail).where(
            AuditEntry.action == "preview", AuditEntry.actor_user_id == anna_id, AuditEntry.case_id == case_id)).all()
        assert len(previewed) == 6

    # Chandra does not hold the case: no preview, no page image.
    chandra_user, _identity = colleague
    chandra = app.test_client()
    assert log_in(chandra, "chandra").status_code == 303
    assert chandra.get(f"{shown_photo['url']}/preview").status_code == 404
    assert chandra.get(f"{shown_pdf['url']}/pages/1").status_code == 404

    # Handed to her, and taken from the others, she reads the same record.
    post_on_case(anna, case_id, "keyholders", user=str(chandra_user.id))
    for name, holder in (("binh", anna), ("anna", anna)):
        with app.extensions["portal.sessions"]() as session:
            user_id = session.scalar(select(User.id).where(User.username == name))
        assert post_on_case(holder, case_id, f"keyholders/{user_id}/remove").status_code == 303
    handed = files_on(chandra.get(f"/inbox/cases/{case_id}").get_data(as_text=True))
    assert [f["sha256"] for f in handed] == [shown_photo["sha256"], shown_pdf["sha256"]]
    assert chandra.get(f"{shown_photo['url']}/preview").status_code == 200


def test_a_sound_file_is_not_previewed_and_downloads_as_before(app, client, facility_ids, tmp_path):
    voice = ffmpeg(tmp_path, "rec.m4a", *tone(seconds=1), "-c:a", "aac")
    assert send_report(client, facility_ids[0], files={"voice": [(io.BytesIO(voice), "rec.m4a")]}).status_code == 200
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalars(select(Case)).one().id
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    [shown] = files_on(page)
    assert shown["type"] == "audio/mp4" and "<img" not in shown["text"]
    assert anna.get(f"{shown['url']}/preview").status_code == 404
    assert anna.get(f"{shown['url']}/pages/1").status_code == 404
    download = anna.get(shown["url"])
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert hashlib.sha256(download.data).hexdigest() == shown["sha256"]
    assert "length 0:01" in shown["text"] and "What cleaning did: " in shown["text"]


def test_a_record_tells_a_sound_files_length_and_a_file_stored_before_records_says_so(
        app, client, facility_ids, tmp_path):
    voice = ffmpeg(tmp_path, "rec.m4a", *tone(seconds=1), "-c:a", "aac")
    photo = image_with_metadata("PNG")
    assert send_report(client, facility_ids[0], files={"voice": [(io.BytesIO(voice), "rec.m4a")],
                                                       "photo": [(io.BytesIO(photo), "a.png")]}).status_code == 200
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        case_id = case.id
        files = {item.content_type: item for item in case.items if item.kind == "attachment"}
        sound, picture = files["audio/mp4"], files["image/png"]
        # A cleaner that measures a recording; and a row from before this portal kept records.
        sound.evidence_record = evidence.seal(evidence.Record("audio/mp4", sound.size, "0" * 64,
                                                              ("voice_disguised",), duration=65.4),
                                              keyring.case_recipients(session, case))
        picture.evidence_record = None
        session.commit()
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    sections = page.split('<section class="evidence">')[1:]
    [sound_text] = [s for s in sections if "audio/mp4" in s]
    [picture_text] = [s for s in sections if "image/png" in s]
    assert "length 1:05" in sound_text and "What cleaning did: voice disguised." in sound_text
    assert "Stored before this portal kept cleaning records." in picture_text
    assert "<img" not in picture_text
    link = re.search(r'href="(/inbox/cases/\d+/files/\d+)"', picture_text).group(1)
    assert anna.get(link).status_code == 200 and anna.get(link + "/preview").status_code == 404



def test_a_sound_file_stored_before_every_file_was_cleaned_stays_out_of_a_forward_without_consent(
        app, client, facility_ids):
    photo = image_with_metadata("PNG")
    assert send_report(client, facility_ids[0], consent="without_identity",
                       files={"photo": [(io.BytesIO(photo), "a.png")]}).status_code == 200
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        case_id = case.id
        # A voice note from before this portal cleaned sound: kept as sent, with no record.
        old = next(item for item in case.items if item.kind == "attachment")
        old.content_type, old.evidence_record = "audio/mp4", None
        session.commit()
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    page = anna.get(f"/inbox/cases/{case_id}/forward").get_data(as_text=True)
    assert "1 file stays out: it was stored before this portal cleaned every file" in page
    assert f'value="{old.id}"' not in page, "the file is not offered"


@pytest.mark.parametrize("path", ["/en/report", "/en/retaliation"])
def test_every_form_with_files_says_what_cleaning_removes_and_what_it_cannot(client, facility_ids, path):
    page = client.get(path).get_data(as_text=True)
    assert 'type="file"' in page
    # The first half is the rule the cleaning tests above hold the portal to; the second is its limit.
    assert ("We remove the hidden information in photos, voice notes and videos, such as where and when they "
            "were taken. We cannot remove what they show or say, such as a face, a name or a payslip.") in page


def test_a_hostile_pdf_with_a_forged_record_is_drawn_only_in_the_confined_cleaner(app, client, facility_ids):
    """A partner's portal can send any PDF with any record: its preview is drawn by the cleaner's child,
    whose limits stop a bomb, and the web worker that serves the page never opens it."""
    from test_evidence_cleaning import PEAK_MEMORY, nested_flate_bomb, peak_memory_of

    photo = image_with_metadata("PNG")
    assert send_report(client, facility_ids[0], files={"photo": [(io.BytesIO(photo), "a.png")]}).status_code == 200
    bomb = nested_flate_bomb()
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        item = next(i for i in case.items if i.kind == "attachment")
        recipients = keyring.case_recipients(session, case)
        item.blob, item.content_type, item.size = crypto.encrypt(bomb, recipients), "application/pdf", len(bomb)
        item.evidence_record = evidence.seal(evidence.Record("application/pdf", len(bomb), "0" * 64,
                                                             ("rebuilt_from_pages",), pages=1), recipients)
        session.commit()
        case_id, item_id = case.id, item.id
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    assert anna.get(f"/inbox/cases/{case_id}/files/{item_id}/pages/1").status_code == 404
    # The page the preview draws, drawn the same way in a fresh process: only its cleaner counts.
    assert peak_memory_of("import sys\nfrom portal.services import previews\n"
                          "previews.render_page(sys.stdin.buffer.read(), 0)", bomb) < PEAK_MEMORY
