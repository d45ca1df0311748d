"""A conflict of interest declared after a case was routed applies to the cases
its user already holds: from that moment they cannot open them, another holder
takes their key off every item, and a case nobody else can open goes to a
colleague through the recovery key ceremony, without the conflicted key."""

import io
import json

import pytest
from accounts import passphrase_of
from inbox_pages import log_in, post_on_case
from operator_steps import logged_in_admin, run_portal, user_named
from PIL import Image
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

import crypto
from portal.models import AuditEntry, Case, CaseItem, Exclusion, Keyholder, OutboxEmail, RoutingAlert, User
from portal.services import handover, users


def _audit(app, action):
    with app.extensions["portal.sessions"]() as session:
        return [(entry.case_id, json.loads(entry.detail or "{}")) for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def _holders(app, case_id):
    with app.extensions["portal.sessions"]() as session:
        return set(session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)
                                   .where(Keyholder.case_id == case_id)))


def _items(app, case_id):
    with app.extensions["portal.sessions"]() as session:
        return [item.blob for item in session.scalars(select(CaseItem).where(CaseItem.case_id == case_id))]


def _key_of(app, username):
    return users.unlock_identity(user_named(app, username), passphrase_of(username))


def _opens_nothing(app, case_id, username):
    identity = _key_of(app, username)
    for blob in _items(app, case_id):
        with pytest.raises(crypto.NoIdentityError):
            crypto.decrypt(blob, identity)
    return True


def _declare(root, user_id, facility="", supplier=""):
    page = root.get("/admin/routing")
    return root.post("/admin/routing/exclusions", data={
        "csrf_token": csrf_token(page), "user": str(user_id), "facility": facility, "supplier": supplier})


@pytest.fixture
def two_cases(app, facility_ids):
    """Two reports from the first facility, each routed to Anna and Binh; the first with a photo."""
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    assert send_report(app.test_client(), facility_ids[0], description="Overtime was not paid",
                       files={"files": [(io.BytesIO(png.getvalue()), "a.png")]}).status_code == 200
    assert send_report(app.test_client(), facility_ids[0], description="The fire exit is locked").status_code == 200
    with app.extensions["portal.sessions"]() as session:
        cases = session.scalars(select(Case).order_by(Case.id)).all()
        attachment = session.scalar(select(CaseItem.id).where(CaseItem.kind == "attachment",
                                                              CaseItem.case_id == cases[0].id))
        return [(case.id, case.reference) for case in cases], attachment


