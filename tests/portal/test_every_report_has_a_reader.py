"""No report that nobody can read.

A worker is offered only the recipient choices someone active can receive.
When the people a rule names are all left out (by the worker, a conflict of
interest or a closed account) the next matching rule takes the report, then
the users who receive new cases. If still nobody can, the worker is told
before anything is stored and can choose again. Cases that only the recovery
key can open (stored before, or whose keyholders all left) are found, the
administrators are e-mailed, and the recovery key ceremony gives them to a
named colleague, who then reads them with their own key.
"""

import email
import email.policy
import os
import re
import subprocess

import pytest
from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from operator_steps import PORTAL, run_portal
from reporter_pages import csrf_token, send_report
from sqlalchemy import func, select
from test_audit_and_notifications import smtp_server  # noqa: F401 (a fixture)

import crypto
from portal import create_app
from portal.models import AuditEntry, Case, CaseItem, Keyholder, OutboxEmail, User
from portal.services import facilities, routing, users

CHOICE_VALUES = ("contractor", "monitor", "both")
CHECKED = re.compile(r'<input checked id="excluded_handlers-\d+" name="excluded_handlers" type="checkbox" value="(\d+)"')
STORED_TABLES = (Case, CaseItem, Keyholder, OutboxEmail)


def offered_on(page) -> set[str]:
    text = page.get_data(as_text=True)
    return {value for value in CHOICE_VALUES if f'name="recipient_choice" type="radio" value="{value}"' in text}


def stored_counts(session_factory) -> dict:
    with session_factory() as session:
        return {table.__name__: session.scalar(select(func.count()).select_from(table)) for table in STORED_TABLES}


def person(session, username, role, **options):
    return users.create(session, username, username.title(), role, passphrase_of(username), work_factor=10,
                        totp_secret=totp_secret_of(username), email=f"{username}@contractor.example", **options)


@pytest.fixture
def bare_app(app_config, session_factory, recovery_identity):
    """A freshly initialised instance: nobody has an account yet."""
    with session_factory() as session:
        facility_id = facilities.add(session, country="VN", name="Bac Ninh Display", local_name="Bắc Ninh",
                                     supplier="Northlight", address="Bac Ninh").id
    application = create_app(app_config)
    application.config["TESTING"] = True
    application.facility_id = facility_id
    yield application
    application.extensions["portal.engine"].dispose()


def test_a_fresh_instance_offers_workers_only_what_someone_active_can_receive(bare_app, session_factory):
    # The form's choices are read again at most every few seconds per language: each look
    # below is a worker in another language, so each sees the instance as it is now.
    assert bare_app.test_client().get("/en/report").status_code == 503, "nobody at all can receive a report"

    with session_factory() as session:
        person(session, "root", "administrator")
        person(session, "dana", "investigator", default_recipient=True)
    assert offered_on(bare_app.test_client().get("/vi/report")) == {"contractor"}
    # The administrators offer all three; two of them nobody can receive.
    admin = bare_app.test_client()
    assert log_in(admin, "root").status_code == 303
    settings = admin.get("/admin/settings")
    saved = admin.post("/admin/settings", data={"csrf_token": csrf_token(settings),
                                                "recipient_choices": list(CHOICE_VALUES)})
    assert saved.status_code == 200
    notice = re.search(r'id="not-receivable">(.*?)</p>', saved.get_data(as_text=True)).group(1)
    assert "Only Electronics Watch" in notice and "Both" in notice and "investigators" not in notice
    assert offered_on(bare_app.test_client().get("/fr/report")) == {"contractor"}
    # A worker who sends the choice anyway (an old page, a crafted form) is refused; nothing is stored.
    before = stored_counts(session_factory)
    for choice in ("monitor", "both"):
        refused = send_report(bare_app.test_client(), bare_app.facility_id, lang="es", recipient_choice=choice,
                              description="Chỉ cho Electronics Watch")
        assert refused.status_code == 400 and "Chỉ cho Electronics Watch" in refused.get_data(as_text=True)
    assert stored_counts(session_factory) == before

    # A monitor account can receive "Electronics Watch only"; once it is closed, nobody can.
    with session_factory() as session:
        ewa = person(session, "ewa", "monitor")
    assert offered_on(bare_app.test_client().get("/th/report")) == set(CHOICE_VALUES)
    with session_factory() as session:
        session.get(User, ewa.id).active = False
        session.commit()
    assert offered_on(bare_app.test_client().get("/ms/report")) == {"contractor"}
    # Dana's account is closed too: nothing is offered, and the form says why.
    with session_factory() as session:
        session.scalar(select(User).where(User.username == "dana")).active = False
        session.commit()
    closed = bare_app.test_client().get("/id/report")
    assert closed.status_code == 503 and offered_on(closed) == set()


