"""A report reaches whoever is responsible for its workplace, and never anyone
it must not reach."""

import re

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in, post_on_case
from reporter_pages import csrf_token, send_report
from sqlalchemy import func, select

import crypto
from portal.models import Case, CaseItem, Keyholder, RoutingAlert, RoutingRule, User
from portal.services import facilities, routing, users
from portal.services import instance as instance_service

PEOPLE = {  # username: role
    "mei": "investigator", "nguyen": "investigator", "siti": "investigator",
    "olu": "retaliation_officer", "ew": "monitor",
}


@pytest.fixture
def world(session_factory, recovery_identity):
    """Facilities in three countries, five people and four rules, the last the default."""
    with session_factory() as session:
        made = {}
        for name, role in PEOPLE.items():
            made[name] = users.create(session, name, name.title(), role, passphrase_of(name),
                                      work_factor=10, totp_secret=totp_secret_of(name))
        plant = {
            "cn": facilities.add(session, country="CN", name="Shenzhen Brightway", local_name="深圳明途",
                                 supplier="Brightway", address="Shenzhen"),
            "vn": facilities.add(session, country="VN", name="Bac Ninh Display", local_name="Bắc Ninh",
                                 supplier="Northlight", address="Bac Ninh"),
            "my": facilities.add(session, country="MY", name="Penang Precision", local_name="Penang",
                                 supplier="Northlight", address="Penang"),
            "my2": facilities.add(session, country="MY", name="Johor Cables", local_name="Johor",
                                  supplier="Brightway", address="Johor"),
        }
        ids = {name: user.id for name, user in made.items()}
        routing.save_rule(session, None, name="Child labour anywhere", category="child_labour",
                          recipient_ids=[ids["olu"], ids["siti"]])
        routing.save_rule(session, None, name="Shenzhen plant", facility_id=plant["cn"].id,
                          recipient_ids=[ids["mei"]])
        routing.save_rule(session, None, name="Vietnamese in Malaysia", country="MY", language="vi",
                          recipient_ids=[ids["nguyen"]])
        routing.save_rule(session, None, name="Everything else", recipient_ids=[ids["siti"]])
        routing.add_exclusion(session, ids["siti"], supplier="Brightway")
        return {"users": ids, "plants": {k: v.id for k, v in plant.items()}}


ROUTES = [
    # facility, categories, language, choice, reporter leaves out -> who receives, which rule
    ("cn", ["wages"], "zh_Hans", "contractor", [], {"mei"}, "Shenzhen plant"),
    ("cn", ["child_labour"], "zh_Hans", "contractor", [], {"olu"}, "Child labour anywhere"),  # siti: conflict
    ("vn", ["child_labour"], "vi", "contractor", [], {"olu", "siti"}, "Child labour anywhere"),
    ("my", ["wages"], "vi", "contractor", [], {"nguyen"}, "Vietnamese in Malaysia"),
    ("my", ["wages"], "ms", "contractor", [], {"siti"}, "Everything else"),
    ("my2", ["wages"], "ms", "contractor", [], set(), None),  # siti conflicted, no default: nobody
    ("my", ["wages"], "vi", "contractor", ["nguyen"], {"siti"}, "Everything else"),  # the next rule takes it
    ("cn", ["child_labour"], "zh_Hans", "contractor", ["olu"], {"mei"}, "Shenzhen plant"),
    ("my", ["wages"], "vi", "both", [], {"nguyen", "ew"}, "Vietnamese in Malaysia"),
    ("my", ["wages"], "vi", "monitor", [], {"ew"}, None),
    ("vn", ["child_labour"], "vi", "contractor", ["siti"], {"olu"}, "Child labour anywhere"),
    (None, ["health_safety"], "en", "contractor", [], {"siti"}, "Everything else"),
]


@pytest.mark.parametrize("plant,categories,language,choice,left_out,receivers,rule", ROUTES)
def test_routing_table(session_factory, world, plant, categories, language, choice, left_out, receivers, rule):
    with session_factory() as session:
        decision = routing.decide(session, routing.Sample(
            categories=categories, language=language, recipient_choice=choice,
            facility_id=world["plants"][plant] if plant else None,
            excluded_user_ids=[world["users"][name] for name in left_out]))
        assert {u.username for u in decision.users} == receivers
        assert (decision.rule.name if decision.rule else None) == rule
        assert decision.mandatory == ("child_labour" in categories)
        assert (decision.alert is None) == bool(receivers)
        if choice == "monitor":
            assert all(u.role == "monitor" for u in decision.users)


