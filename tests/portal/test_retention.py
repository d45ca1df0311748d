"""Closed cases are deleted once their retention period has passed: the items
go with them, an audit entry without content remains, and reporters are told
the period on the start page."""

import os
import subprocess
from datetime import timedelta

from operator_steps import PORTAL
from reporter_pages import receipt_on, send_report
from sqlalchemy import func, select

from portal.models import AuditEntry, Case, CaseItem
from portal.services import audit, clock


def close_case(app, case_id, days_ago):
    with app.extensions["portal.sessions"]() as session:
        case = session.get(Case, case_id)
        case.status, case.outcome, case.closed_on = "closed", "substantiated", clock.today() - timedelta(days=days_ago)
        session.commit()


def test_closed_cases_past_the_period_are_deleted_with_their_items_and_leave_an_audit_entry(
        app, client, facility_ids, tmp_path):
    for number in range(3):
        receipt_on(send_report(app.test_client(), facility_ids[0], description=f"Report {number}"))
    with app.extensions["portal.sessions"]() as session:
        old, recent, open_case = session.scalars(select(Case.id).order_by(Case.id)).all()
    close_case(app, old, days_ago=800)
    close_case(app, recent, days_ago=10)

    env = dict(os.environ, PORTAL_DATABASE_URL=app.config["DATABASE_URL"], PORTAL_INSTANCE_PATH=str(tmp_path),
               PORTAL_RETENTION_DAYS="730")
    ran = subprocess.run([PORTAL, "retention", "run"], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and "deleted 1 closed cases" in ran.stdout, ran.stderr

    with app.extensions["portal.sessions"]() as session:
        assert session.scalars(select(Case.id).order_by(Case.id)).all() == [recent, open_case]
        assert session.scalar(select(func.count()).select_from(CaseItem).where(CaseItem.case_id == old)) == 0
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention")).one()
        assert entry.case_id == old and "Report 0" not in entry.detail
        assert audit.verify(session).ok


def test_the_start_page_tells_reporters_how_long_closed_cases_are_kept(client):
    page = client.get("/en/").get_data(as_text=True)
    assert "When your case is closed, we keep it 730 days, then delete it with everything in it." in page
