"""No trace of when the worker came: after a whole journey, nothing stored ties a
case or a reporter's session to a time finer than the day.

A worker reports with a photo (the form first comes back for a box she forgot,
the photo kept for her), another leaves a form with a photo kept, the investigator answers, the worker comes back
with the receipt, answers with a file and says she was punished for reporting;
notices go out by e-mail, and some wait. Then every table and column of the
database (found by inspection, so a new table is covered the day it appears)
and the raw database files, WAL included, are read like an attacker who took
the disk would read them.
"""

import io
import json
import re
from datetime import date, datetime, time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from live_server import free_port
from PIL import Image
from reporter_pages import csrf_token, draft_id, log_in_with_receipt, receipt_on, report_fields, send_report
from sqlalchemy import MetaData, Table, inspect, select, text, update

from portal import migrate
from portal.models import Case, KeptFile, OutboxEmail, RoutingAlert
from portal.services import clock, messaging, notifications

# Where a fine time is the point and no reporter's visit is told by it: the staff's own
# doings (they are not anonymous). Each entry: (table, column) -> which rows may have it.
STAFF_TIMES = {
    ("audit_entries", "at"): lambda row: row["actor_user_id"] is not None,
    ("case_items", "created_at"): lambda row: row["author"] == "handler",
    ("web_sessions", "expires_at"): lambda row: row["kind"] == "user",
    ("web_sessions", "absolute_expiry"): lambda row: row["kind"] == "user",
    # A forward a staff member made (the monitor's answer to a worker, say): its delivery times are theirs.
    ("forwards", "next_attempt_at"): lambda row: row["created_by"] is not None,
    ("forwards", "delivered_at"): lambda row: row["created_by"] is not None,
    # When the monitor's staff at the partner acknowledged a forward or moved its status.
    ("forwards", "acknowledged_at"): lambda row: True,
    ("forwards", "remote_status_at"): lambda row: True,
    # ... and, at the partner, when its monitor moved the status of a bundle received.
    ("received_bundles", "status_changed_at"): lambda row: row["status"] != "received",
    ("received_bundles", "status_next_attempt_at"): lambda row: row["status"] != "received",
    # A bundle of the exchange on a forwarded case a staff member sent: its delivery times are theirs.
    ("exchange_bundles", "next_attempt_at"): lambda row: row["direction"] == "sent",
    ("exchange_bundles", "delivered_at"): lambda row: row["direction"] == "sent",
}
FINE_TEXT = re.compile(rb"(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?")
MIDNIGHT = (b"00", b"00", b"00")


@pytest.fixture
def database_url(empty_database_url):
    """A database of its own (SQLite, or PostgreSQL as the run): the raw files must hold this journey only."""
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def mail_server():
    class Accept:
        async def handle_DATA(self, server, session, envelope):
            controller.received.append(envelope)
            return "250 OK"

    controller = Controller(Accept(), hostname="127.0.0.1", port=free_port())
    controller.received = []
    controller.start()
    yield controller
    controller.stop()


