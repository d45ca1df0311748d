"""Sound and video evidence: written anew from the first sound and the first picture alone.

What a file is comes from its content (ffprobe), never from the input it came through: a video
sent as a voice note is cleaned as a video. Sound becomes M4A (AAC); video becomes MP4 (H.264 and
AAC), which every investigator's computer opens: H.264 pictures (most phones') are copied without
their SEI units, any other picture is encoded anew. Sound is always encoded anew. Titles, artists, comments, locations, dates,
chapters, subtitles, cover art and data tracks are all left behind, and the MP4's user-data boxes
are blanked, so nothing but the picture and the sound remains. A file that cannot be written anew
this way is refused; none is kept as it came.

A voice can be disguised: its pitch and formants are moved by amounts drawn at random for each
file (up or down, 17 to 32 percent for the pitch, 8 to 14 percent for the formants), so the same
voice never sounds the same twice and there is no one fixed setting that undoes it. Words, accent,
way of speaking and background sounds stay as they were.

ffmpeg and ffprobe run only through ``media_tool.run`` (the confinement).
"""

import json
import secrets
import struct
from dataclasses import dataclass

from . import media_tool
from .refusal import Refusal

AUDIO_SECONDS = 10 * 60  # a voice note of up to ten minutes
VIDEO_SECONDS = 3 * 60   # a video of up to three minutes
LONGEST_SIDE = 1920      # larger videos are scaled down to this, keeping their shape
LARGEST_SIDE = 4096      # a picture wider or higher than a phone's 4K is refused before it is decoded

# The reader ffmpeg must use for each container ``attachments.sniff`` recognises: never its own
# guess, which could pick a playlist or a concatenation list that makes it open other files.
_READERS = {"mp4": "mov", "3gp": "mov", "webm": "matroska", "ogg": "ogg", "wav": "wav", "mp3": "mp3",
            "aac": "aac", "amr": "amr"}
_PROBE = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
          "-show_chapters"]
_ONLY_THE_FILE = ["-protocol_whitelist", "file"]
# Tags every rebuilt file has: its brands and the tracks' technical names, never about a person.
_STRUCTURAL_TAGS = {"major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id",
                    "language", "encoder"}
_LOCATION_WORDS = ("location", "gps", "xyz", "iso6709", "latitude", "longitude")
_AUTHOR_WORDS = ("artist", "author", "composer", "performer", "copyright", "encoded_by", "make", "model",
                 "manufacturer", "owner", "device", "software", "creator", "publisher")
_random = secrets.SystemRandom()


class Refused(Refusal):
    """A recording that cannot be cleaned (``reason``, as ``attachments.AttachmentError`` names it)."""


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    content_type: str
    extension: str
    steps: tuple[str, ...]
    duration: float


def clean(data: bytes, *, container: str, disguise_voice: bool) -> Cleaned:
    """``data`` (a sound or video file in ``container``, an extension ``attachments.sniff`` gives)
    rebuilt without metadata, or ``Refused``."""
    if container not in _READERS:
        raise Refused("unsupported")
    reader = ["-f", _READERS[container], *_ONLY_THE_FILE]
    info = _probe(data, "damaged", reader)
    streams = info.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        raise Refused("damaged")
    if video and max(int(video[0].get("width") or 0), int(video[0].get("height") or 0)) > LARGEST_SIDE:
        # Decoding such frames costs memory the cleaner must not have (a bomb can declare them).
        raise Refused("too_big_to_clean")
    limit = VIDEO_SECONDS if video else AUDIO_SECONDS
    declared = _duration(info)
    if declared is not None and declared > limit:
        raise Refused("too_long")
    steps = _found(info, kept=(video[:1] + audio[:1]))
    sound = _sound_filters(audio[0], disguise_voice) if audio else []
    channels = min(2, int(audio[0].get("channels") or 1)) if audio else 0
    sound_out = ["-c:a", "aac", "-b:a", f"{64 * channels}k", "-ac", str(channels or 1), "-flags:a", "+bitexact"]
    if sound:
        sound_out[:0] = ["-af", ",".join(sound)]
    # By index: the first picture that is not cover art, the first sound.
    first_sound = ["-map", f"0:{audio[0]['index']}"] if audio else []
    if video:
        argv = ["-map", f"0:{video[0]['index']}", *first_sound, *_picture(video[0]), *sound_out, "-f", "mp4"]
        name, content_type, extension = "clean.mp4", "video/mp4", "mp4"
    else:
        argv = [*first_sound, *sound_out, "-f", "ipod"]
        name, content_type, extension = "clean.m4a", "audio/mp4", "m4a"
    command = (["ffmpeg", "-nostdin", "-v", "error", *reader, "-i", "{input}", "-map_metadata", "-1",
                "-map_chapters", "-1", "-sn", "-dn", "-fflags", "+bitexact", "-t", str(limit + 1)]
               + argv + ["-movflags", "+faststart", "{output}"])
    try:
        written = media_tool.run(command, data, output=name).output
    except media_tool.ToolFailed as failure:
        raise Refused(_REFUSALS.get(failure.reason, "cannot_clean")) from None
    checked = _check(_blank_user_data(written), video=bool(video), audio=bool(audio), limit=limit)
    if disguise_voice and audio:
        steps += ("voice_disguised",)
    return Cleaned(checked.data, content_type, extension, steps, checked.duration)


