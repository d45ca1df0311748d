"""An administrator reads the audit trail in words, filters it by who, which
case, what and when, and exports it whole with the chain's head digest."""

import csv
import io
import json

from inbox_pages import log_in
from operator_steps import make_admin, run_portal
from reporter_pages import send_report
from sqlalchemy import select

from portal.models import Case, User


def rows(response) -> str:
    """The table's rows as text: the filter's own lists name every action too."""
    return response.get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0]


def test_an_administrator_filters_the_trail_and_reads_it_in_words(app, client, facility_ids):
    assert send_report(client, facility_ids[0]).status_code == 200
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    with app.extensions["portal.sessions"]() as session:
        case = session.scalar(select(Case))
        case_id, reference = case.id, case.reference
    assert anna.get(f"/inbox/cases/{case_id}").status_code == 200
    make_admin(app)
    root = app.test_client()
    assert log_in(root, "root").status_code == 303

    everything = rows(root.get("/admin/audit"))
    assert "Opened the case" in everything and "Logged in" in everything

    opened = rows(root.get(f"/admin/audit?case={reference}&action=view"))
    assert "Opened the case" in opened and reference in opened and "Logged in" not in opened
    with app.extensions["portal.sessions"]() as session:
        anna_id = session.scalar(select(User.id).where(User.username == "anna"))
        root_id = session.scalar(select(User.id).where(User.username == "root"))
    assert "Opened the case" not in rows(root.get(f"/admin/audit?actor={root_id}&action=view"))
    assert "Opened the case" in rows(root.get(f"/admin/audit?actor={anna_id}"))
    assert "Opened the case" not in rows(root.get("/admin/audit?until=2000-01-01"))
    assert root.get("/admin/audit?case=2026-99999999999999").status_code == 400
    assert root.get("/admin/audit?since=yesterday").status_code == 400
    assert anna.get("/admin/audit").status_code == 404, "administrators only"


def test_portal_audit_export_writes_every_entry_and_the_head_digest(app, client, facility_ids):
    assert send_report(client, facility_ids[0]).status_code == 200
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    verified = run_portal(app, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    head = verified.stdout.split("head ")[1].strip()

    as_csv = run_portal(app, "audit", "export")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["action"] for row in rows].count("login") == 1
    assert rows[-1]["digest"] == head and f"head {head}" in as_csv.stderr

    as_json = run_portal(app, "audit", "export", "--format", "json")
    exported = json.loads(as_json.stdout)
    assert exported["head"] == head and exported["intact"] is True
    assert [e["id"] for e in exported["entries"]] == [int(row["id"]) for row in rows]
