"""No silent administrator power: every change on the routing and settings pages
and to who receives new cases is in the audit trail with its before and after,
in names; a change that lets someone receive future cases they could not
before is told by e-mail to every other active administrator."""

import json

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from operator_steps import make_admin, run_portal
from reporter_pages import csrf_token, send_report
from sqlalchemy import select

from portal.models import AuditEntry, Exclusion, OutboxEmail, RoutingRule, User
from portal.services import users

BAC_NINH = "Bac Ninh Display Co., Ltd (VN)"


@pytest.fixture
def root(app, colleague):
    """An administrator, logged in; Chandra (an investigator) receives no new case yet."""
    make_admin(app)
    client = app.test_client()
    assert log_in(client, "root").status_code == 303
    return client


@pytest.fixture
def second_admin(app):
    """Another active administrator, with an e-mail address."""
    with app.extensions["portal.sessions"]() as session:
        users.create(session, "dara", "Dara", "administrator", passphrase_of("dara"), work_factor=10,
                     email="dara@contractor.example", totp_secret=totp_secret_of("dara"))
    return "dara@contractor.example"


def _id(app, model, **where):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(model.id).filter_by(**where))


def _post(client, page, path, **fields):
    return client.post(path, data={"csrf_token": csrf_token(client.get(page)), **fields})


def _rows(client, action) -> str:
    """The audit page's rows of one action, as text."""
    page = client.get(f"/admin/audit?action={action}")
    assert page.status_code == 200
    return page.get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0].replace("&#34;", '"')


def _mails(app) -> list[OutboxEmail]:
    with app.extensions["portal.sessions"]() as session:
        return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def _new_rule(root, facility_id, name, *recipients):
    return _post(root, "/admin/routing", "/admin/routing/rules", name=name, facility=str(facility_id),
                 recipients=[str(r) for r in recipients])