# Why the tool stopped, as the reason the worker is told: a file that takes too long to clean is,
# for the worker, too big.
_REFUSALS = {"busy": "busy", "too_large": "too_big_to_clean", "too_slow": "too_big_to_clean"}


def _picture(stream: dict) -> list[str]:
    """How the first picture is written: H.264 (what most phones record) is copied without its SEI
    units, the only place in the picture stream where a camera can add text; any other picture
    is encoded anew as H.264, at most ``LONGEST_SIDE`` pixels wide or high."""
    if stream.get("codec_name") == "h264" and stream.get("pix_fmt") in ("yuv420p", "yuvj420p"):
        return ["-c:v", "copy", "-bsf:v", "filter_units=remove_types=6"]
    scale = f"trunc(min(1,{LONGEST_SIDE}/max(iw,ih))*{{}}/2)*2"
    return ["-vf", f"scale='{scale.format('iw')}':'{scale.format('ih')}',setsar=1", "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-flags:v", "+bitexact"]


def _probe(data: bytes, reason: str, reader: list[str]) -> dict:
    """What ffprobe reads in ``data`` with ``reader``; refused with ``reason`` when it reads nothing."""
    try:
        return json.loads(media_tool.run([*_PROBE, *reader, "{input}"], data).stdout or b"{}")
    except media_tool.ToolFailed as failure:
        raise Refused({"failed": reason}.get(failure.reason) or _REFUSALS.get(failure.reason, "cannot_clean")) from None
    except ValueError:
        raise Refused(reason) from None


def _is_cover(stream: dict) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _duration(info: dict) -> float | None:
    values = [info.get("format", {}).get("duration")] + [s.get("duration") for s in info.get("streams", [])]
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            pass
    return max(numbers) if numbers else None


def _found(info: dict, kept: list[dict]) -> tuple[str, ...]:
    """The steps that describe what the original carried, read before cleaning."""
    tags = [info.get("format", {}).get("tags", {})]
    tags += [stream.get("tags", {}) for stream in info.get("streams", [])]
    tags += [chapter.get("tags", {}) for chapter in info.get("chapters", [])]
    keys = {key.lower() for group in tags for key in group}
    steps = []
    if any(word in key for key in keys for word in _LOCATION_WORDS):
        steps.append("location_removed")
    if any(word in key for key in keys for word in _AUTHOR_WORDS):
        steps.append("author_removed")
    steps.append("metadata_removed")
    if info.get("chapters") or len(info.get("streams", [])) > len(kept):
        steps.append("extra_streams_removed")
    return tuple(steps)


def _sound_filters(stream: dict, disguise_voice: bool) -> list[str]:
    if not disguise_voice:
        return []
    rate = int(stream.get("sample_rate") or 48000)
    up = _random.random() < 0.5
    formants = _random.uniform(1.08, 1.14)
    pitch = _random.uniform(1.08, 1.16)
    if not up:
        formants, pitch = 1 / formants, 1 / pitch
    # Resampling moves pitch and formants together; the tempo is then put back. Rubber Band moves
    # the pitch alone a second time, so pitch and formants move by different amounts.
    return [f"asetrate={rate * formants:.0f}", f"aresample={rate}", f"atempo={1 / formants:.6f}",
            f"rubberband=pitch={pitch:.6f}:formant=preserved:pitchq=quality"]


@dataclass(frozen=True)
class _Written:
    data: bytes
    duration: float


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
_BLANKED = {b"udta", b"meta", b"uuid"}


def _blank_user_data(data: bytes) -> bytes:
    """Turn every user-data, metadata and vendor box of an MP4 into free space of the same size.

    ffmpeg leaves an empty ``udta/meta`` box; a player ignores a ``free`` box and the sample
    offsets stay right because nothing moves.
    """
    buffer = bytearray(data)

    def walk(start: int, end: int) -> None:
        offset = start
        while offset + 8 <= end:
            size, kind = struct.unpack(">I4s", buffer[offset:offset + 8])
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", buffer[offset + 8:offset + 16])[0], 16
            elif size == 0:
                size = end - offset
            if size < header or offset + size > end:
                raise Refused("cannot_clean")
            if kind in _BLANKED:
                buffer[offset + 4:offset + 8] = b"free"
                buffer[offset + header:offset + size] = bytes(size - header)
            elif kind in _CONTAINERS:
                walk(offset + header, offset + size)
            offset += size

    walk(0, len(buffer))
    return bytes(buffer)


def _check(data: bytes, *, video: bool, audio: bool, limit: int) -> _Written:
    """The rebuilt file holds the picture and sound it should, no tag about anyone, and is not too long."""
    info = _probe(data, "cannot_clean", ["-f", "mov", *_ONLY_THE_FILE])
    kinds = [s.get("codec_type") for s in info.get("streams", [])]
    if kinds.count("video") != int(video) or kinds.count("audio") != int(audio) or len(kinds) != video + audio:
        raise Refused("cannot_clean")
    tags = [info.get("format", {}).get("tags", {})] + [s.get("tags", {}) for s in info.get("streams", [])]
    if any(set(group) - _STRUCTURAL_TAGS for group in tags) or info.get("chapters"):
        raise Refused("cannot_clean")
    duration = _duration(info)
    if duration is None:
        raise Refused("cannot_clean")
    if duration > limit:
        raise Refused("too_long")
    return _Written(data, round(duration, 2))
