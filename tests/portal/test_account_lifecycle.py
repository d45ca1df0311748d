"""An administrator closes, reopens and changes staff accounts: sessions end at
once, routing passes a closed account by, no case is left without a reader
unannounced, and every change is in the audit trail."""

import json

import pytest
from inbox_pages import log_in
from operator_steps import logged_in_admin, user_named
from reporter_pages import csrf_token, send_report
from sqlalchemy import select

from portal.models import AuditEntry, Case, Keyholder, RoutingAlert
from portal.services import users


def _post(client, path, **fields):
    """Send a form of the account's page."""
    action = path.rsplit("/", 1)[-1]
    page = client.get(path.rsplit("/", 1)[0] if action in ("deactivate", "reactivate", "reset") else path)
    return client.post(path, data={"csrf_token": csrf_token(page), **fields})


def _audit(app, action):
    with app.extensions["portal.sessions"]() as session:
        return [json.loads(e.detail or "{}") for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def test_closing_an_account_ends_its_session_at_once_and_keeps_its_cases_with_the_colleague(
        app, client, facility_ids):
    assert send_report(client, facility_ids[0]).status_code == 200
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalar(select(Case.id))
    assert anna.get(f"/inbox/cases/{case_id}").status_code == 200
    root = logged_in_admin(app)
    anna_id = user_named(app, "anna").id

    refused = _post(root, f"/admin/users/{anna_id}/deactivate")
    assert refused.status_code == 400, "closing an account needs the confirmation box"
    assert user_named(app, "anna").active

    closed = _post(root, f"/admin/users/{anna_id}/deactivate", confirm="y")
    assert closed.status_code == 303
    ended = anna.get(f"/inbox/cases/{case_id}")
    assert ended.status_code == 303 and "/inbox/login" in ended.headers["Location"]
    assert log_in(app.test_client(), "anna").status_code == 401, "a closed account cannot log in"

    binh = app.test_client()
    assert log_in(binh, "binh").status_code == 303
    assert binh.get(f"/inbox/cases/{case_id}").status_code == 200, "the co-holder keeps the case"
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(Keyholder).where(Keyholder.user_id == anna_id)) is None
        assert session.scalars(select(RoutingAlert)).all() == []
    assert _audit(app, "account_deactivated")[-1]["user"] == anna_id

    # New reports pass her by, though she "receives new cases".
    assert send_report(app.test_client(), facility_ids[0], description="Second report").status_code == 200
    with app.extensions["portal.sessions"]() as session:
        newest = session.scalar(select(Case.id).order_by(Case.id.desc()))
        holders = set(session.scalars(select(Keyholder.user_id).where(Keyholder.case_id == newest)))
    assert anna_id not in holders and holders

    reopened = _post(root, f"/admin/users/{anna_id}/reactivate")
    assert reopened.status_code == 303
    assert anna.get("/inbox/").status_code == 303, "a session from before the closing stays ended"
    assert user_named(app, "anna").active
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(Keyholder).where(Keyholder.user_id == anna_id)) is None, \
            "cases are handed to her anew"


def test_closing_the_last_holder_of_a_case_raises_an_alert_for_the_recovery_ceremony(app, client, facility_ids):
    assert send_report(client, facility_ids[0]).status_code == 200
    root = logged_in_admin(app)
    for username in ("binh", "anna"):
        response = _post(root, f"/admin/users/{user_named(app, username).id}/deactivate", confirm="y")
        assert response.status_code == 303
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalar(select(Case.id))
        alerts = session.scalars(select(RoutingAlert)).all()
        kept = session.scalar(select(Keyholder).where(Keyholder.case_id == case_id))
    assert [(a.case_id, a.code) for a in alerts] == [(case_id, "no_active_holder")]
    assert kept is not None, "the last stanza's holder stays recorded until the ceremony"
    page = root.get("/admin/routing")
    assert "recovery key ceremony" in page.get_data(as_text=True)


def test_a_key_reset_ends_every_session_of_the_account(app, investigators):
    anna = app.test_client()
    second_phone = app.test_client()
    for client in (anna, second_phone):
        assert log_in(client, "anna").status_code == 303
    root = logged_in_admin(app)
    assert _post(root, f"/admin/users/{user_named(app, 'anna').id}/reset").status_code == 200
    for client in (anna, second_phone):
        response = client.get("/inbox/")
        assert response.status_code == 303 and "/inbox/login" in response.headers["Location"]


def test_role_email_and_new_cases_change_with_their_before_and_after_in_the_audit_trail(app, investigators):
    root = logged_in_admin(app)
    binh_id = user_named(app, "binh").id
    changed = _post(root, f"/admin/users/{binh_id}", role="retaliation_officer", email="binh@elsewhere.example")
    assert changed.status_code == 303
    binh = user_named(app, "binh")
    assert (binh.role, binh.email, binh.default_recipient) == ("retaliation_officer", "binh@elsewhere.example",
                                                              False)
    entry = _audit(app, "account_changed")[-1]
    assert entry["before"] == {"role": "investigator", "default_recipient": True}
    assert entry["after"] == {"role": "retaliation_officer", "default_recipient": False}
    assert entry["email_changed"] is True and "elsewhere" not in json.dumps(entry)

    bad = _post(root, f"/admin/users/{binh_id}", role="emperor")
    assert bad.status_code == 400 and user_named(app, "binh").role == "retaliation_officer"


@pytest.mark.parametrize("action, fields", [("deactivate", {"confirm": "y"}), ("", {"role": "investigator"})])
def test_an_administrator_cannot_close_or_demote_themselves_nor_the_last_administrator(app, action, fields):
    root = logged_in_admin(app)
    root_id = user_named(app, "root").id
    path = f"/admin/users/{root_id}" + (f"/{action}" if action else "")
    response = _post(root, path, **fields)
    assert response.status_code in (400, 409)
    me = user_named(app, "root")
    assert me.active and me.role == "administrator"
    with app.extensions["portal.sessions"]() as session:
        other = users.create(session, "second", "Second Admin", "administrator", "second correct horse battery",
                             work_factor=10)
        other_id = other.id
    second = _post(root, f"/admin/users/{other_id}/deactivate", confirm="y")
    assert second.status_code == 303, "another administrator can be closed while one remains"
    assert _post(root, f"/admin/users/{root_id}/deactivate", confirm="y").status_code in (400, 409)


def test_account_pages_are_for_administrators_only(app, investigators):
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    binh_id = user_named(app, "binh").id
    assert anna.get(f"/admin/users/{binh_id}").status_code == 404
    token = csrf_token(anna.get("/inbox/account"))
    assert anna.post(f"/admin/users/{binh_id}/deactivate", data={"csrf_token": token, "confirm": "y"}
                     ).status_code == 404
    assert user_named(app, "binh").active
