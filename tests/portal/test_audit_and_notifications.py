"""The audit trail shows tampering; notifications carry no content and never
hold up a report."""

import socket
import time

import pytest
from aiosmtpd.controller import Controller
from inbox_pages import log_in, post_on_case
from operator_steps import run_portal
from reporter_pages import receipt_on, send_report
from sqlalchemy import select, update

from portal.models import AuditEntry, Case, OutboxEmail
from portal.services import notifications


@pytest.fixture
def worked_case(app, client, facility_ids):
    receipt_on(send_report(client, facility_ids[0], description="Audit story"))
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalar(select(Case.id))
    anna = app.test_client()
    log_in(anna, "anna")
    post_on_case(anna, case_id, "status", status="acknowledged")
    post_on_case(anna, case_id, "notes", text="first note")
    anna.get(f"/inbox/cases/{case_id}")
    return case_id


def test_the_audit_trail_records_handlers_actions_without_content(app, worked_case):
    with app.extensions["portal.sessions"]() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [entry.action for entry in entries]
    assert actions[0] == "login" and {"status", "message", "note", "view"} <= set(actions)
    assert all("Audit story" not in entry.detail and "first note" not in entry.detail for entry in entries)
    result = run_portal(app, "audit", "verify")
    assert result.returncode == 0 and "intact" in result.stdout


def test_audit_verify_detects_an_edited_entry(app, worked_case):
    with app.extensions["portal.sessions"]() as session:
        target = session.scalars(select(AuditEntry).where(AuditEntry.action == "status")).first()
        session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(detail='{"status":"closed"}'))
        session.commit()
    result = run_portal(app, "audit", "verify")
    assert result.returncode != 0 and "edited" in result.stderr


def test_audit_verify_detects_a_deleted_entry_and_a_cut_tail(app, worked_case):
    with app.extensions["portal.sessions"]() as session:
        ids = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
        session.execute(AuditEntry.__table__.delete().where(AuditEntry.id == ids[1]))
        session.commit()
    assert run_portal(app, "audit", "verify").returncode != 0
    with app.extensions["portal.sessions"]() as session:
        session.execute(AuditEntry.__table__.delete().where(AuditEntry.id >= ids[1]))
        session.commit()
    result = run_portal(app, "audit", "verify")
    assert result.returncode != 0 and "end of the trail" in result.stderr


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_a_new_report_notifies_its_keyholders_with_a_number_and_a_link_only(app, client, facility_ids,
                                                                          smtp_server):
    controller, handler = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, BASE_URL="https://portal.example")
    send_report(client, facility_ids[0], description="Secret detail about line 4", contact="+60 12 345")
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        assert notifications.send_due(session, app.config) == (2, 0)
    recipients = sorted(address for message in handler.messages for address in message.rcpt_tos)
    assert recipients == ["anna@contractor.example", "binh@contractor.example"]
    for message in handler.messages:
        text = message.content.decode()
        assert case.reference in text and f"https://portal.example/inbox/cases/{case.id}" in text
        assert "Secret detail" not in text and "+60" not in text and "line 4" not in text


def test_a_mail_server_that_is_down_neither_blocks_a_report_nor_loses_the_notice(app, client, facility_ids,
                                                                               smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    started = time.monotonic()
    assert send_report(client, facility_ids[0]).status_code == 200
    assert time.monotonic() - started < 30
    with app.extensions["portal.sessions"]() as session:
        assert notifications.send_due(session, app.config) == (0, 2)
        waiting = session.scalars(select(OutboxEmail)).all()
        assert all(e.sent_at is None and e.attempts == 1 and e.last_error for e in waiting)
        # The mail server is back; the retry is due.
        controller, handler = smtp_server
        app.config.update(SMTP_PORT=controller.port)
        session.execute(update(OutboxEmail).values(next_attempt_at=waiting[0].next_attempt_at.replace(year=2000)))
        session.commit()
        assert notifications.send_due(session, app.config) == (2, 0)
    assert len(handler.messages) == 2