@pytest.fixture
def routed(app_config, session_factory, recovery_identity):
    """Two rules for a Vietnamese plant, and Dana, who receives what no rule gives anyone."""
    with session_factory() as session:
        plant = facilities.add(session, country="VN", name="Bac Ninh Display", local_name="Bắc Ninh",
                               supplier="Northlight", address="Bac Ninh")
        people = {name: person(session, name, "investigator", **options) for name, options in (
            ("hana", {}), ("ivan", {}), ("dana", {"default_recipient": True}), ("root", {}))}
        session.get(User, people["root"].id).role = "administrator"
        ids = {name: user.id for name, user in people.items()}
        routing.save_rule(session, None, name="The Bac Ninh plant", facility_id=plant.id, recipient_ids=[ids["hana"]])
        routing.save_rule(session, None, name="Viet Nam", country="VN", recipient_ids=[ids["ivan"]])
        for name in ("hana", "ivan", "dana"):
            session.get(User, ids[name]).shown_to_reporters = True
        session.commit()
    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application, plant.id, ids
    application.extensions["portal.engine"].dispose()


def holders_of_last_case(session_factory) -> list[str]:
    with session_factory() as session:
        case_id = session.scalar(select(func.max(Case.id)))
        return sorted(session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)
                                      .where(Keyholder.case_id == case_id)))


LEFT_OUT = [
    # whom the worker leaves out, whose account is closed -> who receives the report
    ([], [], ["hana"]),
    (["hana"], [], ["ivan"]),  # the plant's rule is empty: the country's rule takes it
    (["hana", "ivan"], [], ["dana"]),  # every rule is empty: the user who receives new cases
    (["hana"], ["ivan"], ["dana"]),  # Ivan's account is closed
    ([], ["hana", "ivan"], ["dana"]),
]


@pytest.mark.parametrize("left_out,closed,receivers", LEFT_OUT)
def test_a_report_whose_rule_is_emptied_goes_to_the_next_rule_then_the_default(
        routed, session_factory, left_out, closed, receivers):
    app, plant, ids = routed
    with session_factory() as session:
        for name in closed:
            session.get(User, ids[name]).active = False
        session.commit()
    answer = send_report(app.test_client(), plant, excluded_handlers=[str(ids[n]) for n in left_out])
    assert answer.status_code == 200 and 'class="receipt"' in answer.get_data(as_text=True)
    assert holders_of_last_case(session_factory) == receivers


@pytest.mark.parametrize("left_out,conflicted,then_left_out,receiver", [
    (["hana", "ivan", "dana"], [], ["hana", "ivan"], "dana"),
    (["hana", "ivan"], ["dana"], ["hana"], "ivan"),  # Dana has a conflict of interest with the supplier
    (["hana"], ["ivan", "dana"], [], "hana"),
])
def test_a_worker_whom_nobody_could_read_is_told_before_anything_is_stored_and_chooses_again(
        routed, session_factory, left_out, conflicted, then_left_out, receiver):
    app, plant, ids = routed
    with session_factory() as session:
        for name in conflicted:
            routing.add_exclusion(session, ids[name], supplier="Northlight")
    before = stored_counts(session_factory)
    worker = app.test_client()
    refused = send_report(worker, plant, lang="vi", description="Quản đốc giữ lương tháng mười",
                          contact="Zalo 0912", excluded_handlers=[str(ids[n]) for n in left_out])
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'class="receipt"' not in page
    assert "Quản đốc giữ lương tháng mười" in page and "Zalo 0912" in page, "everything the worker wrote is kept"
    assert sorted(CHECKED.findall(page)) == sorted(str(ids[n]) for n in left_out), "their choices are kept"
    assert "Nobody can receive" not in page, "the message is in the worker's language"
    assert stored_counts(session_factory) == before, "nothing is stored, not even for the recovery key"
    # The worker leaves one person fewer out, and the report reaches them.
    answer = send_report(worker, plant, lang="vi", excluded_handlers=[str(ids[n]) for n in then_left_out])
    assert answer.status_code == 200 and 'class="receipt"' in answer.get_data(as_text=True)
    assert holders_of_last_case(session_factory) == [receiver]


def test_the_refusal_is_clear_in_english_too(routed, session_factory):
    app, plant, ids = routed
    refused = send_report(app.test_client(), plant, excluded_handlers=[str(ids[n]) for n in ("hana", "ivan", "dana")])
    assert refused.status_code == 409
    assert "Nobody can receive your report as you chose it now" in refused.get_data(as_text=True)


def test_electronics_watch_only_with_do_not_share_with_electronics_watch_is_refused(
        routed, session_factory):
    app, plant, ids = routed
    with session_factory() as session:
        person(session, "ewa", "monitor")
    before = stored_counts(session_factory)
    for choice in ("monitor", "both"):
        refused = send_report(app.test_client(), plant, recipient_choice=choice, consent="none",
                              description="Only the monitor may know this")
        page = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "Only the monitor may know this" in page
        assert "but also not to share it with Electronics Watch" in page
    assert stored_counts(session_factory) == before
    assert send_report(app.test_client(), plant, recipient_choice="monitor",
                       consent="without_identity").status_code == 200
    assert holders_of_last_case(session_factory) == ["ewa"]


