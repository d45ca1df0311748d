"""Two portal instances, each with its own database, served by real gunicorn
servers on loopback ports: a contractor's and Electronics Watch's.

The administrators register each other (fingerprints compared out of band,
tokens exchanged). A worker reports suspected forced labour, with contact
details, to the contractor. Electronics Watch's portal is down when the
investigator prepares the mandatory forward (without the worker's identity):
the bundle waits, and arrives once the partner is up again. A monitor user
opens it with their own key, acknowledges it and sends "under review" back;
the contractor's case shows both. Tampered, foreign and replayed bundles are
refused and nothing is stored; the offline bundle's report opens with the
standard age tool and the monitor's key.
"""

import hashlib
import io
import json
import re
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from accounts import passphrase_of, totp_secret_of
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from inbox_pages import log_in
from live_server import Server
from operator_steps import PORTAL
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import func, select
from test_no_trace_of_time import fine_times_tied_to_a_case_or_a_reporter
from test_page_structure import PageParts

import crypto
from portal import create_app, migrate
from portal.db import make_engine, make_session_factory
from portal.models import Case, Forward, Partner, ReceivedBundle, RoutingAlert, User
from portal.services import bundles, clock, conflicts, forwarding, keyring, outbound, partner_http, signing, users
from portal.services import instance as instance_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def monitor_database_url(empty_database_url):
    """Electronics Watch's own database, next to the contractor's."""
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def two_instances(app_config, session_factory, recovery_identity, investigators, facility_ids,
                  monitor_database_url, tmp_path):
    """The contractor (A, hybrid keys) and Electronics Watch (B, X25519 keys for the age tool 1.1)."""
    with session_factory() as session:
        users.create(session, "root", "Root", "administrator", passphrase_of("root"), work_factor=10,
                     totp_secret=totp_secret_of("root"))
    monitor_sessions = make_session_factory(make_engine(monitor_database_url))
    with monitor_sessions() as session:
        monitor_recovery = instance_service.initialise(session, "Electronics Watch", post_quantum=False)
        users.create(session, "ewroot", "EW Admin", "administrator", passphrase_of("ewroot"), work_factor=10,
                     totp_secret=totp_secret_of("ewroot"))
        max_user = users.create(session, "max", "Max Monitor", "monitor", passphrase_of("max"), work_factor=10,
                                totp_secret=totp_secret_of("max"), email="max@electronicswatch.example")
        max_identity = users.unlock_identity(max_user, passphrase_of("max"))
    dir_a, dir_b = tmp_path / "a", tmp_path / "b"
    dir_a.mkdir()
    dir_b.mkdir()
    server_a = Server(app_config["DATABASE_URL"], dir_a, tmp_path / "a.log", workers=1).start()
    server_b = Server(monitor_database_url, dir_b, tmp_path / "b.log", workers=1).start()
    app_a = create_app(dict(app_config, INSTANCE_PATH=str(dir_a), BASE_URL=server_a.origin))
    app_b = create_app(dict(app_config, DATABASE_URL=monitor_database_url, INSTANCE_PATH=str(dir_b),
                            BASE_URL=server_b.origin))
    for app in (app_a, app_b):
        app.config["TESTING"] = True
    try:
        yield {"a": app_a, "b": app_b, "server_a": server_a, "server_b": server_b,
               "sessions_a": session_factory, "sessions_b": monitor_sessions, "max_identity": max_identity,
               "monitor_db": monitor_database_url, "dir_a": dir_a,
               "monitor_recovery": monitor_recovery}
    finally:
        server_a.stop()
        server_b.stop()
        for app in (app_a, app_b):
            app.extensions["portal.engine"].dispose()
        monitor_sessions.kw["bind"].dispose()


def fingerprint_of(server):
    """What an administrator reads to the other over the phone: the published key's fingerprint."""
    answer = partner_http.get(server.origin, partner_http.WELL_KNOWN_PATH)
    import base64
    key = base64.b64decode(answer.json()["document"]["signing_key"])
    return signing.readable(signing.fingerprint(key))


