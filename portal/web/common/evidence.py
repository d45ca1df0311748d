"""Evidence files chosen on a reporter's form: cleaned at once, kept until the form is sent.

A form that comes back (a missing answer, an expired page) does not lose the
files the worker chose: each one is cleaned as it arrives and kept, sealed, for
the next send of that same form (its endpoint and draft id). The key of each
kept file lives only in the worker's session, which their cookie alone opens
(see ``services.kept_files``). The page lists what is kept by kind and size,
and each kept file can be left out. A refused file is named as the browser
gave it, in that answer only: the name is never stored or logged.

One form's files are kept at a time: keeping files for another form forgets
the earlier one's. The report form, the follow-up page's answer and both
retaliation claim forms use this one helper.
"""

import unicodedata
from dataclasses import dataclass, field

from babel.units import format_unit
from flask import request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError

from ...services import attachments, kept_files, media, upload_budget
from .compression import STARTED_ELSEWHERE
from .database import db
from .uploads import chosen_files

FIELDS = ("photo", "voice", "files")
# The checkbox that leaves a kept file out of the next send.
REMOVE = "remove_kept"
SESSION_KEY = "kept_files"
# Longest file name quoted back to the worker.
NAME_CHARS = 60
FSI, PDI = "\u2068", "\u2069"

# What a file is, in the reporter's words: the first prefix of its type that matches.
FILE_KINDS = (
    ("image/", lambda: _("Photo")),
    ("audio/", lambda: _("Voice note")),
    ("video/", lambda: _("Video")),
    ("application/pdf", lambda: _("PDF document")),
)

# Why a file was refused, naming it. Reasons the cleaners add later fall back to ``None``'s.
REFUSALS = {
    "unsupported": lambda: _('"%(name)s" could not be sent: this kind of file is not accepted. '
                             'Send photos, voice notes, videos or PDF files.'),
    "damaged": lambda: _('"%(name)s" could not be sent: it could not be read, it may be damaged. '
                         'Try another file.'),
    "empty": lambda: _('"%(name)s" could not be sent: it is empty. Choose it again.'),
    "too_large": lambda: _('"%(name)s" could not be sent: it is too big. Each file can be up to %(size)s MB.'),
    "too_many_pixels": lambda: _('"%(name)s" could not be sent: the picture is too big (more than %(megapixels)d '
                                 'megapixels). Send a smaller photo or a screenshot of it.'),
    "too_many_pages": lambda: _('"%(name)s" could not be sent: the document has more than %(pages)d pages. '
                                'Send only the pages that matter.'),
    "expands": lambda: _('"%(name)s" could not be sent: it grows too large to be cleaned safely once it is '
                         'opened. Send a photo or a screenshot of it instead.'),
    "too_long": lambda: _('"%(name)s" could not be sent: the recording is too long. Voice notes can be up to '
                          '%(sound)s minutes and videos up to %(video)s minutes. Send a shorter one.'),
    "too_big_to_clean": lambda: _('"%(name)s" could not be sent: it is too big or too long to clean. '
                                  'Send a shorter or smaller one.'),
    "cannot_clean": lambda: _('"%(name)s" could not be sent: we could not remove the hidden information '
                              'in it that could tell who you are. Try another file, or a photo of it.'),
    "busy": lambda: _('"%(name)s" could not be sent: we are busy with other files. '
                      'Choose it again and press Send in a minute.'),
    "over_budget": lambda: _('"%(name)s" could not be sent: we cannot take more files today. '
                             'You can send the rest now without it, and this file tomorrow.'),
    "too_many": lambda: _('"%(name)s" could not be sent: you can send up to %(count)s files at a time.'),
    None: lambda: _('"%(name)s" could not be sent. Try another file.'),
}


@dataclass
class Evidence:
    """One form's files: those to send (cleaned), what the page lists as kept, what was refused."""

    files: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    status: int = 400

    @property
    def listed(self) -> list[tuple[str, str, str]]:
        """Each kept file as the page shows it: (handle, kind, size)."""
        return [(entry["handle"], file_kind(entry["type"]), file_size(entry["size"])) for entry in self.kept]

    def message(self, *others) -> str:
        """The refusals, then ``others`` (the form's own messages), as one alert."""
        return " ".join([*self.refused, *(other for other in others if other)])


