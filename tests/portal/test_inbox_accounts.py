"""An administrator invites a colleague, who activates the account; a lost
passphrase is recovered with the organisation's offline recovery key."""

from accounts import passphrase_of
from inbox_pages import STRONG, activate, link_mailed_to, log_in, next_code
from operator_steps import make_admin, run_portal
from reporter_pages import csrf_token, send_report
from sqlalchemy import select

import crypto
from portal.models import Case, User
from portal.services import users


def test_an_administrator_invites_an_investigator_who_activates_and_logs_in(app):
    make_admin(app)
    admin = app.test_client()
    log_in(admin, "root")
    page = admin.get("/admin/users")
    invited = admin.post("/admin/users", data={"csrf_token": csrf_token(page), "username": "dewi",
                                               "display_name": "Dewi", "role": "investigator",
                                               "email": "dewi@contractor.example", "default_recipient": "y"})
    assert invited.status_code == 200
    shown = invited.get_data(as_text=True)
    link = link_mailed_to(app, "dewi@contractor.example")
    assert link.rsplit("/", 1)[1] not in shown, "the administrator never sees the link"
    assert "sent to the e-mail address of Dewi" in shown
    secret, codes = activate(app, link)
    assert app.test_client().get(link[link.index("/inbox/"):]).status_code == 404, "the link works once"

    dewi = app.test_client()
    page = dewi.get("/inbox/login")
    assert dewi.post("/inbox/login", data={"csrf_token": csrf_token(page), "username": "dewi",
                                           "passphrase": STRONG, "code": next_code(secret)}).status_code == 303
    recovery = app.test_client()
    page = recovery.get("/inbox/login")
    ok = recovery.post("/inbox/login", data={"csrf_token": csrf_token(page), "username": "dewi",
                                             "passphrase": STRONG, "code": codes[0]})
    assert ok.status_code == 303, "a recovery code stands in for the authenticator"
    again = app.test_client()
    page = again.get("/inbox/login")
    assert again.post("/inbox/login", data={"csrf_token": csrf_token(page), "username": "dewi",
                                            "passphrase": STRONG, "code": codes[0]}).status_code == 401


def test_only_administrators_see_the_admin_pages(app):
    investigator = app.test_client()
    log_in(investigator, "anna")
    assert investigator.get("/admin/users").status_code == 404
    assert app.test_client().get("/admin/users").status_code == 303


def test_changing_the_passphrase_reseals_the_same_identity(app, investigators):
    anna = app.test_client()
    log_in(anna, "anna")
    page = anna.get("/inbox/account")
    changed = anna.post("/inbox/account", data={"csrf_token": csrf_token(page), "current": passphrase_of("anna"),
                                                "passphrase": STRONG, "confirm": STRONG})
    assert changed.status_code == 200 and "was changed" in changed.get_data(as_text=True)
    with app.extensions["portal.sessions"]() as session:
        user = session.scalar(select(User).where(User.username == "anna"))
        assert str(users.unlock_identity(user, STRONG)) == str(investigators["anna"][1])


def test_a_lost_passphrase_loses_no_case(app, client, facility_ids, recovery_identity, instance_dir):
    send_report(client, facility_ids[0], description="Before the passphrase was lost")
    make_admin(app)
    with app.extensions["portal.sessions"]() as session:
        anna_id = session.scalar(select(User.id).where(User.username == "anna"))
        case_url = f"/inbox/cases/{session.scalar(select(Case.id))}"
    admin = app.test_client()
    log_in(admin, "root")
    page = admin.get("/admin/users")
    reset = admin.post(f"/admin/users/{anna_id}/reset", data={"csrf_token": csrf_token(page)})
    link = link_mailed_to(app, "anna@contractor.example")
    assert link.rsplit("/", 1)[1] not in reset.get_data(as_text=True), "the administrator never sees the link"
    secret, _codes = activate(app, link, passphrase="new lantern orbit pickle")

    anna = app.test_client()
    page = anna.get("/inbox/login")
    anna.post("/inbox/login", data={"csrf_token": csrf_token(page), "username": "anna",
                                    "passphrase": "new lantern orbit pickle", "code": next_code(secret)})
    case_page = anna.get(case_url)
    assert case_page.status_code == 409
    assert "recovery key" in case_page.get_data(as_text=True)

    key_file = instance_dir / "recovery.txt"
    key_file.write_text(f"# recovery\n{recovery_identity}\n")
    wrong_key = instance_dir / "wrong.txt"
    wrong_key.write_text(f"{crypto.generate_identity()}\n")
    assert run_portal(app, "recovery", "readmit", "anna", "--recovery-key", str(wrong_key)).returncode != 0
    result = run_portal(app, "recovery", "readmit", "anna", "--recovery-key", str(key_file))
    assert result.returncode == 0, result.stderr
    assert "1 cases" in result.stdout
    assert "Before the passphrase was lost" in anna.get(case_url).get_data(as_text=True)


def test_an_account_without_an_e_mail_address_gets_no_activation_link_from_an_administrator(app):
    make_admin(app)
    admin = app.test_client()
    log_in(admin, "root")
    page = admin.get("/admin/users")
    refused = admin.post("/admin/users", data={"csrf_token": csrf_token(page), "username": "eko",
                                               "display_name": "Eko", "role": "investigator"})
    assert refused.status_code == 400 and "e-mail address" in refused.get_data(as_text=True)
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(User).where(User.username == "eko")) is None
        root_id = session.scalar(select(User.id).where(User.username == "root"))
    reset = admin.post(f"/admin/users/{root_id}/reset", data={"csrf_token": csrf_token(page)})
    assert reset.status_code == 409 and "/inbox/activate/" not in reset.get_data(as_text=True)
    with app.extensions["portal.sessions"]() as session:
        assert session.get(User, root_id).sealed_identity is not None, "nothing was reset"