def test_a_conflict_declared_after_routing_bars_the_holder_and_another_holder_removes_the_key(
        app, facility_ids, two_cases):
    (first, first_ref), (second, second_ref) = two_cases[0]
    attachment = two_cases[1]
    assert _holders(app, first) == _holders(app, second) == {"anna", "binh"}
    anna, binh = app.test_client(), app.test_client()
    assert log_in(anna, "anna").status_code == 303 and log_in(binh, "binh").status_code == 303
    assert anna.get(f"/inbox/cases/{first}").status_code == 200
    anna_id = user_named(app, "anna").id

    # An administrator declares that Anna has a conflict with the facility: the page lists what she holds.
    root = logged_in_admin(app)
    declared = _declare(root, anna_id, facility=str(facility_ids[0]))
    assert declared.status_code == 303 and "/admin/routing/exclusions/" in declared.headers["Location"]
    page = root.get(declared.headers["Location"]).get_data(as_text=True)
    assert "Anna has a conflict of interest with the facility" in page
    assert first_ref in page and second_ref in page
    assert "From now on they cannot open them" in page
    assert "Another holder removes the key on the case page" in page and "portal recovery assign" not in page
    assert sorted(_audit(app, "conflict_block")) == [(first, {"user": anna_id}), (second, {"user": anna_id})]
    with app.extensions["portal.sessions"]() as session:
        assert session.scalars(select(RoutingAlert)).all() == [], "Binh can still open both cases"

    # From this moment Anna cannot open the cases, nor see them listed; she is told why.
    refused = anna.get(f"/inbox/cases/{first}")
    assert refused.status_code == 403 and "conflict of interest" in refused.get_data(as_text=True)
    assert anna.get(f"/inbox/cases/{first}/files/{attachment}").status_code == 403
    token = csrf_token(anna.get("/inbox/account"))
    for action, fields in (("messages", {"text": "x"}), ("notes", {"text": "x"}),
                           ("status", {"status": "acknowledged"}), ("keyholders", {"user": "1"}),
                           ("forward", {})):
        response = anna.post(f"/inbox/cases/{first}/{action}", data={"csrf_token": token, **fields})
        assert response.status_code == 403, action
    with app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(Case.status).where(Case.id == first)) == "received"
        assert session.scalars(select(CaseItem).where(CaseItem.author_user_id == anna_id)).all() == []
    listing = anna.get("/inbox/").get_data(as_text=True)
    assert first_ref not in listing and second_ref not in listing

    anna_key = _key_of(app, "anna")
    assert all(crypto.decrypt(blob, anna_key) for blob in _items(app, first)), "her key is still in the items"

    # Binh sees that Anna is conflicted and takes her key off the first case, with one confirmed action.
    case_page = binh.get(f"/inbox/cases/{first}").get_data(as_text=True)
    assert "Anna has a conflict of interest with this case" in case_page
    unconfirmed = post_on_case(binh, first, f"keyholders/{anna_id}/remove-conflicted")
    assert unconfirmed.status_code == 400 and _holders(app, first) == {"anna", "binh"}
    removed = post_on_case(binh, first, f"keyholders/{anna_id}/remove-conflicted", confirm="y")
    assert removed.status_code == 303
    assert _holders(app, first) == {"binh"}
    assert _audit(app, "conflict_key_removed") == [(first, {"user": anna_id})]
    assert _opens_nothing(app, first, "anna"), "her key opens no item of the case any more"
    binh_key = _key_of(app, "binh")
    assert all(crypto.decrypt(blob, binh_key) for blob in _items(app, first))
    assert binh.get(f"/inbox/cases/{first}/files/{attachment}").status_code == 200

    # Removing the conflict lifts the bar on the case she still holds; the removed key stays removed.
    with app.extensions["portal.sessions"]() as session:
        exclusion_id = session.scalar(select(Exclusion.id).where(Exclusion.user_id == anna_id))
    lifted = root.post(f"/admin/routing/exclusions/{exclusion_id}/delete",
                       data={"csrf_token": csrf_token(root.get("/admin/routing"))})
    assert lifted.status_code == 303
    assert _audit(app, "conflict_unblock") == [(second, {"user": anna_id})]
    assert anna.get(f"/inbox/cases/{second}").status_code == 200
    assert anna.get(f"/inbox/cases/{first}").status_code == 404
    assert second_ref in anna.get("/inbox/").get_data(as_text=True)
    assert _opens_nothing(app, first, "anna")


def test_only_holders_without_a_conflict_remove_a_conflicted_key(app, facility_ids, two_cases):
    (first, _ref), _second = two_cases[0]
    root = logged_in_admin(app)
    binh_id, anna_id = user_named(app, "binh").id, user_named(app, "anna").id
    assert _declare(root, anna_id, supplier="Northlight").status_code == 303
    binh = app.test_client()
    assert log_in(binh, "binh").status_code == 303
    not_conflicted = post_on_case(binh, first, f"keyholders/{binh_id}/remove-conflicted", confirm="y")
    assert not_conflicted.status_code == 400 and _holders(app, first) == {"anna", "binh"}
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    token = csrf_token(anna.get("/inbox/account"))
    barred = anna.post(f"/inbox/cases/{first}/keyholders/{anna_id}/remove-conflicted",
                       data={"csrf_token": token, "confirm": "y"})
    assert barred.status_code == 403 and _holders(app, first) == {"anna", "binh"}
    assert _audit(app, "conflict_key_removed") == []