@pytest.mark.parametrize("fields,reason", [
    ({"facility_id": "cn", "country": "MY"}, "never_matches"),
    ({"facility_id": "cn", "supplier": "Northlight"}, "never_matches"),
    ({"country": "CN", "supplier": "Northlight"}, "never_matches"),
    ({"supplier": "Nobody Ltd"}, "supplier"),
    ({"facility_id": 999999}, "facility"),
    ({"category": "astrology"}, "category"),
])
def test_rules_that_can_never_match_are_refused(session_factory, world, fields, reason):
    fields = dict(fields)
    if fields.get("facility_id") in world["plants"]:
        fields["facility_id"] = world["plants"][fields["facility_id"]]
    with session_factory() as session:
        with pytest.raises(routing.RoutingError) as refused:
            routing.save_rule(session, None, name="bad", recipient_ids=[world["users"]["mei"]], **fields)
        assert refused.value.reason == reason


def test_rules_naming_no_one_a_deleted_user_or_a_monitor_are_refused(session_factory, world):
    with session_factory() as session:
        for recipients, reason in (([], "no_recipients"), ([999999], "recipient"),
                                   ([world["users"]["ew"]], "recipient_role")):
            with pytest.raises(routing.RoutingError) as refused:
                routing.save_rule(session, None, name="bad", recipient_ids=recipients)
            assert refused.value.reason == reason
        session.get(User, world["users"]["mei"]).active = False
        session.commit()
        with pytest.raises(routing.RoutingError):
            routing.save_rule(session, None, name="bad", recipient_ids=[world["users"]["mei"]])


@pytest.fixture
def routed_app(app_config, world):
    from portal import create_app

    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application
    application.extensions["portal.engine"].dispose()


def test_a_worker_in_malaysia_sends_to_electronics_watch_only(routed_app, world):
    response = send_report(routed_app.test_client(), world["plants"]["my"], lang="vi",
                           recipient_choice="monitor", description="Chỉ gửi cho Electronics Watch")
    assert response.status_code == 200
    with routed_app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        holders = session.scalars(select(User).join(Keyholder, Keyholder.user_id == User.id)
                                  .where(Keyholder.case_id == case.id)).all()
        assert [u.username for u in holders] == ["ew"]
        assert case.recipient_choice == "monitor"
        report = session.scalars(select(CaseItem).where(CaseItem.kind == "report")).one()
        header = crypto.split_header(report.blob)[0]
        assert header.count(b"-> mlkem768x25519") == 3, "the monitor, the recovery key and the reporter"
        for name in ("mei", "nguyen", "siti", "olu"):
            user = session.scalar(select(User).where(User.username == name))
            identity = users.unlock_identity(user, passphrase_of(name))
            with pytest.raises(crypto.NoIdentityError):
                crypto.decrypt(report.blob, identity)


def test_a_reporter_keeps_the_report_from_a_named_handler(routed_app, world, session_factory):
    with session_factory() as session:
        for name in ("olu", "siti"):
            session.get(User, world["users"][name]).shown_to_reporters = True
        session.commit()
    client = routed_app.test_client()
    form = re.sub(r'="[^"]*"', '=""', client.get("/en/report").get_data(as_text=True))  # words, not tokens
    assert "Olu" in form and "Siti" in form and "Mei" not in form
    response = send_report(client, world["plants"]["vn"], categories=["child_labour"],
                           excluded_handlers=[str(world["users"]["siti"])])
    assert response.status_code == 200
    with session_factory() as session:
        holders = session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)).all()
        assert holders == ["olu"]
        assert session.scalars(select(Case)).one().mandatory_notification is True
    refused = send_report(routed_app.test_client(), world["plants"]["vn"],
                          excluded_handlers=[str(world["users"]["mei"])])
    assert refused.status_code == 400, "only the listed handlers can be left out"


def test_a_report_nobody_can_receive_is_refused_and_the_worker_sends_it_to_the_monitor_instead(
        routed_app, world, session_factory):
    worker = routed_app.test_client()
    refused = send_report(worker, world["plants"]["my2"], lang="ms", description="Gaji lewat dua bulan")
    assert refused.status_code == 409, "nobody of the contractor's may read it: told before sending"
    assert "Gaji lewat dua bulan" in refused.get_data(as_text=True)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(RoutingAlert)) == 0
    answer = send_report(worker, world["plants"]["my2"], lang="ms", recipient_choice="monitor",
                         description="Gaji lewat dua bulan")
    assert answer.status_code == 200
    with session_factory() as session:
        assert session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)).all() == ["ew"]
        assert session.scalar(select(func.count()).select_from(RoutingAlert)) == 0


