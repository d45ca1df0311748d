"""Sound and video a worker sends from a phone: whatever input it comes through, it is
recognised from its content, written anew with only its picture and sound, or refused.
Nothing that names a place, a person or a device survives, and a voice can be changed."""

import array
import io
import json
import os
import re
import shutil
import subprocess

import pytest
from accounts import passphrase_of, totp_secret_of
from evidence import stored_files
from reporter_pages import csrf_token, draft_id, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import func, select

from portal.models import Case
from portal.services import attachments, users

BRUSSELS = "+50.8503+004.3517/"
FILMED = "2019-03-04T05:06:07Z"
SEI_UUID = "086f3693-b7b3-4f2c-9653-21492feee5b8"
TICKED = re.compile(r'<input [^>]*checked [^>]*name="disguise_voice" type="checkbox"')
# What a clean file must never show, in exiftool's words or in its bytes.
TRACES = re.compile(r"(?i)canary|gps|location|50\.85|artist|author|title|comment|chapter|cover|subtitle|2019")


@pytest.fixture(autouse=True)
def tools():
    """ffmpeg (which the portal needs) and exiftool: fail in CI, skip elsewhere, when missing."""
    for program, package in (("ffmpeg", "ffmpeg"), ("exiftool", "libimage-exiftool-perl")):
        if shutil.which(program) is None:
            message = f"`{program}` was not found: install the Debian package `{package}`"
            in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
            pytest.fail(message) if in_ci else pytest.skip(message)


def ffmpeg(tmp_path, name, *args):
    """A file made with ffmpeg from test sources: ``args`` are its inputs and options."""
    target = tmp_path / name
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(target)], check=True)
    return target.read_bytes()


def tone(seconds=2, frequency=220):
    return ["-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100:duration={seconds}"]


def picture(seconds=2, size="160x120", rate=15):
    return ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]


def canary_tags():
    return ["-metadata", "title=CanaryTitle", "-metadata", "artist=CanaryArtist",
            "-metadata", "comment=CanaryComment", "-metadata", f"location={BRUSSELS}",
            "-metadata", f"creation_time={FILMED}"]


def probe(tmp_path, data):
    path = tmp_path / "probed"
    path.write_bytes(data)
    found = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                            "-show_chapters", str(path)], capture_output=True, check=True)
    return json.loads(found.stdout)


def stream_kinds(tmp_path, data):
    """The kinds of stream in ``data``, once every frame of it decoded without an error."""
    path = tmp_path / "played"
    path.write_bytes(data)
    played = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert played.returncode == 0 and not played.stderr, played.stderr
    return sorted(stream["codec_type"] for stream in probe(tmp_path, data)["streams"])


def assert_nothing_identifying(tmp_path, data):
    path = tmp_path / "checked"
    path.write_bytes(data)
    exif = subprocess.run(["exiftool", "-a", "-G1", str(path)], capture_output=True, text=True, check=True).stdout
    found = [line for line in exif.splitlines() if not line.startswith(("[ExifTool]", "[System]", "[File]"))]
    assert not [line for line in found if TRACES.search(line)], found
    text = subprocess.run(["strings", "-n", "5", str(path)], capture_output=True, text=True, check=True).stdout
    assert not TRACES.search(text)
    assert b"udta" not in data and b"\xa9xyz" not in data


def pitch(data) -> float:
    """The frequency of a tone, counted from where the sound wave crosses zero."""
    decoded = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "-", "-ac", "1", "-ar", "16000",
                              "-f", "s16le", "-"], input=data, capture_output=True, check=True).stdout
    samples = array.array("h", decoded)[1600:-1600]  # leave out the first and last tenth of a second
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 16000)


