"""An operator installs the portal, initialises it and runs the demo."""

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

import crypto
from portal import config, create_app, migrate
from portal.db import Base, make_engine, make_session_factory
from portal.models import Instance, User
from portal.services import instance as instance_service
from portal.services import users

ROOT = Path(__file__).resolve().parents[2]
PORTAL = str(Path(sys.executable).with_name("portal"))


def run_portal(args, instance, database_url, extra_env=None):
    env = dict(os.environ, PORTAL_INSTANCE_PATH=str(instance), PORTAL_DATABASE_URL=database_url)
    env.update(extra_env or {})
    return subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True, timeout=300)


def test_settings_come_from_portal_environment_variables():
    settings = config.load(environ={"PORTAL_ACK_DAYS": "5", "PORTAL_LANGUAGES": "en,vi",
                                    "PORTAL_INSTANCE_PATH": "/srv/portal"})
    assert settings["ACK_DAYS"] == 5
    assert settings["LANGUAGES"] == ["en", "vi"]
    assert settings["DATABASE_URL"] == "sqlite:////srv/portal/portal.db"
    with pytest.raises(ValueError, match="PORTAL_ACK_DAYS"):
        config.load(environ={"PORTAL_ACK_DAYS": "seven"})


# Indexes on an expression: Alembic cannot compare them (PostgreSQL gives their SQL back in its
# own spelling), so the test checks that they exist by name.
EXPRESSION_INDEXES = {"cases": {"ix_cases_open_by_due"}}


def test_migrations_produce_exactly_the_schema_of_the_models(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)

    def comparable(item, name, kind, reflected, compare_to):
        return not (kind == "index" and any(name in names for names in EXPRESSION_INDEXES.values()))

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": comparable})
        assert compare_metadata(context, Base.metadata) == []
        # SQLAlchemy's inspector leaves expression indexes out on SQLite: ask the catalogue.
        catalogue = ("SELECT indexname FROM pg_indexes WHERE tablename = :table"
                     if connection.dialect.name == "postgresql"
                     else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table")
        for table, names in EXPRESSION_INDEXES.items():
            assert names <= set(connection.execute(text(catalogue), {"table": table}).scalars())
    engine.dispose()


def test_an_instance_with_cases_upgrades_from_the_first_migration(empty_database_url, tmp_path):
    migrate.upgrade(empty_database_url, "0001")
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO facilities (id, country, name, local_name, supplier, address, products, active) "
            "VALUES (1, 'MY', 'Plant', 'Plant', 'Supplier', 'Penang', 'boards', true)"))
        connection.execute(text(
            "INSERT INTO cases (id, received_on, status, facility_id, language, urgent, acknowledge_due, "
            "feedback_due, receipt_lookup, submission_digest, reporter_recipient) VALUES (1, '2026-01-05', "
            "'received', 1, 'vi', false, '2026-01-12', '2026-04-05', :lookup, :digest, 'age1pq1x')"),
            {"lookup": b"l" * 32, "digest": b"d" * 32})
    engine.dispose()
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT facility_id, recipient_choice FROM cases WHERE id = 1")).one()
        assert tuple(row) == (1, "contractor")
    engine.dispose()


def test_the_app_refuses_to_start_on_an_uninitialised_database(empty_database_url, tmp_path):
    migrate.upgrade(empty_database_url)
    with pytest.raises(instance_service.NotInitialised, match="portal init"):
        create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(tmp_path)})


def test_portal_init_writes_the_recovery_key_once_and_keeps_only_its_public_part(
    empty_database_url, tmp_path
):
    instance = tmp_path / "instance"
    result = run_portal(["init", "--organisation", "Acme Devices"], instance, empty_database_url)
    assert result.returncode == 0, result.stderr
    key_file = instance / "recovery-key.txt"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    recovery = crypto.parse_identities(key_file.read_text())[0]
    assert str(recovery).startswith("AGE-SECRET-KEY-PQ-1")
    engine = make_engine(empty_database_url)
    with make_session_factory(engine)() as session:
        row = session.get(Instance, 1)
        assert row.recovery_recipient == str(recovery.recipient)
        assert row.organisation_name == "Acme Devices"
    engine.dispose()
    again = run_portal(["init"], instance, empty_database_url)
    assert again.returncode != 0 and "already initialised" in again.stderr


def _instance_row(database_url):
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return session.get(Instance, 1)
    finally:
        engine.dispose()


@pytest.mark.parametrize("unwritable", ["a-file/recovery-key.txt", "a-file"])
def test_portal_init_whose_key_cannot_be_written_leaves_no_instance_and_can_run_again(
    empty_database_url, tmp_path, unwritable
):
    instance = tmp_path / "instance"
    (tmp_path / "a-file").write_text("in the way")
    # A path under a file, or a file already there: the key cannot be written (even as root).
    failed = run_portal(["init", "--recovery-key-file", str(tmp_path / unwritable)], instance, empty_database_url)
    assert failed.returncode != 0
    assert "Nothing was initialised" in failed.stderr or "refusing to overwrite" in failed.stderr
    assert "portal init" in failed.stderr, "the message says how to go on"
    assert _instance_row(empty_database_url) is None, "no instance encrypts cases to a key nobody has"
    assert (tmp_path / "a-file").read_text() == "in the way"

    good = tmp_path / "offline" / "recovery-key.txt"
    result = run_portal(["init", "--recovery-key-file", str(good)], instance, empty_database_url)
    assert result.returncode == 0, result.stderr
    recovery = crypto.parse_identities(good.read_text())[0]
    assert _instance_row(empty_database_url).recovery_recipient == str(recovery.recipient)