def register(admin, name, server, token=""):
    page = admin.get("/admin/partners")
    answer = admin.post("/admin/partners", data={"csrf_token": csrf_token(page), "name": name,
                                                 "base_url": server.origin, "fingerprint": fingerprint_of(server),
                                                 "token": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    return re.search(r'class="secret">([A-Za-z0-9_\-]{40,})<', answer.get_data(as_text=True)).group(1)


def partner_each_other(world) -> str:
    """The two administrators register each other; returns the token B issued to A."""
    root = world["a"].test_client()
    assert log_in(root, "root").status_code == 303
    issued_by_a = register(root, "Electronics Watch", world["server_b"])
    ewroot = world["b"].test_client()
    assert log_in(ewroot, "ewroot").status_code == 303
    issued_by_b = register(ewroot, "Northlight contractor", world["server_a"], token=issued_by_a)
    world["issued_by_a"] = issued_by_a
    page = root.get("/admin/partners")
    # The partner's own form: its id depends on what the database handed out before.
    action = re.search(r'action="(/admin/partners/\d+/token)"', page.get_data(as_text=True)).group(1)
    assert root.post(action, data={"csrf_token": csrf_token(page), "token": issued_by_b}).status_code == 303
    assert "no token yet" not in root.get("/admin/partners").get_data(as_text=True)
    return issued_by_b


def post_bundle(server, token, body):
    return partner_http.post(server.origin, "/api/v1/bundles", token, body, "application/zip")


def run_portal(database_url, instance_dir, *args, stdin=None):
    import os
    # The partner is a server on 127.0.0.1: allowed in development only.
    env = dict(os.environ, PORTAL_DATABASE_URL=database_url, PORTAL_INSTANCE_PATH=str(instance_dir),
               PORTAL_ENV="development", PORTAL_ALLOW_LOOPBACK_PARTNERS="1")
    return subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True, timeout=120, input=stdin)


def test_a_mandatory_forward_waits_for_the_partner_is_delivered_acknowledged_and_reviewed(
        two_instances, facility_ids, tmp_path):
    world = two_instances
    app_a, app_b, server_b = world["a"], world["b"], world["server_b"]

    # --- The administrators register each other. -----------------------------
    issued_by_b = partner_each_other(world)

    # --- A worker reports suspected forced labour, with contact details. -----
    worker = app_a.test_client()
    receipt = receipt_on(send_report(worker, facility_ids[0], lang="vi", categories=["forced_labour"],
                                     description="Họ giữ hộ chiếu của chúng tôi.",
                                     contact="Zalo 0912 345 678", consent="without_identity"))
    with world["sessions_a"]() as session:
        case = session.scalars(select(Case)).one()
        case_id, reference = case.id, case.reference
        assert case.mandatory_notification

    # --- Electronics Watch's portal is down; Anna prepares the forward. ------
    server_b.stop()
    anna = app_a.test_client()
    assert log_in(anna, "anna").status_code == 303
    case_page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert "Must be forwarded" in case_page
    form = anna.get(f"/inbox/cases/{case_id}/forward?mandatory=1")
    shown = form.get_data(as_text=True)
    assert "Left out" in shown and "contact details</li>" in shown  # what stays out, said before sending
    # The partner's id is what the database handed out: on PostgreSQL, earlier tests' partners took numbers.
    partner_id = re.search(r'<option value="(\d+)">Electronics Watch', shown).group(1)
    sent = anna.post(f"/inbox/cases/{case_id}/forward", data={
        "csrf_token": csrf_token(form), "partner": partner_id, "report": "y",
        "cover_note": "Suspected forced labour: passports withheld."})
    assert sent.status_code == 303
    with world["sessions_a"]() as session:
        forward = session.scalars(select(Forward)).one()
        assert forward.state == "pending" and forward.last_error.startswith("unreachable")
        assert session.get(Case, case_id).mandatory_notified_on is None
        bundle_bytes = forward.bundle
    assert b"0912 345 678" not in bundle_bytes and "Họ giữ".encode() not in bundle_bytes

    # --- It comes back up; the delivery job delivers the waiting bundle. -----
    server_b.start()
    delivered = run_portal(app_a.config["DATABASE_URL"], world["dir_a"], "forwards", "send", "--now")
    assert delivered.returncode == 0 and "delivered 1" in delivered.stdout, delivered.stderr
    with world["sessions_a"]() as session:
        forward = session.scalars(select(Forward)).one()
        assert forward.state == "delivered" and forward.delivered_at is not None
        assert session.get(Case, case_id).mandatory_notified_on == clock.today()

    # --- Max, the monitor, opens it with his own key and reviews it. ----------
    max_client = app_b.test_client()
    assert log_in(max_client, "max").status_code == 303
    listing = max_client.get("/inbox/").get_data(as_text=True)
    with world["sessions_b"]() as session:
        received = session.scalars(select(ReceivedBundle)).one()
        forwarded_id = received.case_id
    assert f"/inbox/cases/{forwarded_id}" in listing
    opened = max_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
    assert "Họ giữ hộ chiếu của chúng tôi." in opened and "Northlight contractor" in opened
    assert reference in opened and "Suspected forced labour: passports withheld." in opened
    assert "0912 345 678" not in opened
    for status in ("acknowledged", "under_review"):
        page = max_client.get(f"/inbox/cases/{forwarded_id}")
        answer = max_client.post(f"/inbox/cases/{forwarded_id}/remote-status",
                                 data={"csrf_token": csrf_token(page), "status": status})
        assert answer.status_code == 303
    with world["sessions_a"]() as session:
        forward = session.scalars(select(Forward)).one()
        assert (forward.state, forward.remote_status) == ("acknowledged", "under_review")
    sender_view = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert "Acknowledged by the partner" in sender_view and "Under review" in sender_view

    # --- The worker is told, with the scope. -----------------------------------
    assert log_in_with_receipt(worker, receipt, lang="en").status_code == 303
    assert "without your name or contact details" in worker.get("/en/case").get_data(as_text=True)

    # --- Replayed, tampered and foreign bundles are refused; nothing is stored.
    replay = post_bundle(server_b, issued_by_b, bundle_bytes)
    assert replay.status == 409 and replay.json()["error"] == "duplicate"
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle_bytes)) as original, zipfile.ZipFile(tampered, "w") as changed:
        for name in original.namelist():
            data = original.read(name)
            if name.startswith("items/"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            changed.writestr(name, data)
    answer = post_bundle(server_b, issued_by_b, tampered.getvalue())
    assert answer.status == 400 and answer.json()["error"] == "contents"
    stranger = Ed25519PrivateKey.generate()
    with zipfile.ZipFile(io.BytesIO(bundle_bytes)) as original:
        manifest = json.loads(original.read("manifest.json"))
        members = {name: original.read(name) for name in original.namelist()}
    from cryptography.hazmat.primitives import serialization
    stranger_key = stranger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    manifest["sender"]["fingerprint"] = signing.fingerprint(stranger_key)
    manifest["bundle_id"] = str(uuid.uuid4())
    members["manifest.json"] = signing.canonical(manifest)
    members["manifest.sig"] = stranger.sign(members["manifest.json"])
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    answer = post_bundle(server_b, issued_by_b, foreign.getvalue())
    assert answer.status == 400 and answer.json()["error"] == "signature"
    assert post_bundle(server_b, "not-a-token", bundle_bytes).status == 401
    foreign_file = tmp_path / "foreign.zip"
    foreign_file.write_bytes(foreign.getvalue())
    refused = run_portal(world["monitor_db"], tmp_path / "b", "forwards", "import", str(foreign_file))
    assert refused.returncode != 0 and "unknown_sender" in refused.stderr
    with world["sessions_b"]() as session:
        assert session.scalar(select(func.count()).select_from(ReceivedBundle)) == 1
        assert session.scalar(select(func.count()).select_from(Case)) == 1

    # --- Offline: the downloaded bundle's report opens with the age tool. ------
    download = anna.get(f"/inbox/forwards/{forward.id}/bundle")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    age = shutil.which("age")
    if age is None:
        pytest.fail("the Debian package `age` is needed to open the offline bundle") if _in_ci() else \
            pytest.skip("install the Debian package `age` to open the offline bundle")
    key_file = tmp_path / "max.key"
    key_file.write_text(str(world["max_identity"]) + "\n")
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        report_name = next(n for n in archive.namelist() if n.endswith("-report.age"))
        (tmp_path / "report.age").write_bytes(archive.read(report_name))
    opened = subprocess.run([age, "-d", "-i", str(key_file), str(tmp_path / "report.age")],
                            capture_output=True, timeout=60)
    assert opened.returncode == 0, opened.stderr
    report = json.loads(opened.stdout)
    assert report["description"] == "Họ giữ hộ chiếu của chúng tôi." and "contact" not in report
    imported = run_portal(world["monitor_db"], tmp_path / "b", "forwards", "import", str(_saved(tmp_path, download.data)))
    assert imported.returncode == 0 and "already filed" in imported.stdout


def _saved(tmp_path, data):
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    return path


def _in_ci():
    import os
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def offered_choices(page) -> set[str]:
    return set(re.findall(r'name="recipient_choice" type="radio" value="(\w+)"', page.get_data(as_text=True)))


def test_a_report_for_electronics_watch_only_goes_to_its_own_instance_and_nobody_else_can_read_it(
        two_instances, facility_ids, investigators, recovery_identity):
    world = two_instances
    app_a, server_b = world["a"], world["server_b"]
    # The contractor has no monitor account: until it knows Electronics Watch's instance,
    # "Electronics Watch only" (and "both") is not offered.
    assert offered_choices(app_a.test_client().get("/vi/report")) == {"contractor"}
    partner_each_other(world)
    assert offered_choices(app_a.test_client().get("/ms/report")) == {"contractor", "monitor", "both"}

    # A worker in Malaysia sends to Electronics Watch only, without their contact details.
    worker = app_a.test_client()
    receipt = receipt_on(send_report(worker, facility_ids[1], lang="ms", recipient_choice="monitor",
                                     consent="without_identity", description="Hanya untuk Electronics Watch.",
                                     contact="WhatsApp 012 345 6789"))
    with world["sessions_a"]() as session:
        case = session.scalars(select(Case)).one()
        case_id = case.id
        assert case.recipient_choice == "monitor" and case.keyholders == []
        forward = session.scalars(select(Forward)).one()
        assert (forward.state, forward.created_by, forward.scope) == ("delivered", None, "without_identity")
        # Nothing stored here opens for the contractor: not its investigators, not its recovery key.
        contractor_keys = [recovery_identity] + [identity for _user, identity in investigators.values()]
        for item in case.items:
            for identity in contractor_keys:
                with pytest.raises(crypto.NoIdentityError):
                    crypto.decrypt(item.blob, identity)
        assert b"Hanya untuk" not in forward.bundle and b"012 345" not in forward.bundle
    # Forwarded as it arrived: neither instance keeps a time finer than the day beside the case.
    for sessions in (world["sessions_a"], world["sessions_b"]):
        found, _staff_times = fine_times_tied_to_a_case_or_a_reporter(sessions.kw["bind"])
        assert found == []
        assert session.scalar(select(func.count()).select_from(RoutingAlert)) == 0

    # Max, at Electronics Watch, reads it with his own key; the contact details stayed out.
    max_client = world["b"].test_client()
    assert log_in(max_client, "max").status_code == 303
    with world["sessions_b"]() as session:
        filed = session.scalars(select(ReceivedBundle)).one().case_id
    opened = max_client.get(f"/inbox/cases/{filed}").get_data(as_text=True)
    assert "Hanya untuk Electronics Watch." in opened and "012 345" not in opened
    # Electronics Watch acknowledges it: the contractor's deadline for the case is met.
    page = max_client.get(f"/inbox/cases/{filed}")
    assert max_client.post(f"/inbox/cases/{filed}/remote-status", data={
        "csrf_token": csrf_token(page), "status": "acknowledged"}).status_code == 303
    with world["sessions_a"]() as session:
        assert session.get(Case, case_id).acknowledged_on == clock.today()
    # The worker reads their own report with the receipt and is told it was shared.
    assert log_in_with_receipt(worker, receipt, lang="en").status_code == 303
    own = worker.get("/en/case").get_data(as_text=True)
    assert "Hanya untuk Electronics Watch." in own and "without your name or contact details" in own
    # What the worker adds later is not readable by the contractor either.
    page = worker.get("/en/case")
    assert worker.post("/en/case", data={"csrf_token": csrf_token(page), "message": "Satu lagi perkara."},
                       content_type="multipart/form-data").status_code == 303
    with world["sessions_a"]() as session:
        added = session.get(Case, case_id).items[-1]
        assert added.kind == "message"
        for identity in contractor_keys:
            with pytest.raises(crypto.NoIdentityError):
                crypto.decrypt(added.blob, identity)
    # ... but Electronics Watch reads it, on the case it received before.
    assert "Satu lagi perkara." in max_client.get(f"/inbox/cases/{filed}").get_data(as_text=True)
    with world["sessions_b"]() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1

    # Max answers the worker: the answer travels back to the contractor's portal, where the worker
    # reads it with the receipt and nobody at the contractor can.
    page = max_client.get(f"/inbox/cases/{filed}")
    assert "Write to the worker" in page.get_data(as_text=True)
    assert max_client.post(f"/inbox/cases/{filed}/answer-worker", data={
        "csrf_token": csrf_token(page), "text": "Terima kasih. Kami sedang menyemak."}).status_code == 303
    assert "Terima kasih. Kami sedang menyemak." in max_client.get(f"/inbox/cases/{filed}").get_data(as_text=True)
    own = worker.get("/en/case").get_data(as_text=True)
    assert "Terima kasih. Kami sedang menyemak." in own and "Electronics Watch ·" in own
    with world["sessions_a"]() as session:
        answer = session.get(Case, case_id).items[-1]
        assert answer.author == "handler"
        for identity in contractor_keys:
            with pytest.raises(crypto.NoIdentityError):
                crypto.decrypt(answer.blob, identity)

    # A partner that lies: an "answer" that is no age file is refused and nothing is stored; one the
    # worker's key does not open is filed (nobody here can tell) but never breaks the worker's page.
    with world["sessions_b"]() as session:
        received = session.scalars(select(ReceivedBundle).where(ReceivedBundle.case_id == filed)
                                   .order_by(ReceivedBundle.id)).first()
        to_a = session.scalars(select(Partner)).one()
        monitor = session.scalars(select(User).where(User.username == "max")).one()
        stranger = str(crypto.generate_identity().recipient)

        def lying_answer(data):
            made = outbound.store(session, monitor, session.get(Case, filed), to_a, "without_identity", [stranger],
                                  [bundles.Item("items/01-message.age", "message", data, {"author": "monitor"})],
                                  {"fields": []}, links={"reply_to": received.bundle_id}).bundle
            session.rollback()
            return made

        garbage = lying_answer(b"not an age file at all")
        wrong_key = lying_answer(crypto.encrypt(b"Datang ke pejabat esok.", [stranger]))
    with world["sessions_a"]() as session:
        from_b = session.scalars(select(Partner)).one()
        before = len(session.get(Case, case_id).items)
        with pytest.raises(bundles.BundleError):
            forwarding.receive(session, from_b, garbage)
        session.rollback()
        assert len(session.get(Case, case_id).items) == before
        forwarding.receive(session, from_b, wrong_key)
    own = worker.get("/en/case")
    assert own.status_code == 200 and "Terima kasih. Kami sedang menyemak." in own.get_data(as_text=True)

    # The worker is dismissed and says so from the follow-up page: the claim follows the report to
    # Electronics Watch's instance at once, and nobody at the contractor can read it.
    form = worker.get("/en/case/claim")
    assert form.status_code == 200 and "Nobody can receive" not in form.get_data(as_text=True)
    submission = re.search(r'name="submission" type="hidden" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    claimed = worker.post("/en/case/claim", data={
        "csrf_token": csrf_token(form), "submission": submission, "types": ["dismissal"],
        "description": "Dipecat selepas laporan.", "by_whom": "Penyelia syif malam"},
        content_type="multipart/form-data")
    assert claimed.status_code == 303, claimed.get_data(as_text=True)[:2000]
    with world["sessions_a"]() as session:
        claim = session.scalars(select(Case).where(Case.kind == "retaliation")).one()
        assert claim.related_case_id == case_id and claim.keyholders == []
        claim_forward = session.scalars(select(Forward).where(Forward.case_id == claim.id)).one()
        assert (claim_forward.state, claim_forward.created_by, claim_forward.scope) == (
            "delivered", None, "without_identity")
        for item in claim.items:
            for identity in contractor_keys:
                with pytest.raises(crypto.NoIdentityError):
                    crypto.decrypt(item.blob, identity)
        assert keyring.recovery_only_cases(session) == []
    with world["sessions_b"]() as session:
        filed_claim = session.scalars(select(Case).where(Case.related_case_id == filed)).one().id
    opened = max_client.get(f"/inbox/cases/{filed_claim}").get_data(as_text=True)
    assert "Dipecat selepas laporan." in opened and "Penyelia syif malam" in opened
    assert f'href="/inbox/cases/{filed}"' in opened, "the claim points at the report it is about"
    for sessions in (world["sessions_a"], world["sessions_b"]):
        assert fine_times_tied_to_a_case_or_a_reporter(sessions.kw["bind"])[0] == [], sessions

    # Electronics Watch's portal is down: the worker still gets a receipt; the forward waits for the job.
    server_b.stop()
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], lang="vi", recipient_choice="monitor",
                                  consent="with_identity", description="Gửi riêng cho Electronics Watch."))
    with world["sessions_a"]() as session:
        waiting = session.scalars(select(Forward).where(Forward.state == "pending")).one()
        assert waiting.last_error.startswith("unreachable") and waiting.created_by is None
    server_b.start()
    delivered = run_portal(app_a.config["DATABASE_URL"], world["dir_a"], "forwards", "send", "--now")
    assert delivered.returncode == 0 and "delivered 1" in delivered.stdout, delivered.stderr
    with world["sessions_b"]() as session:
        assert session.scalar(select(func.count()).select_from(ReceivedBundle)) == 4  # report, message, claim, report (and at A: the answer)

    # "Both": the contractor's investigators hold the case, and Electronics Watch has it at once.
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], lang="vi", recipient_choice="both",
                                  description="Gửi cho cả hai."))
    with world["sessions_a"]() as session:
        both = session.scalars(select(Case).where(Case.recipient_choice == "both")).one()
        assert sorted(u.username for u in keyring.holders_of(session, both)) == ["anna", "binh"]
        assert session.scalars(select(Forward).where(Forward.case_id == both.id)).one().state == "delivered"
    with world["sessions_b"]() as session:
        assert session.scalar(select(func.count()).select_from(ReceivedBundle)) == 5
        both_filed = session.scalars(select(ReceivedBundle).order_by(ReceivedBundle.id.desc())).first().case_id
    # The contractor's investigators answer a worker who chose both: Electronics Watch has no channel of its own.
    page = max_client.get(f"/inbox/cases/{both_filed}")
    assert page.status_code == 200 and "Write to the worker" not in page.get_data(as_text=True)
    assert max_client.post(f"/inbox/cases/{both_filed}/answer-worker", data={
        "csrf_token": csrf_token(page), "text": "Hello"}).status_code == 404