def gather(config, form_id: str, disguise_voice: bool = True) -> Evidence:
    """The files of the form ``form_id`` being sent: those kept from its earlier sends (less those the
    worker left out) and the ones chosen now, each cleaned and kept; a refused one is named.

    ``disguise_voice``: the form's "Change my voice", for the files chosen now (a file kept from an
    earlier send was cleaned as that send asked)."""
    entries = _entries(form_id)
    changed = False
    left_out = set(request.form.getlist(REMOVE))
    if left_out & {entry["handle"] for entry in entries}:
        kept_files.forget(db(), [entry["handle"] for entry in entries if entry["handle"] in left_out])
        entries = [entry for entry in entries if entry["handle"] not in left_out]
        changed = True
    evidence = Evidence()
    for entry in list(entries):
        clean = kept_files.load(db(), kept_files.Ticket(entry["handle"], entry["key"]))
        if clean is None:
            entries.remove(entry)
            changed = True
            evidence.refused.append(_("A file you chose before is no longer kept. Please choose it again."))
        else:
            evidence.files.append(clean)
    # A request another site made the browser send never leaves files for the worker to send.
    new = [] if request.headers.get("Sec-Fetch-Site") in STARTED_ELSEWHERE else chosen_files(FIELDS)
    limit = config["MAX_ATTACHMENT_BYTES"]
    for name, data in new:
        try:
            if len(entries) >= config["MAX_ATTACHMENTS"]:
                raise attachments.AttachmentError("too_many")
            if len(data) > limit:
                raise attachments.AttachmentError("too_large")
            if not upload_budget.take(db(), config, len(data)):
                # Counted before cleaning: a flood of files is stopped before it costs the cleaners.
                raise attachments.AttachmentError("over_budget")
            clean = attachments.clean(data, disguise_voice=disguise_voice)
            if len(clean.data) > limit:
                raise attachments.AttachmentError("too_large")
        except attachments.AttachmentError as refusal:
            if refusal.reason == "busy":
                upload_budget.give_back(db(), config, len(data))
            evidence.refused.append(_refusal(refusal.reason, name, config))
            if refusal.reason in ("too_large", "too_big_to_clean"):
                evidence.status = 413
            elif refusal.reason == "busy":
                evidence.status = max(evidence.status, 503)
            elif refusal.reason == "over_budget":
                evidence.status = max(evidence.status, 507)
            continue
        ticket = kept_files.keep(db(), clean)
        entries.append({"handle": ticket.handle, "key": ticket.key, "type": clean.content_type,
                        "size": len(clean.data)})
        evidence.files.append(clean)
        changed = True
    if changed:
        db().commit()
        _remember(form_id, entries)
    evidence.kept = entries
    return evidence


def shown(form_id: str) -> Evidence:
    """The files kept for the form ``form_id``, for the page that shows it again."""
    return Evidence(kept=_entries(form_id, forget_others=False))


def sent(form_id: str) -> None:
    """The form was sent and committed: its kept files are deleted."""
    held = session.get(SESSION_KEY)
    if not held or held.get("form") != form_id:
        return
    session.pop(SESSION_KEY)
    try:
        kept_files.forget(db(), handles_in({SESSION_KEY: held}))
        db().commit()
    except DBAPIError:
        # What was sent is committed and shown; the rows cannot be opened without
        # this session, and the purge deletes them by their day.
        db().rollback()


def handles_in(data) -> list[str]:
    """The kept files a session's data holds (to delete them when the session ends)."""
    return [entry["handle"] for entry in (data.get(SESSION_KEY) or {}).get("files", [])]


def file_kind(content_type: str | None) -> str:
    return next((label() for prefix, label in FILE_KINDS if (content_type or "").startswith(prefix)), _("File"))


def file_size(size: int) -> str:
    """240 kB, 1.4 MB: as the reader's language writes it."""
    if size >= 1024 * 1024:
        return format_unit(round(size / (1024 * 1024), 1), "digital-megabyte", length="short", locale=get_locale())
    return format_unit(max(1, round(size / 1024)), "digital-kilobyte", length="short", locale=get_locale())


def _entries(form_id: str, forget_others: bool = True) -> list[dict]:
    held = session.get(SESSION_KEY)
    if not held:
        return []
    if held.get("form") == form_id:
        return list(held.get("files", []))
    if forget_others:
        # Another form's files: one form's files are kept at a time.
        kept_files.forget(db(), handles_in({SESSION_KEY: held}))
        db().commit()
        session.pop(SESSION_KEY)
    return []


def _remember(form_id: str, entries: list[dict]) -> None:
    if entries:
        session[SESSION_KEY] = {"form": form_id, "files": entries}
    else:
        session.pop(SESSION_KEY, None)


def refusal_message(reason: str, name: str, config) -> str:
    """Why the file ``name`` was refused, in words (a staff page uploading evidence says the same)."""
    return _refusal(reason, name, config)


def _refusal(reason: str, name: str, config) -> str:
    message = REFUSALS.get(reason, REFUSALS[None])()
    return message % {"name": _shown_name(name), "size": config["MAX_ATTACHMENT_BYTES"] // (1024 * 1024),
                      "count": config["MAX_ATTACHMENTS"], "megapixels": attachments.MAX_PIXELS // 1_000_000,
                      "pages": attachments.MAX_PAGES, "sound": media.AUDIO_SECONDS // 60,
                      "video": media.VIDEO_SECONDS // 60}


def _shown_name(name: str) -> str:
    """The browser's name for a file, as the worker knows it: without its folders or any control
    character, shortened, isolated so a right-to-left name cannot turn the sentence around."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    if len(name) > NAME_CHARS:
        name = name[:NAME_CHARS - 1] + "…"
    return FSI + (name or _("a file without a name")) + PDI
