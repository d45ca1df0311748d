"""Previews of evidence files in the inbox, without downloading them.

A photo the portal cleaned is shown as it is stored (the route serves it with a
sandboxing Content-Security-Policy). A PDF is shown as images of its first
pages, rendered here from the cleaned file with PDFium: the browser's PDF
viewer never opens it. The rules of downloads hold: only the case's keyholders,
and each preview is recorded in the audit trail like a download.
"""

import io
import threading
from dataclasses import dataclass

import pypdfium2

from ..models import Case, User
from . import attachments, cases, evidence

# Modest: enough to read a pay slip, small enough to send quickly.
DPI = 96
LARGEST_SIDE = 1600  # pixels: a page drawn at a giant size is scaled down
# PDFium is not thread-safe: one page is rendered at a time in a process.
_PDFIUM = threading.Lock()


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
    """Page ``index`` (from 0) of ``pdf`` as a PNG, or None if PDFium cannot draw it."""
    with _PDFIUM:
        try:
            document = pypdfium2.PdfDocument(pdf)
        except pypdfium2.PdfiumError:
            return None
        try:
            if not 0 <= index < len(document):
                return None
            page = document[index]
            width, height = page.get_size()
            scale = min(DPI / 72, LARGEST_SIDE / max(width, height, 1))
            drawn = page.render(scale=scale).to_pil()
        except pypdfium2.PdfiumError:
            return None
        finally:
            document.close()
    out = io.BytesIO()
    (drawn if drawn.mode in ("RGB", "L") else drawn.convert("RGB")).save(out, "PNG")
    return out.getvalue()