def photo():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def whole_journey(app, facility, investigators, mail_server):
    """Report with a photo kept over a form that came back, answer, come back, reply with a file, claim;
    another worker's photo still kept for a form she left; some notices sent, some waiting."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port)
    worker = app.test_client()
    came_back = send_report(worker, facility, categories=[], files={"photo": [(io.BytesIO(photo()), "a.jpg")]})
    assert came_back.status_code == 400
    corrected = {**report_fields(facility), "csrf_token": csrf_token(came_back), "submission": draft_id(came_back)}
    receipt = receipt_on(worker.post("/en/report", data=corrected, content_type="multipart/form-data"))
    leaving = app.test_client()
    assert send_report(leaving, facility, categories=[],
                       files={"photo": [(io.BytesIO(photo()), "c.jpg")]}).status_code == 400
    with app.extensions["portal.sessions"]() as session:
        assert notifications.send_due(session, app.config) == (2, 0)
        case = session.scalars(select(Case)).one()
        anna, _identity = investigators["anna"]
        messaging.post_to_reporter(session, case, anna, "Thank you. Which line do you work on?")
    returning = app.test_client()
    assert log_in_with_receipt(returning, receipt).status_code == 303
    page = returning.get("/en/case")
    answered = returning.post("/en/case", data={
        "csrf_token": csrf_token(page), "message": "Line 4.",
        "photo": [(io.BytesIO(photo()), "b.jpg")]}, content_type="multipart/form-data")
    assert answered.status_code == 303
    claim_form = returning.get("/en/case/claim")
    draft = re.search(r'name="submission" type="hidden" value="([^"]+)"', claim_form.get_data(as_text=True))
    claimed = returning.post("/en/case/claim", data={
        "csrf_token": csrf_token(claim_form), "submission": draft.group(1), "types": ["dismissal"],
        "when": "Last week", "by_whom": "The line leader", "description": "I was sent home after reporting.",
    }, content_type="multipart/form-data")
    assert claimed.status_code == 303
    returning.get("/en/case")  # the session is still open, as on the worker's phone


def fine_times_tied_to_a_case_or_a_reporter(engine):
    """Every (table, column, value) that ties a case or a reporter's session to a time finer than the day,
    and every reporter's session row that names a case in clear; and the fine times kept that tie
    nothing to a case or a reporter (the staff's, the instance's)."""
    found, allowed_text = [], set()
    metadata = MetaData()
    with engine.connect() as connection:
        references = {f"{day.year}-{case_id:05d}" for case_id, day in connection.execute(
            text("SELECT id, received_on FROM cases")).all() for day in [_as_date(day)]}
        for name in inspect(engine).get_table_names():
            table = Table(name, metadata, autoload_with=connection)
            for row in (dict(row._mapping) for row in connection.execute(select(table))):
                tied = _tied_to_a_case(name, table, row, references)
                # A kept file is a reporter's: it waits for the next send of her form.
                reporter_session = (name == "web_sessions" and row.get("kind") != "user") or name == "kept_files"
                if reporter_session and any(_names_a_case(value) for value in row.values()):
                    found.append((name, "*", "a case named in a reporter's session"))
                for column, value in row.items():
                    if not _finer_than_a_day(value):
                        continue
                    staff = STAFF_TIMES.get((name, column), lambda _row: False)(row)
                    if (tied or reporter_session) and not staff:
                        found.append((name, column, value))
                    else:
                        allowed_text.update(_seconds(value))
    return found, allowed_text


def _as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _tied_to_a_case(name, table, row, references):
    if name == "cases" or "case_id" in row:
        return True
    if any(key.column.table.name == "cases" for key in table.foreign_keys):
        return True
    return any(reference in value for value in row.values() if isinstance(value, str) for reference in references)


def _names_a_case(value):
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return isinstance(value, str) and re.search(r'"case"|case_id', value) is not None


def _finer_than_a_day(value):
    if isinstance(value, datetime):
        return value.time() != time()
    if isinstance(value, (str, bytes)):
        encoded = value.encode("utf-8") if isinstance(value, str) else value
        return any(match.groups()[1:4] != MIDNIGHT for match in FINE_TEXT.finditer(encoded))
    return False


def _seconds(value):
    """Each fine time in ``value`` to the second, as the database files write it: 2026-12-07 06:16:46."""
    if isinstance(value, datetime):
        return {value.strftime("%Y-%m-%d %H:%M:%S").encode("ascii")}
    encoded = value.encode("utf-8") if isinstance(value, str) else value
    return {match.group(0)[:19].replace(b"T", b" ") for match in FINE_TEXT.finditer(encoded)}


def fine_times_in_the_files(database_path, allowed_text):
    """Fine times written anywhere in the database's files, the WAL and free pages included,
    that are not a staff time still in its place."""
    leftovers = []
    for path in sorted(database_path.parent.glob(database_path.name + "*")):
        for match in FINE_TEXT.finditer(path.read_bytes()):
            if match.groups()[1:4] != MIDNIGHT and match.group(0)[:19].replace(b"T", b" ") not in allowed_text:
                leftovers.append((path.name, match.group(0)))
    return leftovers


def database_path(app):
    """The SQLite file, whose bytes (WAL and free pages included) are read too; None on PostgreSQL."""
    url = app.extensions["portal.engine"].url
    return Path(url.database) if url.get_backend_name() == "sqlite" else None


def test_after_a_whole_journey_nothing_stored_tells_the_hour_of_a_case_or_a_workers_visit(
        app, facility_ids, investigators, mail_server):
    whole_journey(app, facility_ids[0], investigators, mail_server)
    engine = app.extensions["portal.engine"]
    found, allowed = fine_times_tied_to_a_case_or_a_reporter(engine)
    assert found == []
    path = database_path(app)
    if path is not None:
        assert path.with_name(path.name + "-wal").exists(), "the WAL is read too"
        assert fine_times_in_the_files(path, allowed) == []
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM outbox WHERE attempts = 0")) > 0, \
            "notices still waiting were looked at too"
        assert connection.scalar(text("SELECT count(*) FROM web_sessions")) > 0
        assert connection.scalar(text("SELECT count(*) FROM kept_files")) == 1, "a kept file was looked at too"


@pytest.mark.parametrize("seeded", ["routing alert", "session", "kept file", "deleted row"])
def test_the_scan_catches_an_hour_stored_beside_a_case(app, facility_ids, investigators, mail_server, seeded):
    """The scan can fail: a precise time seeded next to a case, in a session, or deleted but left in the files."""
    if seeded == "deleted row" and database_path(app) is None:
        pytest.skip("the raw files are read on SQLite; PostgreSQL's are the server's")
    whole_journey(app, facility_ids[0], investigators, mail_server)
    engine = app.extensions["portal.engine"]
    moment = clock.now().replace(hour=13, minute=37, second=5)
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalars(select(Case.id)).first()
        if seeded == "session":
            session.execute(text("UPDATE web_sessions SET data = :data"), {"data": json.dumps({"case": case_id})})
        elif seeded == "kept file":
            session.execute(update(KeptFile).values(sealed=moment.isoformat().encode("ascii")))
        else:
            session.add(RoutingAlert(case_id=case_id, code="seeded", created_at=moment))
        session.commit()
        if seeded == "deleted row":
            session.execute(RoutingAlert.__table__.delete().where(RoutingAlert.code == "seeded"))
            session.execute(update(Case).values(status=Case.status))
            session.commit()
    found, allowed = fine_times_tied_to_a_case_or_a_reporter(engine)
    if seeded == "deleted row":
        assert found == [] and fine_times_in_the_files(database_path(app), allowed), \
            "a deleted row's time left in the files is found"
    else:
        assert found, f"a {seeded} with a precise time next to a case is found"



def test_a_notice_keeps_only_its_day_while_it_waits_and_nothing_once_sent(app, mail_server):
    """A failed notice waits in the sender's memory, not in a stored time; a sent one is deleted,
    and one an older version kept after sending it is deleted, never sent again."""
    with app.extensions["portal.sessions"]() as session:
        session.add_all([
            OutboxEmail(to_address="anna@contractor.example", subject="Case 2026-00007 needs your attention",
                        body="…", attempts=0, next_attempt_at=clock.start_of_today()),
            OutboxEmail(to_address="binh@contractor.example", subject="Case 2026-00003 needs your attention",
                        body="…", attempts=0, next_attempt_at=clock.now(), sent_at=clock.now()),
        ])
        session.commit()
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
        backoff = notifications.Backoff()
        assert notifications.send_due(session, app.config, backoff=backoff) == (0, 1)
        waiting = session.scalars(select(OutboxEmail)).one()
        assert waiting.attempts == 1 and clock.as_utc(waiting.next_attempt_at) == clock.start_of_today()
        assert notifications.send_due(session, app.config, backoff=backoff) == (0, 0), "it waits its back-off"
        app.config.update(SMTP_PORT=mail_server.port)
        assert notifications.send_due(session, app.config) == (1, 0), "a sender started again tries at once"
        assert session.scalars(select(OutboxEmail)).all() == []
    assert [message.rcpt_tos for message in mail_server.received] == [["anna@contractor.example"]]


def test_a_workers_session_still_ends_after_its_idle_minutes_though_the_row_says_only_a_day(
        app, facility_ids, monkeypatch):
    from datetime import timedelta

    worker = app.test_client()
    receipt = receipt_on(send_report(worker, facility_ids[0]))
    assert log_in_with_receipt(worker, receipt).status_code == 303
    assert worker.get("/en/case").status_code == 200
    with app.extensions["portal.sessions"]() as session:
        days = session.execute(text("SELECT expires_at, absolute_expiry, data FROM web_sessions")).all()
    assert days and all(not _finer_than_a_day(value) for row in days for value in row)
    real_now = clock.now
    idle = timedelta(minutes=app.config["REPORTER_SESSION_MINUTES"])
    monkeypatch.setattr(clock, "now", lambda: real_now() + idle - timedelta(minutes=1))
    assert worker.get("/en/case").status_code == 200, "each visit counts the idle time from then"
    monkeypatch.setattr(clock, "now", lambda: real_now() + 2 * idle - timedelta(minutes=2))
    assert worker.get("/en/case").status_code == 200
    monkeypatch.setattr(clock, "now", lambda: real_now() + 3 * idle - timedelta(minutes=1))
    assert worker.get("/en/case").status_code == 303, "idle too long: the receipt is asked again"
