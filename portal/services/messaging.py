"""Messages from handlers to the reporter, encrypted to everyone on the case."""

import crypto

from ..models import Case, CaseItem, User
from . import clock, keyring


def post_to_reporter(session, case: Case, author: User, text: str) -> CaseItem:
    body = text.encode("utf-8")
    moment = clock.now()
    item = CaseItem(
        case_id=case.id,
        kind="message",
        author="handler",
        author_user_id=author.id,
        created_on=moment.date(),
        created_at=moment,
        blob=crypto.encrypt(body, keyring.case_recipients(session, case)),
        size=len(body),
    )
    session.add(item)
    session.commit()
    return item