def test_a_rule_naming_someone_then_deleted_leaves_a_readable_trail_and_tells_the_other_administrator(
        app, root, second_admin, facility_ids):
    assert send_report(app.test_client(), facility_ids[0], description="Secret detail about line 4").status_code \
        == 200
    before_mails = len(_mails(app))
    chandra = _id(app, User, username="chandra")
    assert _new_rule(root, facility_ids[0], "Quiet rule", chandra).status_code == 303
    rule_id = _id(app, RoutingRule, name="Quiet rule")
    assert _post(root, "/admin/routing", f"/admin/routing/rules/{rule_id}/delete").status_code == 303

    created = _rows(root, "rule_created")
    assert "Routing rule created" in created and "Root Admin" in created
    assert "Quiet rule" in created and "Chandra (chandra)" in created and BAC_NINH in created
    assert 'new_readers: ["Chandra (chandra)"]' in created and 'told: ["Dara (dara)"]' in created
    deleted = _rows(root, "rule_deleted")
    assert "Routing rule deleted" in deleted and "Quiet rule" in deleted and "Chandra (chandra)" in deleted

    told = _mails(app)[before_mails]
    assert told.to_address == second_admin
    assert "Root Admin (root)" in told.body and "Chandra (chandra)" in told.body
    assert "a routing rule was created" in told.body and "Quiet rule" in told.body
    for mail in _mails(app)[before_mails:]:
        assert mail.to_address == second_admin, "the one who made the change is not told, nor anyone else"
        assert "Secret detail" not in mail.body and "line 4" not in mail.body and "2026-" not in mail.body
    verified = run_portal(app, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    exported = json.loads(run_portal(app, "audit", "export", "--format", "json").stdout)
    assert {"rule_created", "rule_deleted"} <= {e["action"] for e in exported["entries"]}


def test_a_change_that_adds_no_reader_tells_nobody_and_one_that_does_tells_the_other_administrator(
        app, root, second_admin, facility_ids):
    anna = _id(app, User, username="anna")
    declared = _post(root, "/admin/routing", "/admin/routing/exclusions", user=str(anna),
                     facility=str(facility_ids[0]))
    assert declared.status_code == 303
    assert _mails(app) == [], "a conflict of interest keeps someone out: it adds no reader"
    rows = _rows(root, "conflict_declared")
    assert "Conflict of interest declared" in rows and "Anna (anna)" in rows and BAC_NINH in rows
    assert "new_readers" not in rows

    conflict = _id(app, Exclusion, user_id=anna)
    assert _post(root, "/admin/routing", f"/admin/routing/exclusions/{conflict}/delete").status_code == 303
    removed = _rows(root, "conflict_removed")
    assert "Conflict of interest removed" in removed and "Anna (anna)" in removed and BAC_NINH in removed
    [mail] = _mails(app)
    assert mail.to_address == second_admin and "a conflict of interest was removed" in mail.body
    assert "Anna (anna)" in mail.body


def test_each_change_on_the_routing_and_settings_pages_shows_its_before_and_after(app, root, facility_ids):
    chandra = _id(app, User, username="chandra")
    binh = _id(app, User, username="binh")
    assert _new_rule(root, facility_ids[0], "First", chandra).status_code == 303
    assert _new_rule(root, facility_ids[1], "Second", binh).status_code == 303
    first = _id(app, RoutingRule, name="First")
    second = _id(app, RoutingRule, name="Second")

    changed = _post(root, f"/admin/routing?edit={first}", "/admin/routing/rules", rule_id=str(first),
                    name="First, renamed", facility=str(facility_ids[0]), recipients=[str(chandra), str(binh)])
    assert changed.status_code == 303
    rows = _rows(root, "rule_changed")
    assert "Routing rule changed" in rows
    assert '"name": "First",' in rows and '"name": "First, renamed",' in rows
    assert '"recipients": ["Binh (binh)", "Chandra (chandra)"]' in rows

    assert _post(root, "/admin/routing", f"/admin/routing/rules/{second}/up").status_code == 303
    rows = _rows(root, "rule_moved")
    assert "Routing rule moved" in rows and 'above: "First, renamed"' in rows
    assert 'before: {"order": ["First, renamed", "Second"]' in rows
    assert 'after: {"order": ["Second", "First, renamed"]' in rows
    assert _post(root, "/admin/routing", f"/admin/routing/rules/{second}/up").status_code == 303
    assert rows == _rows(root, "rule_moved"), "the first rule cannot go higher: nothing changed, nothing audited"

    saved = _post(root, "/admin/settings", "/admin/settings", recipient_choices=["contractor", "both"],
                  shown_handlers=[str(binh)])
    assert saved.status_code == 200
    rows = _rows(root, "settings_changed")
    assert "Settings changed" in rows
    assert 'before: {"recipient_choices": ["contractor", "monitor", "both"], "shown_to_reporters": []}' in rows
    assert 'after: {"recipient_choices": ["contractor", "both"], "shown_to_reporters": ["Binh (binh)"]}' in rows

    everything = root.get("/admin/audit").get_data(as_text=True)
    for label in ("Routing rule created", "Routing rule changed", "Routing rule moved", "Routing rule deleted",
                  "Conflict of interest declared", "Conflict of interest removed", "Settings changed"):
        assert f">{label}</option>" in everything, "the filter offers each kind of change"


def test_with_no_other_administrator_the_trail_says_nobody_else_could_be_told(app, root, facility_ids):
    chandra = _id(app, User, username="chandra")
    account = _post(root, f"/admin/users/{chandra}", f"/admin/users/{chandra}", role="investigator",
                    default_recipient="y")
    assert account.status_code == 303
    rows = _rows(root, "account_changed")
    assert "Chandra (chandra)" in rows and 'new_readers: ["Chandra (chandra)"]' in rows
    assert "Nobody else could be told" in rows
    assert _mails(app) == []


def test_a_user_set_to_receive_new_cases_is_told_to_the_other_administrator(app, root, second_admin):
    chandra = _id(app, User, username="chandra")
    assert _post(root, f"/admin/users/{chandra}", f"/admin/users/{chandra}", role="retaliation_officer",
                 default_recipient="y").status_code == 303
    [mail] = _mails(app)
    assert mail.to_address == second_admin and "Chandra (chandra)" in mail.body
    rows = _rows(root, "account_changed")
    assert 'before: {"default_recipient": false, "role": "investigator"}' in rows
    assert 'after: {"default_recipient": true, "role": "retaliation_officer"}' in rows


@pytest.mark.parametrize("change", ["close", "demote"])
def test_two_administrators_acting_on_each_other_cannot_leave_none(app, second_admin, change):
    """Both open the other's account at once; the first to act wins, the second is refused."""
    make_admin(app)
    sessions = app.extensions["portal.sessions"]
    with sessions() as first, sessions() as second:
        root = first.scalar(select(User).where(User.username == "root"))
        dara_seen_by_root = first.scalar(select(User).where(User.username == "dara"))
        dara = second.scalar(select(User).where(User.username == "dara"))
        root_seen_by_dara = second.scalar(select(User).where(User.username == "root"))
        second.commit()
        if change == "close":
            users.deactivate(first, root, dara_seen_by_root)
            with pytest.raises(users.AccountError) as refused:
                users.deactivate(second, dara, root_seen_by_dara)
        else:
            users.change(first, root, dara_seen_by_root, role="investigator", email=None, default_recipient=False)
            with pytest.raises(users.AccountError) as refused:
                users.change(second, dara, root_seen_by_dara, role="investigator", email=None,
                             default_recipient=False)
        assert refused.value.reason == "last_administrator"
        second.rollback()
    with sessions() as session:
        administrators = session.scalars(select(User.username).where(User.role == "administrator",
                                                                     User.active.is_(True))).all()
    assert administrators == ["root"]
    with sessions() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action.in_(
            ["account_deactivated", "account_changed"]))) is not None