def test_portal_init_run_again_keeps_the_key_and_explains_how_to_start_again(empty_database_url, tmp_path):
    instance = tmp_path / "instance"
    assert run_portal(["init"], instance, empty_database_url).returncode == 0
    key_file = instance / "recovery-key.txt"
    written = key_file.read_text()
    key_file.unlink()  # taken offline, as the operator is told to
    again = run_portal(["init"], instance, empty_database_url)
    assert again.returncode != 0 and "already initialised" in again.stderr and "delete its database" in again.stderr
    assert not key_file.exists(), "no second key was written for an instance that has one"
    assert _instance_row(empty_database_url).recovery_recipient in written


@pytest.mark.slow
def test_portal_demo_prints_logins_with_their_roles_that_open_real_keys(empty_database_url, tmp_path):
    instance = tmp_path / "demo"
    result = run_portal(["demo", "--no-run"], instance, empty_database_url)
    assert result.returncode == 0, result.stderr
    usernames = ("anna", "binh", "rosa", "admin", "authority")
    logins = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in ([u] for u in usernames)]
    assert len(logins) == 5
    engine = make_engine(empty_database_url)
    with make_session_factory(engine)() as session:
        for username, role, passphrase, _totp in logins:
            user = session.query(User).filter_by(username=username).one()
            assert user.role == role
            identity = users.unlock_identity(user, passphrase)
            assert str(identity.recipient) == user.recipient
    engine.dispose()
    again = run_portal(["demo", "--no-run"], instance, empty_database_url)
    assert again.returncode == 0 and all(" ".join(login) in " ".join(again.stdout.split()) for login in logins)


def test_the_demos_totp_hint_run_as_printed_without_the_virtualenv_prints_the_current_code(
        empty_database_url, tmp_path):
    result = run_portal(["demo", "--no-run", "--host", "127.0.0.1", "--port", "8123"], tmp_path / "demo",
                        empty_database_url)
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:8123/inbox/" in result.stdout
    printed = result.stdout.splitlines()
    hint = printed[next(i for i, line in enumerate(printed) if line.startswith("A current TOTP code")) + 1]
    username = printed[next(i for i, line in enumerate(printed) if line.startswith("A current TOTP code"))].split()[5]
    secret = next(line.split()[-1] for line in printed if line.split()[:1] == [username])
    # A shell without the virtualenv on its PATH: the system's python has no pyotp.
    run = subprocess.run(["sh", "-c", hint.strip()], env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    code = run.stdout.strip()
    assert len(code) == 6 and code.isdigit()
    assert pyotp.TOTP(secret).verify(code, valid_window=1)


@pytest.mark.slow
def test_a_plain_pip_install_into_a_fresh_virtualenv_gives_a_working_portal(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("portal/templates/reporter/report.html", "portal/static/portal.css",
                     "portal/translations/vi/LC_MESSAGES/messages.mo", "portal/migrations/env.py",
                     "portal/migrations/versions/0001_initial_schema.py", "crypto/__init__.py"):
        assert required in names, required

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {"PATH": os.environ["PATH"], "PORTAL_INSTANCE_PATH": str(workdir / "instance"),
           "PORTAL_ENV": "development"}
    demo = subprocess.run([str(venv / "bin" / "portal"), "demo", "--no-run"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "from portal import create_app; c = create_app().test_client(); "
         "r = c.get('/vi/'); print(r.status_code, 'Gửi phản ánh' in r.get_data(as_text=True) or "
         "'phản ánh' in r.get_data(as_text=True)); print(c.get('/static/portal.css').status_code)"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == ["200", "True", "200"]


def test_workers_see_the_organisation_named_to_portal_init_not_the_settings_default(empty_database_url, tmp_path):
    instance = tmp_path / "instance"
    setting = {"PORTAL_ORGANISATION_NAME": "Name From The Environment"}
    result = run_portal(["init", "--organisation", "Acme Devices <Penang> & Co"], instance, empty_database_url,
                        setting)
    assert result.returncode == 0, result.stderr
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(instance),
                      "ORGANISATION_NAME": "Name From The Environment"})
    try:
        client = app.test_client()
        start = client.get("/en/").get_data(as_text=True)
        assert "Acme Devices &lt;Penang&gt; &amp; Co" in start
        assert "Name From The Environment" not in start
        login = client.get("/inbox/login").get_data(as_text=True)
        assert "Acme Devices &lt;Penang&gt; &amp; Co" in login and "Name From The Environment" not in login
    finally:
        app.extensions["portal.engine"].dispose()


def test_portal_init_without_an_organisation_stores_the_settings_name_and_workers_see_it(
        empty_database_url, tmp_path):
    instance = tmp_path / "instance"
    result = run_portal(["init"], instance, empty_database_url, {"PORTAL_ORGANISATION_NAME": "Example Contractor NV"})
    assert result.returncode == 0, result.stderr
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(instance)})
    try:
        assert "Example Contractor NV" in app.test_client().get("/en/").get_data(as_text=True)
    finally:
        app.extensions["portal.engine"].dispose()