def test_offered_choices_follow_the_administrators_setting(routed_app, world, session_factory):
    with session_factory() as session:
        instance_service.load(session).recipient_choices = "contractor,both"
        session.commit()
    client = routed_app.test_client()
    form = client.get("/en/report").get_data(as_text=True)
    assert 'value="both"' in form and 'value="monitor"' not in form
    assert send_report(client, world["plants"]["vn"], recipient_choice="monitor").status_code == 400


def test_an_administrator_writes_and_tries_rules_in_the_admin_pages(routed_app, world, session_factory):
    with session_factory() as session:
        users.create(session, "root", "Root", "administrator", passphrase_of("root"), work_factor=10,
                     totp_secret=totp_secret_of("root"))
    admin = routed_app.test_client()
    assert log_in(admin, "root").status_code == 303
    page = admin.get("/admin/routing")
    assert page.status_code == 200 and "Everything else" in page.get_data(as_text=True)
    never = admin.post("/admin/routing/rules", data={
        "csrf_token": csrf_token(page), "name": "contradiction", "facility": str(world["plants"]["cn"]),
        "country": "MY", "recipients": [str(world["users"]["mei"])]})
    assert never.status_code == 400 and "can never match" in never.get_data(as_text=True)
    tried = admin.post("/admin/routing/try", data={
        "csrf_token": csrf_token(page), "facility": str(world["plants"]["my"]), "categories": ["wages"],
        "language": "vi", "recipient_choice": "contractor"})
    text = tried.get_data(as_text=True)
    assert "Matched rule: Vietnamese in Malaysia" in text and "Nguyen" in text
    with session_factory() as session:
        rule_id = session.scalar(select(RoutingRule.id).where(RoutingRule.name == "Vietnamese in Malaysia"))
    editing = admin.get(f"/admin/routing?edit={rule_id}")
    assert 'value="Vietnamese in Malaysia"' in editing.get_data(as_text=True)
    changed = admin.post("/admin/routing/rules", data={
        "csrf_token": csrf_token(editing), "rule_id": str(rule_id), "name": "Vietnamese in Malaysia",
        "country": "MY", "language": "vi", "recipients": [str(world["users"]["mei"])]})
    assert changed.status_code == 303
    with session_factory() as session:
        decision = routing.decide(session, routing.Sample(categories=["wages"], language="vi",
                                                          facility_id=world["plants"]["my"]))
        assert [u.username for u in decision.users] == ["mei"]
        assert len(routing.ordered_rules(session)) == 4, "changed, not added"
    assert routed_app.test_client().get("/admin/routing").status_code == 303


def test_a_case_cannot_be_handed_to_someone_routing_keeps_out(routed_app, world, session_factory):
    """Electronics Watch only stays Electronics Watch only; conflicts and the reporter's wishes hold."""
    send_report(routed_app.test_client(), world["plants"]["my"], recipient_choice="monitor")
    send_report(routed_app.test_client(), world["plants"]["my2"], recipient_choice="both",
                categories=["child_labour"])
    with session_factory() as session:
        monitor_case, both_case = session.scalars(select(Case.id).order_by(Case.id)).all()
    ew = routed_app.test_client()
    assert log_in(ew, "ew").status_code == 303
    # The words of the page, not its attributes: a random form token may hold "Mei" by chance.
    page = re.sub(r'="[^"]*"', '=""', ew.get(f"/inbox/cases/{monitor_case}").get_data(as_text=True))
    assert "Mei" not in page and "Siti" not in page, "no contractor user is offered"
    refused = post_on_case(ew, monitor_case, "keyholders", user=str(world["users"]["mei"]))
    assert refused.status_code == 400
    olu = routed_app.test_client()
    assert log_in(olu, "olu").status_code == 303
    offered = re.sub(r'="[^"]*"', '=""', olu.get(f"/inbox/cases/{both_case}").get_data(as_text=True))
    assert "Mei" in offered and "Siti" not in offered, "Siti has a conflict with the supplier"
    assert post_on_case(olu, both_case, "keyholders", user=str(world["users"]["siti"])).status_code == 400
    with session_factory() as session:
        holders = session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)
                                  .where(Keyholder.case_id == monitor_case)).all()
        assert holders == ["ew"]