def test_who_is_new_is_worked_out_not_guessed_from_the_kind_of_change(app, root, second_admin, facility_ids):
    """A conflict of interest usually keeps someone out, but when it passes the plant's reports
    on to the users who receive new cases, they are new readers and the other administrator is told."""
    chandra = _id(app, User, username="chandra")
    assert _new_rule(root, facility_ids[0], "Bac Ninh", chandra).status_code == 303
    rule_id = _id(app, RoutingRule, name="Bac Ninh")
    [about_chandra] = _mails(app)
    assert "Chandra (chandra)" in about_chandra.body and "Anna" not in about_chandra.body

    entries = _rows(root, "rule_changed")
    assert _post(root, f"/admin/routing?edit={rule_id}", "/admin/routing/rules", rule_id=str(rule_id),
                 name="Bac Ninh", facility=str(facility_ids[0]), recipients=[str(chandra)]).status_code == 303
    assert _rows(root, "rule_changed") == entries, "a rule saved unchanged records nothing"

    assert _post(root, "/admin/routing", "/admin/routing/exclusions", user=str(chandra),
                 facility=str(facility_ids[0])).status_code == 303
    [_, passed_on] = _mails(app)
    assert "a conflict of interest was declared" in passed_on.body
    new_readers = passed_on.body.split("could not receive before: ")[1].split("\n")[0]
    assert new_readers == "Anna (anna), Binh (binh)."


def test_an_account_opened_again_that_receives_new_cases_is_told(app, root, second_admin):
    anna = _id(app, User, username="anna")
    assert _post(root, f"/admin/users/{anna}", f"/admin/users/{anna}/deactivate", confirm="y").status_code == 303
    assert _mails(app) == [], "closing takes a reader away"
    assert _post(root, f"/admin/users/{anna}", f"/admin/users/{anna}/reactivate").status_code == 303
    [mail] = _mails(app)
    assert "an account was opened again" in mail.body and "Anna (anna)" in mail.body
    assert "Anna (anna)" in _rows(root, "account_reactivated")


def test_a_rule_moved_above_another_that_took_its_reports_is_told(app, root, second_admin, facility_ids):
    binh, chandra = _id(app, User, username="binh"), _id(app, User, username="chandra")
    assert _post(root, "/admin/routing", "/admin/routing/rules", name="Viet Nam", country="VN",
                 recipients=[str(binh)]).status_code == 303
    assert _new_rule(root, facility_ids[0], "Bac Ninh", chandra).status_code == 303
    assert _mails(app) == [], "the Viet Nam rule comes first: Chandra receives nothing yet"
    bac_ninh = _id(app, RoutingRule, name="Bac Ninh")
    assert _post(root, "/admin/routing", f"/admin/routing/rules/{bac_ninh}/up").status_code == 303
    [mail] = _mails(app)
    assert "a routing rule was moved" in mail.body and "Chandra (chandra)" in mail.body
    rows = _rows(root, "rule_moved")
    assert 'new_readers: ["Chandra (chandra)"]' in rows and 'above: "Viet Nam"' in rows


def test_closing_a_rules_only_recipient_tells_who_receives_its_reports_now(app, root, second_admin, facility_ids):
    chandra = _id(app, User, username="chandra")
    assert _new_rule(root, facility_ids[0], "Bac Ninh", chandra).status_code == 303
    assert _post(root, f"/admin/users/{chandra}", f"/admin/users/{chandra}/deactivate",
                 confirm="y").status_code == 303
    [_, mail] = _mails(app)
    assert "an account was closed" in mail.body
    assert mail.body.split("could not receive before: ")[1].split("\n")[0] == "Anna (anna), Binh (binh)."
