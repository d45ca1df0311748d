"""Previews of evidence files in the inbox, without downloading them.

A photo the portal cleaned is shown as it is stored (the route serves it with a
sandboxing Content-Security-Policy). A PDF is shown as images of its first
pages, drawn by PDFium in the confined cleaner process (``attachments``), never
in a web worker, since a file a partner forwarded was not cleaned here: the
browser's PDF viewer never opens it either. The rules of downloads hold: only the case's keyholders,
and each preview is recorded in the audit trail like a download.
"""

from dataclasses import dataclass

from ..models import Case, User
from . import attachments, cases, evidence

# Modest: enough to read a pay slip, small enough to send quickly.
DPI = 96
LARGEST_SIDE = 1600  # pixels: a page drawn at a giant size is scaled down


@dataclass(frozen=True)
class Preview:
    data: bytes
    content_type: str


def _file(session, identity, case: Case, item_id: int) -> evidence.File | None:
    item = cases.file_item(session, case, item_id)
    return evidence.file_of(item, identity) if item is not None else None


def image(session, user: User, identity, case: Case, item_id: int) -> Preview | None:
    """A cleaned photo of ``case``, as stored; None if it has none, or the file is not such a photo."""
    found = _file(session, identity, case, item_id)
    if found is None or found.preview != "image":
        return None
    item, data = cases.attachment(session, user, identity, case, item_id, action="preview")
    kind = attachments.sniff(data)
    if kind is None or kind[0] != item.content_type:
        return None
    return Preview(data, item.content_type)


def pdf_page(session, user: User, identity, case: Case, item_id: int, page: int) -> Preview | None:
    """Page ``page`` (from 1) of a PDF of ``case`` as a PNG; None beyond the pages the preview shows."""
    found = _file(session, identity, case, item_id)
    if found is None or found.preview != "pdf" or not 1 <= page <= found.preview_pages:
        return None
    _item, data = cases.attachment(session, user, identity, case, item_id, action="preview", detail={"page": page})
    png = render_page(data, page - 1)
    return Preview(png, "image/png") if png is not None else None


def render_page(pdf: bytes, index: int) -> bytes | None:
    """Page ``index`` (from 0) of ``pdf`` as a PNG, drawn in the confined cleaner, or None if it cannot be."""
    try:
        return attachments.pdf_page_picture(pdf, index, DPI, LARGEST_SIDE)
    except attachments.AttachmentError:
        return None
