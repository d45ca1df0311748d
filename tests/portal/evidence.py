"""Reading the evidence files a case keeps, as an investigator's key opens them."""

from sqlalchemy import select

import crypto
from portal.models import CaseItem
from portal.services import evidence


def stored_files(app, identity):
    """``(content type, evidence record, decrypted bytes)`` of every file stored, oldest first."""
    with app.extensions["portal.sessions"]() as session:
        items = session.scalars(select(CaseItem).where(CaseItem.kind == "attachment").order_by(CaseItem.id)).all()
        return [(item.content_type, evidence.record_of(item, identity), crypto.decrypt(item.blob, identity))
                for item in items]