def cases_stored(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_a_video_from_take_a_photo_loses_its_location_and_keeps_picture_and_sound(
        app, client, facility_ids, investigators, tmp_path):
    # A phone's H.264, with Apple's location key and a camera's own text in the picture stream (an SEI unit).
    video = ffmpeg(tmp_path, "clip.mp4", *picture(), *tone(), *canary_tags(), "-movflags", "use_metadata_tags",
                   "-metadata", f"com.apple.quicktime.location.ISO6709={BRUSSELS}",
                   "-c:v", "libx264", "-pix_fmt", "yuv420p",
                   "-bsf:v", f"h264_metadata=sei_user_data={SEI_UUID}+CanarySerial",
                   "-c:a", "aac", "-shortest")
    assert b"CanaryTitle" in video and b"ISO6709" in video and b"CanarySerial" in video
    response = send_report(client, facility_ids[0], files={"photo": [(io.BytesIO(video), "IMG_0001.mp4")]})
    assert response.status_code == 200
    [(content_type, cleaned, data)] = stored_files(app, investigators["anna"][1])
    assert content_type == "video/mp4" and cleaned is not None and cleaned.sha256
    assert_nothing_identifying(tmp_path, data)
    assert stream_kinds(tmp_path, data) == ["audio", "video"]
    assert pitch(data) == pytest.approx(220, rel=0.03)  # the box was not ticked: the sound is as it was


def test_the_cleaner_says_truthfully_what_it_took_out_of_a_video(tmp_path):
    video = ffmpeg(tmp_path, "clip.mp4", *picture(), *tone(), *canary_tags(), "-c:v", "libx264", "-c:a", "aac")
    clean = attachments.clean(video)
    assert clean.steps == ("location_removed", "author_removed", "metadata_removed")
    assert clean.duration == pytest.approx(2, abs=0.1)
    plain = ffmpeg(tmp_path, "plain.mp4", *picture(), "-c:v", "libx264", "-map_metadata", "-1")
    assert attachments.clean(plain).steps == ("metadata_removed",)


def test_a_video_sent_as_a_voice_note_is_cleaned_as_a_video(app, client, facility_ids, investigators, tmp_path):
    video = ffmpeg(tmp_path, "voice.m4a", *picture(), *tone(), *canary_tags(), "-c:v", "libx264", "-c:a", "aac",
                   "-f", "mp4")
    response = send_report(client, facility_ids[0], files={"voice": [(io.BytesIO(video), "voice.m4a")]},
                           disguise_voice="y")
    assert response.status_code == 200
    [(content_type, cleaned, stored)] = stored_files(app, investigators["anna"][1])
    assert content_type == "video/mp4" and cleaned is not None and cleaned.sha256
    assert_nothing_identifying(tmp_path, stored)
    assert stream_kinds(tmp_path, stored) == ["audio", "video"]
    # The box was ticked: the video's sound is disguised too.
    assert abs(pitch(stored) / 220 - 1) > 0.12
    worker = app.test_client()
    log_in_with_receipt(worker, receipt_on(response))
    assert re.search(r"Video · <span", worker.get("/en/case").get_data(as_text=True))


def test_a_song_loses_its_tags_chapters_and_cover_art_and_keeps_its_sound(
        app, client, facility_ids, investigators, tmp_path):
    (tmp_path / "chapters.txt").write_text(";FFMETADATA1\ntitle=CanaryTitle\nartist=CanaryArtist\n"
                                           "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=CanaryChapter\n")
    ffmpeg(tmp_path, "cover.png", *picture(seconds=1), "-frames:v", "1")
    song = ffmpeg(tmp_path, "song.mp3", *tone(), "-i", str(tmp_path / "chapters.txt"), "-i", str(tmp_path / "cover.png"),
                  "-map", "0:a", "-map", "2:v", "-map_metadata", "1", "-map_chapters", "1", "-c:v", "png",
                  "-disposition:v", "attached_pic", "-metadata:s:v", "comment=Cover (front)", "-id3v2_version", "3")
    assert b"CanaryChapter" in song and b"CanaryArtist" in song
    assert [s["codec_type"] for s in probe(tmp_path, song)["streams"]] == ["audio", "video"]
    clean = attachments.clean(song)
    assert clean.steps == ("author_removed", "metadata_removed", "extra_streams_removed")
    assert (clean.content_type, clean.extension) == ("audio/mp4", "m4a")

    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(song), "song.mp3")]})
    assert response.status_code == 200
    [(content_type, cleaned, stored)] = stored_files(app, investigators["anna"][1])
    assert content_type == "audio/mp4" and cleaned is not None and cleaned.sha256
    assert_nothing_identifying(tmp_path, stored)
    found = probe(tmp_path, stored)
    assert [s["codec_type"] for s in found["streams"]] == ["audio"] and not found["chapters"]
    assert float(found["format"]["duration"]) == pytest.approx(2, abs=0.1)