def test_the_offline_decryption_of_docs_forwarding_works_as_written(app, facility_ids, monitor_database_url,
                                                                     tmp_path):
    """Electronics Watch's instance is made with `portal init --classic-keys` (for Debian's age 1.1),
    which writes its recovery key file; the contractor forwards a case to it and downloads the
    bundle; on an offline machine with both files, the steps of docs/forwarding.md, run as the
    page shows them, give back what the worker wrote."""
    age = shutil.which("age")
    if age is None or shutil.which("unzip") is None:
        message = "the Debian packages `age` and `unzip` are needed to follow the offline steps"
        pytest.fail(message) if _in_ci() else pytest.skip(message)
    recovery_key = tmp_path / "usb" / "recovery-key.txt"
    dir_b = tmp_path / "b"
    made = run_portal(monitor_database_url, dir_b, "init", "--classic-keys", "--organisation", "Electronics Watch",
                      "--recovery-key-file", str(recovery_key))
    assert made.returncode == 0, made.stderr
    monitor_engine = make_engine(monitor_database_url)
    with make_session_factory(monitor_engine)() as session:
        users.create(session, "max", "Max Monitor", "monitor", passphrase_of("max"), work_factor=10,
                     totp_secret=totp_secret_of("max"))
    monitor_engine.dispose()
    server_b = Server(monitor_database_url, dir_b, tmp_path / "b.log", workers=1).start()
    try:
        with app.extensions["portal.sessions"]() as session:
            users.create(session, "root", "Root", "administrator", passphrase_of("root"), work_factor=10,
                         totp_secret=totp_secret_of("root"))
        root = app.test_client()
        assert log_in(root, "root").status_code == 303
        register(root, "Electronics Watch", server_b)
    finally:
        server_b.stop()

    worker = app.test_client()
    send_report(worker, facility_ids[0], categories=["forced_labour"],
                description="They keep our passports in the office safe.")
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalars(select(Case.id)).one()
        partner_id = session.scalars(select(Partner.id)).one()
    form = anna.get(f"/inbox/cases/{case_id}/forward")
    sent = anna.post(f"/inbox/cases/{case_id}/forward", data={
        "csrf_token": csrf_token(form), "partner": str(partner_id), "report": "y", "cover_note": "Passports."})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    with app.extensions["portal.sessions"]() as session:
        forward_id = session.scalars(select(Forward.id)).one()
    download = anna.get(f"/inbox/forwards/{forward_id}/bundle")
    file_name = re.search(r'filename="([^"]+)"', download.headers["Content-Disposition"]).group(1)

    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / file_name).write_bytes(download.data)
    shutil.copy(recovery_key, offline / "recovery-key.txt")
    section = (ROOT / "docs" / "forwarding.md").read_text().split("## Offline", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    (steps,) = [block for block in blocks if "age -d" in block]
    assert re.search(r"bundle-[0-9a-f-]+\.zip", steps), "the page names the downloaded file as the portal does"
    for step in steps.strip().splitlines():
        step = re.sub(r"bundle-[0-9a-f-]+\.zip", file_name, step)
        done = subprocess.run(["sh", "-c", step], cwd=offline, env={"PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{step}\n{done.stderr}"
    report = json.loads((offline / "report.json").read_text(encoding="utf-8"))
    assert report["description"] == "They keep our passports in the office safe."


def test_a_forwarded_file_shows_the_same_evidence_record_at_electronics_watch(two_instances, facility_ids):
    """A photo sent to Electronics Watch only, and a PDF an investigator forwards: Max sees the type,
    pages, SHA-256 and cleaning the sender's portal recorded, and previews them. A bundle from an
    older portal, without records, still files and its files still download."""
    from test_evidence_files import files_on, image_with_metadata, pdf_of, step_words

    from portal.services import bundles

    world = two_instances
    app_a, app_b = world["a"], world["b"]
    issued_by_b = partner_each_other(world)
    photo, payslips = image_with_metadata("JPEG"), pdf_of(2)

    # A worker sends a photo to Electronics Watch only: it is forwarded as it is stored.
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], recipient_choice="monitor",
                                  files={"photo": [(io.BytesIO(photo), "IMG_0042.jpg")]}))
    # Another sends pay slips to the contractor; Anna forwards them, without the worker's identity.
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], consent="without_identity",
                                  files={"files": [(io.BytesIO(payslips), "payslips.pdf")]}))
    with world["sessions_a"]() as session:
        case_id = session.scalars(select(Case).where(Case.recipient_choice == "contractor")).one().id
    anna = app_a.test_client()
    assert log_in(anna, "anna").status_code == 303
    [sent_pdf] = files_on(anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True))
    form = anna.get(f"/inbox/cases/{case_id}/forward")
    shown = form.get_data(as_text=True)
    assert "metadata" not in shown  # no file is held back for its metadata
    partner_id = re.search(r'<option value="(\d+)">Electronics Watch', shown).group(1)
    assert anna.post(f"/inbox/cases/{case_id}/forward", data={
        "csrf_token": csrf_token(form), "partner": partner_id, "report": "y",
        "attachments": [str(sent_pdf["id"])]}).status_code == 303
    with world["sessions_a"]() as session:
        forwards = {f.case_id: f for f in session.scalars(select(Forward))}
        assert [f.state for f in forwards.values()] == ["delivered", "delivered"]
        sent_bundle = forwards[case_id].bundle
    # The record travels encrypted: its digest of the cleaned file is nowhere in clear.
    assert sent_pdf["sha256"].encode() not in sent_bundle
    with zipfile.ZipFile(io.BytesIO(sent_bundle)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [e["kind"] for e in manifest["contents"]] == ["report", "attachment", "evidence_record"]
    assert all("metadata_removed" not in e for e in manifest["contents"])

    # Max, at Electronics Watch, sees the same record for each, and the previews.
    with world["sessions_b"]() as session:
        filed = {r.bundle_id: r.case_id for r in session.scalars(select(ReceivedBundle))}
    max_client = app_b.test_client()
    assert log_in(max_client, "max").status_code == 303
    at_monitor = {}
    for sender_case, forward in forwards.items():
        [at_monitor[sender_case]] = files_on(max_client.get(f"/inbox/cases/{filed[forward.bundle_id]}")
                                             .get_data(as_text=True))
    received_photo = next(f for c, f in at_monitor.items() if c != case_id)
    received_pdf = at_monitor[case_id]
    with app_b.test_request_context():
        assert "What cleaning did: " + ", ".join(step_words(photo)) + "." in received_photo["text"]
        assert "What cleaning did: " + ", ".join(step_words(payslips)) + "." in received_pdf["text"]
    assert received_pdf["sha256"] == sent_pdf["sha256"] and "2 pages" in received_pdf["text"]
    for received in (received_photo, received_pdf):
        download = max_client.get(received["url"])
        assert hashlib.sha256(download.data).hexdigest() == received["sha256"]
    preview = max_client.get(received_photo["url"] + "/preview")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert max_client.get(received_pdf["url"] + "/pages/2").mimetype == "image/png"

    # A portal from before evidence records sends the same file without one: filed, shown, downloadable.
    with zipfile.ZipFile(io.BytesIO(sent_bundle)) as archive:
        items = [bundles.Item(e["file"], e["kind"], archive.read(e["file"]),
                              {k: v for k, v in e.items() if k not in ("file", "kind", "sha256", "size")})
                 for e in manifest["contents"] if e["kind"] != "evidence_record"]
    older = {k: v for k, v in manifest.items() if k not in ("contents", "format")}
    older["bundle_id"] = str(uuid.uuid4())
    for item in items:
        if item.kind == "attachment":
            item.meta["metadata_removed"] = True  # what such a portal wrote
    with world["sessions_a"]() as session:
        older_bundle = bundles.build(session, older, items)
    assert post_bundle(world["server_b"], issued_by_b, older_bundle).status in (200, 201)
    with world["sessions_b"]() as session:
        older_case = session.scalar(select(ReceivedBundle.case_id).where(
            ReceivedBundle.bundle_id == older["bundle_id"]))
    page = max_client.get(f"/inbox/cases/{older_case}").get_data(as_text=True)
    assert "Received from the partner, whose portal sent no cleaning record." in page
    link = re.search(r'href="(/inbox/cases/\d+/files/\d+)">File 1</a> · application/pdf', page).group(1)
    download = max_client.get(link)
    assert download.status_code == 200 and hashlib.sha256(download.data).hexdigest() == sent_pdf["sha256"]
    assert max_client.get(link + "/pages/1").status_code == 404


def _exchange(client, case_id, kind, text="", dates="", answers="", files=()):
    page = client.get(f"/inbox/cases/{case_id}")
    data = {"csrf_token": csrf_token(page), "kind": kind, "text": text, "dates": dates, "answers": answers}
    if files:
        data["files"] = [(io.BytesIO(body), name) for name, body in files]
    return client.post(f"/inbox/cases/{case_id}/exchange", data=data)


def _resigned(bundle: bytes, key, **changes) -> bytes:
    """``bundle`` with its manifest changed and signed again by ``key`` (an Ed25519 private key)."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as original:
        members = {name: original.read(name) for name in original.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest.update(changes)
    members["manifest.json"] = signing.canonical(manifest)
    members["manifest.sig"] = key.sign(members["manifest.json"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_the_contractor_and_electronics_watch_exchange_messages_requests_and_documents_in_order(
        two_instances, facility_ids, tmp_path):
    """Anna forwards a case; Max, at Electronics Watch, sees the contractor's reference and the facility
    as disclosed, asks for information and for a site visit; Anna answers with a message and a
    document, which only the case's keyholders can open. Bundles that arrive out of order are filed in
    order, a replay is filed once, a renumbered copy and a forged one are refused. The e-mails say only
    that something is new. Mia joins Electronics Watch later and reads the case after the recovery
    key's holder runs `portal forwards rewrap`."""
    from test_evidence_files import pdf_of

    from portal.models import CaseItem, ExchangeBundle, Facility, OutboxEmail
    from portal.services import exchange

    world = two_instances
    app_a, app_b = world["a"], world["b"]
    issued_by_b = partner_each_other(world)
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], categories=["wages"],
                                  description="Overtime is not paid.", consent="without_identity"))
    with world["sessions_a"]() as session:
        case = session.scalars(select(Case)).one()
        case_id, reference = case.id, case.reference
        facility = session.get(Facility, facility_ids[0])
    anna = app_a.test_client()
    assert log_in(anna, "anna").status_code == 303
    form = anna.get(f"/inbox/cases/{case_id}/forward")
    partner_id = re.search(r'<option value="(\d+)">Electronics Watch', form.get_data(as_text=True)).group(1)
    assert anna.post(f"/inbox/cases/{case_id}/forward", data={
        "csrf_token": csrf_token(form), "partner": partner_id, "report": "y"}).status_code == 303
    with world["sessions_b"]() as session:
        forwarded_id = session.scalars(select(ReceivedBundle)).one().case_id

    # Max sees whose case it is: the contractor's reference, the facility from its registry.
    max_client = app_b.test_client()
    assert log_in(max_client, "max").status_code == 303
    listing = max_client.get("/inbox/").get_data(as_text=True)
    assert reference in listing and facility.name in listing
    opened = max_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
    assert reference in opened and facility.name in opened and facility.supplier in opened
    # Once he has opened it, nothing in it is unread: the case leaves the inbox's "unread" rank.
    assert 'class="need-unread' in listing
    assert 'class="need-unread' not in max_client.get("/inbox/").get_data(as_text=True)

    # He asks for information and a site visit.
    assert _exchange(max_client, forwarded_id, "information_request",
                     "Please send the overtime records of March.").status_code == 303
    assert _exchange(max_client, forwarded_id, "visit_request", "We would like to visit the line.",
                     dates="14 or 15 January, with an interpreter").status_code == 303
    with world["sessions_b"]() as session:
        sent = session.scalars(select(ExchangeBundle)).all()
        assert [r.state for r in sent] == ["delivered", "delivered"]
        # What travels is encrypted, and what each side keeps.
        assert all(b"overtime records" not in row.bundle for row in sent)
    for sessions in (world["sessions_a"], world["sessions_b"]):
        with sessions() as session:
            assert b"overtime records" not in b"".join(i.blob for i in session.scalars(select(CaseItem)))
    seen = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    asked = seen.index("Please send the overtime records of March.")
    assert asked < seen.index("We would like to visit the line.") and "14 or 15 January" in seen
    assert 'value="visit_request"' not in seen  # a contractor requests no visit of itself

    # Anna answers the request, with the records.
    records = pdf_of(1)
    assert _exchange(anna, case_id, "message", "The records are attached.", answers="1",
                     files=[("overtime.pdf", records)]).status_code == 303
    answer = max_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
    assert "The records are attached." in answer and "in answer to request 1" in answer
    link = re.search(r'href="(/inbox/cases/\d+/exchange/files/\d+)"', answer).group(1)
    download = max_client.get(link)
    assert download.status_code == 200 and download.data.startswith(b"%PDF")

    # Electronics Watch is down; two more messages wait, and the second arrives first: it is held.
    world["server_b"].stop()
    for text in ("Second: the payroll office is closed on Fridays.", "Third: we will call you on Monday."):
        assert _exchange(anna, case_id, "message", text).status_code == 303
    world["server_b"].start()
    with world["sessions_a"]() as session:
        second, third = session.scalars(select(ExchangeBundle).where(ExchangeBundle.state == "pending")
                                        .order_by(ExchangeBundle.sequence)).all()
        assert exchange.deliver(session, third)
        page = max_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
        assert "Third:" not in page and "1 bundle arrived before an earlier one" in page
        assert exchange.deliver(session, second)
        third_bundle, third_manifest = third.bundle, bundles.read_manifest(third.bundle)
    page = max_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
    assert asked and page.index("The records are attached.") < page.index("Second:") < page.index("Third:")

    # A replay is filed once; the same number under a new id, or another key's signature, is refused.
    replay = post_bundle(world["server_b"], issued_by_b, third_bundle)
    assert replay.status == 409 and replay.json()["error"] == "duplicate"
    with world["sessions_a"]() as session:
        own_key = Ed25519PrivateKey.from_private_bytes(instance_service.signing_key(session))
    renumbered = _resigned(third_bundle, own_key, bundle_id=str(uuid.uuid4()))
    answer = post_bundle(world["server_b"], issued_by_b, renumbered)
    assert answer.status == 409 and answer.json()["error"] == "sequence"
    forged = _resigned(third_bundle, Ed25519PrivateKey.generate(), bundle_id=str(uuid.uuid4()),
                       exchange=dict(third_manifest["exchange"], sequence=9))
    answer = post_bundle(world["server_b"], issued_by_b, forged)
    assert answer.status == 400 and answer.json()["error"] == "signature"
    # Nor can the contractor ask Electronics Watch for a site visit, even with its own signature.
    with zipfile.ZipFile(io.BytesIO(third_bundle)) as archive:
        item = archive.read("items/01-message.age")
    asking = {k: v for k, v in third_manifest.items() if k not in ("contents", "format")}
    asking.update(bundle_id=str(uuid.uuid4()), exchange=dict(third_manifest["exchange"], sequence=4))
    with world["sessions_a"]() as session:
        visit = bundles.build(session, asking, [bundles.Item("items/01-visit_request.age", "visit_request", item,
                                                             {"content_type": "application/json"})])
    answer = post_bundle(world["server_b"], issued_by_b, visit)
    assert answer.status == 400 and answer.json()["error"] == "contents"
    with world["sessions_b"]() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeBundle)) == 2 + 3

    # The e-mails on both sides name the case and nothing it says.
    for sessions in (world["sessions_a"], world["sessions_b"]):
        with sessions() as session:
            mails = session.scalars(select(OutboxEmail)).all()
            assert mails
            for mail in mails:
                assert not any(word in mail.body + mail.subject for word in (
                    "overtime", "Overtime", "visit", "records", "payroll", "Monday"))
    with world["sessions_b"]() as session:
        assert "max@electronicswatch.example" in {m.to_address for m in session.scalars(select(OutboxEmail))}
    for sessions in (world["sessions_a"], world["sessions_b"]):
        # Only the staff's own actions keep their time: nothing received says when it was written.
        # (Anna's forward, signed with the minute she made it, is hers: its bundle and manifest say so.)
        found = fine_times_tied_to_a_case_or_a_reporter(sessions.kw["bind"])[0]
        assert [entry for entry in found if entry[0] not in ("forwards", "received_bundles")
                or '"exchange":' in str(entry[2]).replace(" ", "")] == []

    # Mia joins Electronics Watch: she cannot open the case until the recovery key admits her.
    with world["sessions_b"]() as session:
        mia = users.create(session, "mia", "Mia Monitor", "monitor", passphrase_of("mia"), work_factor=10,
                           totp_secret=totp_secret_of("mia"))
        mia_identity = users.unlock_identity(mia, passphrase_of("mia"))
    mia_client = app_b.test_client()
    assert log_in(mia_client, "mia").status_code == 303
    assert mia_client.get(f"/inbox/cases/{forwarded_id}").status_code == 404
    key_text = str(world["monitor_recovery"]) + "\n"
    refused = run_portal(world["monitor_db"], tmp_path / "b", "forwards", "rewrap", "--recovery-key", "-",
                         stdin=str(world["max_identity"]) + "\n")
    assert refused.returncode != 0 and "not the recovery key" in refused.stderr
    done = run_portal(world["monitor_db"], tmp_path / "b", "forwards", "rewrap", "--recovery-key", "-",
                      stdin=key_text)
    assert done.returncode == 0 and "admitted 1 monitor keys to 1 forwarded cases" in done.stdout, done.stderr
    again = run_portal(world["monitor_db"], tmp_path / "b", "forwards", "rewrap", "--recovery-key", "-",
                       stdin=key_text)
    assert "admitted 0 monitor keys to 0 forwarded cases" in again.stdout
    page = mia_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
    assert "Overtime is not paid." in page and "Third: we will call you on Monday." in page
    age = shutil.which("age")
    if age is not None:
        with world["sessions_b"]() as session:
            report = session.scalars(select(CaseItem).where(CaseItem.case_id == forwarded_id,
                                                            CaseItem.kind == "report")).one()
            (tmp_path / "report.age").write_bytes(report.blob)
        (tmp_path / "mia.key").write_text(str(mia_identity) + "\n")
        opened = subprocess.run([age, "-d", "-i", str(tmp_path / "mia.key"), str(tmp_path / "report.age")],
                                capture_output=True, timeout=60)
        assert opened.returncode == 0 and "Overtime is not paid." in json.loads(opened.stdout)["description"]

    # A partner that lies (or breaks) cannot take the case page from the contractor's keyholders:
    # an item that looks like an age file but does not open says so, and the rest of the page stays.
    with world["sessions_b"]() as session:
        contractor = session.scalars(select(Partner)).one()
        token_of_b = contractor.outbound_token
        asked = session.scalars(select(ExchangeBundle).where(ExchangeBundle.direction == "sent")
                                .order_by(ExchangeBundle.sequence)).first()
        manifest = bundles.read_manifest(asked.bundle)
        with zipfile.ZipFile(io.BytesIO(asked.bundle)) as archive:
            sealed = archive.read("items/01-information_request.age")
        lying = {k: v for k, v in manifest.items() if k not in ("contents", "format")}

        def crafted(sequence, data):
            made = dict(lying, bundle_id=str(uuid.uuid4()), exchange=dict(manifest["exchange"], sequence=sequence,
                                                                          answers=None))
            return bundles.build(session, made, [bundles.Item("items/01-message.age", "message", data,
                                                              {"content_type": "text/plain; charset=utf-8"})])

        damaged = crafted(3, sealed[:-1] + bytes([sealed[-1] ^ 1]))
        # A number far ahead of what was filed would be held, stored, forever: refused whole.
        far_ahead = crafted(2**31 - 1, sealed)
        # Nor an item encrypted to none of the contractor's keys (or to holders of the day, before one
        # joined) stops its keyholders from handing the case on.
        to_strangers = crafted(4, crypto.encrypt(b"Not for you.", [crypto.generate_identity(pq=False).recipient]))
    assert post_bundle(world["server_a"], token_of_b, damaged).status == 201
    page = anna.get(f"/inbox/cases/{case_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "This entry cannot be opened: it is damaged" in text and "Please send the overtime records" in text
    answer = post_bundle(world["server_a"], token_of_b, far_ahead)
    assert answer.status == 409 and answer.json()["error"] == "sequence"
    with world["sessions_a"]() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeBundle).where(
            ExchangeBundle.direction == "received", ExchangeBundle.position.is_(None))) == 0
    # Binh declares a conflict of interest with the facility: the exchange no longer calls him to it.
    with world["sessions_a"]() as session:
        binh_id = session.scalars(select(User).where(User.username == "binh")).one().id
        conflicts.declare(session, None, binh_id, facility_id=facility_ids[0])
        mails_before = session.scalar(select(func.count()).select_from(OutboxEmail))
    assert post_bundle(world["server_a"], token_of_b, to_strangers).status == 201
    with world["sessions_a"]() as session:
        called = session.scalars(select(OutboxEmail.to_address).where(OutboxEmail.id > 0)
                                 .order_by(OutboxEmail.id).offset(mails_before)).all()
        assert called == ["anna@contractor.example"]
    page = anna.get(f"/inbox/cases/{case_id}")
    assert "Your key cannot open this yet" in page.get_data(as_text=True)
    removed = anna.post(f"/inbox/cases/{case_id}/keyholders/{binh_id}/remove", data={"csrf_token": csrf_token(page)})
    assert removed.status_code == 303
    binh = app_a.test_client()
    assert log_in(binh, "binh").status_code == 303
    assert binh.get(f"/inbox/cases/{case_id}").status_code in (403, 404)  # no key, and a conflict
    assert "Please send the overtime records" in anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)

    # Max takes Mia off the case; the next run of the tool, for a newcomer, does not put her back.
    with world["sessions_b"]() as session:
        mia_id = session.scalars(select(User).where(User.username == "mia")).one().id
    page = max_client.get(f"/inbox/cases/{forwarded_id}")
    assert max_client.post(f"/inbox/cases/{forwarded_id}/keyholders/{mia_id}/remove",
                           data={"csrf_token": csrf_token(page)}).status_code == 303
    again = run_portal(world["monitor_db"], tmp_path / "b", "forwards", "rewrap", "--recovery-key", "-",
                       stdin=key_text)
    assert "admitted 0 monitor keys to 0 forwarded cases" in again.stdout, again.stdout + again.stderr
    assert mia_client.get(f"/inbox/cases/{forwarded_id}").status_code == 404

    # Electronics Watch cannot pass off a message as the worker's by naming one of its own exchange
    # bundles, filed on the contractor's report, as the case it "adds to".
    with world["sessions_b"]() as session:
        to_anna = session.scalars(select(ExchangeBundle).where(ExchangeBundle.direction == "sent")
                                  .order_by(ExchangeBundle.sequence)).first()
        disguised = dict(lying, bundle_id=str(uuid.uuid4()), addition_to=to_anna.bundle_id)
        disguised.pop("exchange", None)
        forged_message = crypto.encrypt(b"I take back my report, it was a mistake.",
                                        [crypto.parse_recipient(r) for r in manifest.get("recipients", [])])
        disguise = bundles.build(session, disguised, [bundles.Item("items/01-message.age", "message", forged_message,
                                                                   {"author": "reporter"})])
    refused = post_bundle(world["server_a"], token_of_b, disguise)
    assert refused.status == 400 and refused.json()["error"] == "contents"
    with world["sessions_a"]() as session:
        assert session.scalars(select(CaseItem).where(CaseItem.case_id == case_id,
                                                      CaseItem.author == "reporter")).all()[-1].kind == "report"
    assert "I take back my report" not in anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)