def test_a_case_only_the_conflicted_user_holds_goes_to_a_colleague_by_the_recovery_ceremony(
        app, facility_ids, colleague, recovery_identity, tmp_path):
    with app.extensions["portal.sessions"]() as session:
        session.scalar(select(User).where(User.username == "binh")).default_recipient = False
        session.commit()
    assert send_report(app.test_client(), facility_ids[1], description="Wages are withheld").status_code == 200
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
    assert _holders(app, case.id) == {"anna"}
    anna_id = user_named(app, "anna").id

    # The conflict is with the facility's supplier: the page says that nobody else can open the case.
    root = logged_in_admin(app)
    declared = _declare(root, anna_id, supplier="Northlight")
    assert declared.status_code == 303
    page = root.get(declared.headers["Location"]).get_data(as_text=True)
    assert "conflict of interest with the supplier Northlight" in page
    assert "Nobody else can open this case" in page
    assert f"portal recovery assign {case.reference} USER --recovery-key FILE" in page
    with app.extensions["portal.sessions"]() as session:
        alerts = session.scalars(select(RoutingAlert)).all()
        assert [(a.case_id, a.code, a.resolved_at) for a in alerts] == [(case.id, "conflicted_holder", None)]
    routing_page = root.get("/admin/routing").get_data(as_text=True)
    assert case.reference in routing_page and "recovery key ceremony" in routing_page
    with app.extensions["portal.sessions"]() as session:
        assert handover.alert_administrators(session, "https://portal.example") == 1, "administrators are e-mailed"

    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    assert anna.get(f"/inbox/cases/{case.id}").status_code == 403

    # The ceremony refuses Anna herself, and gives the case to Chandra without Anna's key.
    key_file = tmp_path / "recovery-key.txt"
    key_file.write_text(f"{recovery_identity}\n")
    refused = run_portal(app, "recovery", "assign", case.reference, "anna", "--recovery-key", str(key_file))
    assert refused.returncode != 0 and "conflict of interest" in refused.stderr
    given = run_portal(app, "recovery", "assign", case.reference, "chandra", "--recovery-key", str(key_file))
    assert given.returncode == 0, given.stderr
    assert _holders(app, case.id) == {"chandra"}
    assert _opens_nothing(app, case.id, "anna")
    chandra_key = colleague[1]
    assert all(crypto.decrypt(blob, chandra_key) for blob in _items(app, case.id))
    assert _audit(app, "conflict_key_removed") == [(case.id, {"user": anna_id})]
    with app.extensions["portal.sessions"]() as session:
        assert all(alert.resolved_at is not None for alert in session.scalars(select(RoutingAlert)))
    chandra = app.test_client()
    assert log_in(chandra, "chandra").status_code == 303
    opened = chandra.get(f"/inbox/cases/{case.id}")
    assert opened.status_code == 200 and "Wages are withheld" in opened.get_data(as_text=True)
    assert case.reference not in root.get("/admin/routing").get_data(as_text=True)


def test_a_barred_holder_is_not_e_mailed_about_the_workers_new_messages(app, facility_ids):
    worker = app.test_client()
    sent = send_report(worker, facility_ids[0])
    assert sent.status_code == 200
    receipt = receipt_on(sent)
    root = logged_in_admin(app)
    assert _declare(root, user_named(app, "anna").id, facility=str(facility_ids[0])).status_code == 303
    with app.extensions["portal.sessions"]() as session:
        before = set(session.scalars(select(OutboxEmail.id)))
    assert log_in_with_receipt(worker, receipt).status_code == 303
    page = worker.get("/en/case")
    answered = worker.post("/en/case", data={"csrf_token": csrf_token(page), "message": "It happened again"},
                           content_type="multipart/form-data")
    assert answered.status_code == 303
    with app.extensions["portal.sessions"]() as session:
        mailed = {mail.to_address for mail in session.scalars(select(OutboxEmail)) if mail.id not in before}
    assert mailed == {"binh@contractor.example"}


def test_closing_the_last_holder_without_a_conflict_raises_the_alert_for_the_ceremony(app, facility_ids, two_cases):
    (first, _ref), (second, _ref2) = two_cases[0]
    root = logged_in_admin(app)
    assert _declare(root, user_named(app, "anna").id, facility=str(facility_ids[0])).status_code == 303
    binh_id = user_named(app, "binh").id
    page = root.get(f"/admin/users/{binh_id}")
    closed = root.post(f"/admin/users/{binh_id}/deactivate", data={"csrf_token": csrf_token(page), "confirm": "y"})
    assert closed.status_code == 303
    with app.extensions["portal.sessions"]() as session:
        alerts = session.scalars(select(RoutingAlert).order_by(RoutingAlert.case_id)).all()
    assert [(a.case_id, a.code) for a in alerts] == [(first, "no_active_holder"), (second, "no_active_holder")]
    assert _holders(app, first) == {"anna", "binh"}, "Binh's stanza stays recorded until the ceremony"