@pytest.mark.slow
def test_the_recovery_key_ceremony_gives_a_case_nobody_can_open_to_a_named_colleague(
        app, session_factory, facility_ids, colleague, recovery_identity, tmp_path, smtp_server):  # noqa: F811
    controller, handler = smtp_server
    with session_factory() as session:
        person(session, "root", "administrator")
    # Two reports reach Anna and Binh, who receive new cases.
    for description in ("Overtime was not paid in October", "The fire exit is locked"):
        assert send_report(app.test_client(), facility_ids[0], description=description,
                           excluded_handlers=[]).status_code == 200
    with session_factory() as session:
        first, second = session.scalars(select(Case).order_by(Case.id)).all()
        # Anna and Binh leave the organisation; their accounts are closed.
        for name in ("anna", "binh"):
            session.scalar(select(User).where(User.username == name)).active = False
        # The second case was stored before reports nobody could read were refused: no keyholder at all.
        for holder in session.scalars(select(Keyholder).where(Keyholder.case_id == second.id)):
            session.delete(holder)
        session.commit()
        references = [first.reference, second.reference]

    # The routing page names both and points to the ceremony; nothing there only hides them.
    admin = app.test_client()
    assert log_in(admin, "root").status_code == 303
    page = admin.get("/admin/routing").get_data(as_text=True)
    assert all(reference in page for reference in references)
    assert "portal recovery assign" in page and "Resolved" not in page

    # The periodic notifications job e-mails the administrator once per case, content-free.
    environment = {"PORTAL_SMTP_HOST": "127.0.0.1", "PORTAL_SMTP_PORT": str(controller.port),
                   "PORTAL_BASE_URL": "https://portal.example"}
    for _run in range(2):
        job = run_with(app, environment, "notifications", "send")
        assert job.returncode == 0, job.stderr
    mails = [message for message in handler.messages if "root@contractor.example" in message.rcpt_tos]
    assert len(mails) == 2, "one e-mail per case, not one per run"
    for message in mails:
        text = email.message_from_bytes(message.content, policy=email.policy.default).get_content()
        assert "https://portal.example/admin/routing#recovery-only" in text
        assert "Overtime" not in text and "fire exit" not in text

    key_file = tmp_path / "recovery-key.txt"
    key_file.write_text(f"# public key: {recovery_identity.recipient}\n{recovery_identity}\n")
    wrong_key = tmp_path / "other-key.txt"
    wrong_key.write_text(f"{crypto.generate_identity(pq=False)}\n")
    refused = run_portal(app, "recovery", "assign", references[0], "chandra", "--recovery-key", str(wrong_key))
    assert refused.returncode != 0 and "not the recovery key" in refused.stderr
    closed = run_portal(app, "recovery", "assign", references[0], "anna", "--recovery-key", str(key_file))
    assert closed.returncode != 0 and "no active account" in closed.stderr
    for reference in references:
        given = run_portal(app, "recovery", "assign", reference, "chandra", "--recovery-key", str(key_file))
        assert given.returncode == 0, given.stderr
        assert f"case {reference} given to chandra" in given.stdout

    # Chandra opens both with her own key, in the inbox.
    chandra = app.test_client()
    assert log_in(chandra, "chandra").status_code == 303
    with session_factory() as session:
        case_ids = session.scalars(select(Case.id).order_by(Case.id)).all()
        assigned = session.scalars(select(AuditEntry).where(AuditEntry.action == "recovery_assign")).all()
        assert sorted(entry.case_id for entry in assigned) == case_ids
    for case_id, description in zip(case_ids, ("Overtime was not paid in October", "The fire exit is locked")):
        opened = chandra.get(f"/inbox/cases/{case_id}")
        assert opened.status_code == 200 and description in opened.get_data(as_text=True)
    assert "portal recovery assign" not in admin.get("/admin/routing").get_data(as_text=True)


def test_the_ceremony_keeps_the_workers_wishes(app, session_factory, facility_ids, recovery_identity, tmp_path):
    with session_factory() as session:
        anna = session.scalar(select(User).where(User.username == "anna"))
        anna.shown_to_reporters = True
        session.commit()
    assert send_report(app.test_client(), facility_ids[0],
                       excluded_handlers=[str(anna.id)]).status_code == 200
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        session.scalar(select(User).where(User.username == "binh")).active = False
        session.commit()
    key_file = tmp_path / "recovery-key.txt"
    key_file.write_text(f"{recovery_identity}\n")
    refused = run_portal(app, "recovery", "assign", case.reference, "anna", "--recovery-key", str(key_file))
    assert refused.returncode != 0 and "may not receive this case" in refused.stderr
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "recovery_assign")) == 0


def run_with(app, environment, *args):
    """``portal ARGS`` against ``app``'s database, with more settings in the environment."""
    env = dict(os.environ, PORTAL_DATABASE_URL=app.config["DATABASE_URL"],
               PORTAL_INSTANCE_PATH=app.config["INSTANCE_PATH"], **environment)
    return subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True, timeout=120)