def _post(client, path, **fields):
    page = client.get(re.match(r"/inbox/cases/\d+", path).group(0))
    return client.post(path, data={"csrf_token": csrf_token(page), **fields})


def _rebuilt(session, bundle: bytes, kind=None, **meta_changes) -> bytes:
    """``bundle``'s first item under a new bundle id and the next number, its manifest entry (and
    kind) changed, signed by the sender whose ``session`` this is."""
    manifest = bundles.read_manifest(bundle)
    entry = manifest["contents"][0]
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        data = archive.read(entry["file"])
    changed = {k: v for k, v in manifest.items() if k not in ("contents", "format")}
    changed.update(bundle_id=str(uuid.uuid4()),
                   exchange=dict(manifest["exchange"], sequence=manifest["exchange"]["sequence"] + 1))
    meta = {k: v for k, v in entry.items() if k not in ("file", "kind", "sha256", "size")}
    return bundles.build(session, changed, [bundles.Item(entry["file"], kind or entry["kind"], data,
                                                         dict(meta, **meta_changes))])


def test_electronics_watch_verifies_the_contractors_corrective_actions_and_the_worker_sees_it(
        two_instances, facility_ids):
    """Anna forwards a report; Max asks a question and requests a visit; Anna answers with the
    findings and the corrective action plan; Max verifies two actions and finds one not done; Anna
    reads his verdicts and comments, and the worker's follow-up page, in Vietnamese, the new states.
    A verdict naming another case's action, a replayed verdict and one signed by another key
    change nothing."""
    from flask_babel import force_locale
    from flask_babel import gettext as translated
    from test_evidence_files import pdf_of

    from portal.models import ActionStateChange, CorrectiveAction, ExchangeBundle, Finding
    from portal.services import exchange

    world = two_instances
    app_a, app_b = world["a"], world["b"]
    partner_each_other(world)
    worker = app_a.test_client()
    receipt = receipt_on(send_report(worker, facility_ids[0], lang="vi", description="Cửa thoát hiểm bị khóa.",
                                     consent="without_identity"))
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], description="Another case."))
    with world["sessions_a"]() as session:
        case_id, other_id = session.scalars(select(Case.id).order_by(Case.id)).all()
    anna = app_a.test_client()
    assert log_in(anna, "anna").status_code == 303
    form = anna.get(f"/inbox/cases/{case_id}/forward")
    partner_id = re.search(r'<option value="(\d+)">Electronics Watch', form.get_data(as_text=True)).group(1)
    assert anna.post(f"/inbox/cases/{case_id}/forward", data={
        "csrf_token": csrf_token(form), "partner": partner_id, "report": "y"}).status_code == 303
    with world["sessions_b"]() as session:
        forwarded_id = session.scalars(select(ReceivedBundle)).one().case_id
    max_client = app_b.test_client()
    assert log_in(max_client, "max").status_code == 303
    assert _exchange(max_client, forwarded_id, "information_request", "What did you find?").status_code == 303
    assert _exchange(max_client, forwarded_id, "visit_request", "We will visit.", dates="14 January").status_code == 303

    # Anna writes the finding, shared with the worker, and the plan: three actions, two done.
    assert _post(anna, f"/inbox/cases/{case_id}/findings", text="FINDING: exits locked at night",
                 found="Cửa bị khóa.", will_change="Cửa sẽ được mở.", shared="y").status_code == 303
    assert _post(anna, f"/inbox/cases/{other_id}/findings", text="OTHER CASE FINDING").status_code == 303
    with world["sessions_a"]() as session:
        finding_id, other_finding = session.scalars(select(Finding.id).order_by(Finding.id)).all()
    for description in ("ACTION-UNLOCK the exits", "ACTION-TRAIN the guards", "ACTION-POST the plan"):
        assert _post(anna, f"/inbox/cases/{case_id}/findings/{finding_id}/actions", description=description,
                     owner="OWNER-SAFETY", due_on="2030-01-31").status_code == 303
    assert _post(anna, f"/inbox/cases/{other_id}/findings/{other_finding}/actions",
                 description="OTHER ACTION").status_code == 303
    with world["sessions_a"]() as session:
        actions = session.scalars(select(CorrectiveAction).order_by(CorrectiveAction.id)).all()
        (unlock, train, post_plan, elsewhere) = [(a.id, a.reference) for a in actions]
    for action_id, _reference in (unlock, train):
        assert _post(anna, f"/inbox/cases/{case_id}/actions/{action_id}/state", state="done").status_code == 303

    assert _post(anna, f"/inbox/cases/{case_id}/actions/{unlock[0]}/evidence",
                 files=[(io.BytesIO(pdf_of(1)), "unlocked.pdf")]).status_code == 303

    # She answers Max's question with them, and the evidence.
    assert _post(anna, f"/inbox/cases/{case_id}/exchange/findings", answers="1", evidence="y").status_code == 303
    seen = max_client.get(f"/inbox/cases/{forwarded_id}").get_data(as_text=True)
    evidence_link = re.search(r'ACTION-UNLOCK the exits</bdi></span> · <a href="([^"]+)">Document 1</a>', seen)
    download = max_client.get(evidence_link.group(1))
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert "FINDING: exits locked at night" in seen and "OWNER-SAFETY" in seen and "in answer to request 1" in seen
    assert seen.count(">Done<") == 2 and seen.count(">Planned<") == 1 and "OTHER" not in seen
    assert seen.count('name="action"') == 3
    for html in (seen, anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)):
        parts = PageParts()
        parts.feed(html)
        assert len(set(parts.ids)) == len(parts.ids) and set(parts.label_targets) <= set(parts.ids)

    def verdict(reference, value, comment):
        return _post(max_client, f"/inbox/cases/{forwarded_id}/exchange/verdict", action=reference,
                     verdict=value, comment=comment)

    assert verdict(elsewhere[1], "verified", "not in the plan").status_code == 400
    assert verdict(unlock[1], "verified", "COMMENT: the exits were open on 14 January").status_code == 303
    # The contractor is down: the next two wait, and the last arrives first. It is held, then recorded in order.
    world["server_a"].stop()
    assert verdict(train[1], "verified", "COMMENT: the guards were trained").status_code == 303
    assert verdict(post_plan[1], "not_done", "COMMENT: no plan on the notice board").status_code == 303
    world["server_a"].start()
    with world["sessions_b"]() as session:
        second, third = session.scalars(select(ExchangeBundle).where(ExchangeBundle.state == "pending")
                                        .order_by(ExchangeBundle.sequence)).all()
        assert exchange.deliver(session, third)
        with world["sessions_a"]() as contractor:
            assert contractor.get(CorrectiveAction, post_plan[0]).state == "planned"
        assert exchange.deliver(session, second)
    with world["sessions_a"]() as session:
        states = {a.id: a.state for a in session.scalars(select(CorrectiveAction))}
        assert states == {unlock[0]: "verified", train[0]: "verified", post_plan[0]: "not_done",
                          elsewhere[0]: "planned"}
    page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert "COMMENT: no plan on the notice board" in page and "ACTION-POST the plan" in page
    assert "Verified by Electronics Watch" in page and "Not done, Electronics Watch found" in page

    # The worker reads the new states in Vietnamese.
    assert log_in_with_receipt(worker, receipt, lang="vi").status_code == 303
    followed = worker.get("/vi/case").get_data(as_text=True)
    with app_a.test_request_context(), force_locale("vi"):
        checked = translated("Done, and checked by Electronics Watch, the independent monitor")
        not_yet = translated("Not done yet: Electronics Watch, the independent monitor, checked")
    assert followed.count(checked) == 2 and followed.count(not_yet) == 1 and "COMMENT" not in followed

    # A verdict on another case's action, a replay and another key's signature change nothing.
    with world["sessions_b"]() as session:
        last = session.scalars(select(ExchangeBundle).where(ExchangeBundle.kind == "action_verdict")
                               .order_by(ExchangeBundle.sequence.desc())).first().bundle
        elsewhere_verdict = _rebuilt(session, last, action=elsewhere[1], verdict="not_done")
        unknown_verdict = _rebuilt(session, last, action=str(uuid.uuid4()), verdict="not_done")
        # Nor does the monitor send findings of its own.
        monitor_findings = _rebuilt(session, last, kind="findings")
    for hostile in (elsewhere_verdict, unknown_verdict, monitor_findings):
        answer = post_bundle(world["server_a"], world["issued_by_a"], hostile)
        assert answer.status == 400 and answer.json()["error"] == "contents"
    replay = post_bundle(world["server_a"], world["issued_by_a"], last)
    assert replay.status == 409 and replay.json()["error"] == "duplicate"
    forged = _resigned(last, Ed25519PrivateKey.generate(), bundle_id=str(uuid.uuid4()))
    answer = post_bundle(world["server_a"], world["issued_by_a"], forged)
    assert answer.status == 400 and answer.json()["error"] == "signature"
    with world["sessions_a"]() as session:
        assert session.get(CorrectiveAction, elsewhere[0]).state == "planned"
        assert session.scalar(select(func.count()).select_from(ActionStateChange).where(
            ActionStateChange.by_monitor.is_(True))) == 3
        assert session.scalar(select(func.count()).select_from(ExchangeBundle).where(
            ExchangeBundle.direction == "received")) == 2 + 3