def test_a_browser_recorded_video_loses_its_subtitles_second_sound_and_chapters_and_becomes_h264(
        app, client, facility_ids, investigators, tmp_path):
    (tmp_path / "words.srt").write_text("1\n00:00:00,000 --> 00:00:01,500\nCanarySubtitle\n")
    (tmp_path / "chapters.txt").write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\n"
                                           "title=CanaryChapter\n")
    video = ffmpeg(tmp_path, "clip.mkv", *picture(), *tone(), *tone(frequency=440), "-i", str(tmp_path / "words.srt"),
                   "-i", str(tmp_path / "chapters.txt"), "-map", "0", "-map", "1", "-map", "2", "-map", "3",
                   "-map_chapters", "4", "-metadata:s:a:1", "title=CanarySecondSound", *canary_tags(),
                   "-c:v", "libvpx", "-c:a", "libopus", "-c:s", "srt")
    assert b"CanarySubtitle" in video and b"CanaryChapter" in video
    assert attachments.clean(video).steps == ("location_removed", "author_removed", "metadata_removed",
                                              "extra_streams_removed")
    response = send_report(client, facility_ids[0], files={"files": [(io.BytesIO(video), "clip.mkv")]})
    assert response.status_code == 200
    [(content_type, _cleaned, stored)] = stored_files(app, investigators["anna"][1])
    assert content_type == "video/mp4"
    assert_nothing_identifying(tmp_path, stored)
    found = probe(tmp_path, stored)
    assert sorted(s["codec_name"] for s in found["streams"]) == ["aac", "h264"] and not found["chapters"]
    assert pitch(stored) == pytest.approx(220, rel=0.03)  # the first sound, not the second


@pytest.mark.parametrize("ticked,changed", [(True, True), (False, False)])
def test_a_voice_note_sounds_different_only_when_change_my_voice_is_ticked(
        app, client, facility_ids, investigators, tmp_path, ticked, changed):
    voice = ffmpeg(tmp_path, "voice.ogg", *tone(), "-c:a", "libopus")
    extra = {"disguise_voice": "y"} if ticked else {}
    response = send_report(client, facility_ids[0], files={"voice": [(io.BytesIO(voice), "voice.ogg")]}, **extra)
    assert response.status_code == 200
    [(content_type, cleaned, stored)] = stored_files(app, investigators["anna"][1])
    assert content_type == "audio/mp4" and cleaned is not None and cleaned.sha256
    assert (abs(pitch(stored) / 220 - 1) > 0.12) is changed
    assert float(probe(tmp_path, stored)["format"]["duration"]) == pytest.approx(2, abs=0.15)


@pytest.mark.parametrize("ticked", [True, False])
def test_a_voice_note_sent_from_the_follow_up_page_follows_the_box(app, client, facility_ids, investigators,
                                                                   tmp_path, ticked):
    receipt = receipt_on(send_report(client, facility_ids[0]))
    worker = app.test_client()
    log_in_with_receipt(worker, receipt)
    page = worker.get("/en/case")
    voice = ffmpeg(tmp_path, "voice.wav", *tone())
    sent = worker.post("/en/case", data={"csrf_token": csrf_token(page), "message": "",
                                         "voice": [(io.BytesIO(voice), "voice.wav")],
                                         **({"disguise_voice": "y"} if ticked else {})},
                       content_type="multipart/form-data")
    assert sent.status_code == 303
    [(content_type, _cleaned, stored)] = stored_files(app, investigators["anna"][1])
    assert content_type == "audio/mp4" and (abs(pitch(stored) / 220 - 1) > 0.12) is ticked


@pytest.mark.parametrize("path", ["/en/report", "/en/retaliation"])
def test_change_my_voice_is_ticked_when_a_form_opens_and_says_what_it_cannot_hide(client, path):
    page = client.get(path).get_data(as_text=True)
    assert TICKED.search(page)
    assert "Change my voice" in page
    assert ("we change how your voice sounds in voice notes and videos before anyone hears them. But your words, "
            "your accent and the sounds around you can still be heard.") in page


def test_change_my_voice_is_ticked_on_the_follow_up_and_claim_pages(app, client, facility_ids):
    worker = app.test_client()
    log_in_with_receipt(worker, receipt_on(send_report(client, facility_ids[0])))
    for path in ("/en/case", "/en/case/claim"):
        page = worker.get(path).get_data(as_text=True)
        assert TICKED.search(page), path


def test_a_file_that_looks_like_a_recording_but_is_not_is_refused_and_nothing_is_kept(
        app, client, facility_ids, investigators):
    fake = b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom" + b"I am not a recording. " * 40
    before = cases_stored(app)
    response = send_report(client, facility_ids[0], files={"voice": [(io.BytesIO(fake), "rec.m4a")]})
    assert response.status_code == 400
    assert "could not be sent: it could not be read, it may be damaged." in response.get_data(as_text=True)
    assert cases_stored(app) == before and stored_files(app, investigators["anna"][1]) == []


@pytest.mark.parametrize("kind", ["voice note", "video"])
def test_a_recording_longer_than_allowed_is_refused_with_the_limits(app, client, facility_ids, investigators,
                                                                   tmp_path, kind):
    if kind == "voice note":
        long = ffmpeg(tmp_path, "long.ogg", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "601",
                      "-c:a", "libopus", "-b:a", "6k")
    else:
        long = ffmpeg(tmp_path, "long.mp4", *picture(seconds=181, size="16x16", rate=1), "-c:v", "libx264")
    before = cases_stored(app)
    response = send_report(client, facility_ids[0], files={"voice": [(io.BytesIO(long), "long")]})
    assert response.status_code == 400
    assert ("could not be sent: the recording is too long. Voice notes can be up to 10 minutes and videos up "
            "to 3 minutes." in response.get_data(as_text=True))
    assert cases_stored(app) == before


@pytest.mark.parametrize("ticked", [True, False])
@pytest.mark.parametrize("where", ["follow-up", "start page"])
def test_a_voice_note_with_a_retaliation_claim_follows_the_box(app, client, facility_ids, session_factory,
                                                               recovery_identity, tmp_path, ticked, where):
    with session_factory() as session:
        users.create(session, "rosa", "Rosa", "retaliation_officer", passphrase_of("rosa"), work_factor=10,
                     totp_secret=totp_secret_of("rosa"))
    worker = app.test_client()
    if where == "follow-up":
        log_in_with_receipt(worker, receipt_on(send_report(client, facility_ids[0])))
        path, fields, status = "/en/case/claim", {}, 303
    else:
        path, fields, status = "/en/retaliation", {"facility": str(facility_ids[0])}, 200
    form = worker.get(path)
    voice = ffmpeg(tmp_path, "voice.wav", *tone())
    sent = worker.post(path, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(form), "submission": draft_id(form), "types": ["dismissal"],
        "description": "I was dismissed two days after my report.", "voice": [(io.BytesIO(voice), "voice.wav")],
        **fields, **({"disguise_voice": "y"} if ticked else {})})
    assert sent.status_code == status
    [(content_type, _cleaned, stored)] = stored_files(app, recovery_identity)
    assert content_type == "audio/mp4" and (abs(pitch(stored) / 220 - 1) > 0.12) is ticked


def test_a_video_wider_than_4k_is_refused_before_it_is_decoded(app, client, facility_ids, investigators, tmp_path):
    wide = ffmpeg(tmp_path, "wide.mkv", *picture(seconds=1, size="4112x16", rate=1), "-c:v", "libvpx")
    before = cases_stored(app)
    response = send_report(client, facility_ids[0], files={"photo": [(io.BytesIO(wide), "wide.mkv")]})
    assert response.status_code == 413
    assert "could not be sent: it is too big or too long to clean." in response.get_data(as_text=True)
    assert cases_stored(app) == before
    with pytest.raises(attachments.AttachmentError) as refused:
        attachments.clean(wide)
    assert refused.value.reason == "too_big_to_clean"
