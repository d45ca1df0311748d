"""Fixtures shared by every test of the portal (tests/portal, tests/browser):
a real database (SQLite, or PostgreSQL when ``PORTAL_TEST_DATABASE_URL``
names one), real keys, real encryption.

Receipt hashing and passphrase sealing use lower work factors than
production so the suite stays fast; the code paths are the same. A test
passphrase's Argon2id hash is made once per run (see
``passphrase_hashes_made_once``).
"""

import importlib.util
import os
import uuid
from pathlib import Path

import pytest
from accounts import passphrase_of, totp_secret_of
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import migrate
from portal.db import Base, make_engine, make_session_factory
from portal.services import facilities, users
from portal.services import instance as instance_service

FAST = {
    "RECEIPT_ARGON2_TIME_COST": 1,
    "RECEIPT_ARGON2_MEMORY_KIB": 1024,
    "ENV": "development",
    # scrypt sealing a user's identity when they set a passphrase through the pages (activation, a
    # change): 2**10 as USER_WORK_FACTOR, not the 256 MiB of production, paid again at each log-in.
    "IDENTITY_WORK_FACTOR": 10,
    # The tests' partner portals are gunicorn servers on 127.0.0.1 (tests/live_server.py).
    "ALLOW_LOOPBACK_PARTNERS": 1,
}
USER_WORK_FACTOR = 10
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """The translations folder with every catalog freshly compiled.

    The build compiles catalogs; an edited .po must not leave a stale .mo behind.
    """
    folder = ROOT / "translations"
    spec = importlib.util.spec_from_file_location("build_hook", folder / "build_hook.py")
    build_hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_hook)
    build_hook.compile_catalogs(folder)
    return folder


class _HashOnceEach(PasswordHasher):
    """Production's Argon2id parameters (so checking a passphrase costs what it costs in use, and
    the log-in races and floods keep their timing), but each passphrase hashed once per run: the
    fixtures make the same users for every test, two hashes of ~0.25 s of CPU each time."""

    def __init__(self):
        super().__init__()
        self._made: dict = {}

    def hash(self, password, *, salt=None):
        if salt is not None:
            return super().hash(password, salt=salt)
        if password not in self._made:
            self._made[password] = super().hash(password)
        return self._made[password]


@pytest.fixture(scope="session", autouse=True)
def passphrase_hashes_made_once():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_HASHER", _HashOnceEach())
        yield


def _postgres_server_url():
    return os.environ.get("PORTAL_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """One migrated database for the whole run."""
    server = _postgres_server_url()
    if not server:
        path = tmp_path_factory.mktemp("db") / "portal.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    name = f"portal_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_database_url(tmp_path):
    """Another database, empty and unmigrated, beside the shared one (SQLite or PostgreSQL, as the run)."""
    server = _postgres_server_url()
    if not server:
        yield f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex[:6]}.db'}"
        return
    name = f"portal_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def instance_dir(tmp_path):
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def session_factory(database_url):
    """A clean, initialised database for each test."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        # Deleting the cases moved the statistics' running counts (triggers), wherever their
        # tables came in that order.
        for table in Base.metadata.sorted_tables:
            if table.name.startswith("statistics_"):
                connection.execute(table.delete())
    factory = make_session_factory(engine)
    yield factory
    engine.dispose()


@pytest.fixture
def recovery_identity(session_factory):
    with session_factory() as session:
        return instance_service.initialise(session, "Test contractor")


@pytest.fixture
def investigators(session_factory, recovery_identity):
    """Two investigators who receive every new case, with their unlocked identities.

    Their passphrases and TOTP secrets come from ``passphrase_of`` and ``totp_secret_of``.
    """
    people = {}
    with session_factory() as session:
        for username in ("anna", "binh"):
            user = users.create(session, username, username.title(), "investigator", passphrase_of(username),
                                default_recipient=True, work_factor=USER_WORK_FACTOR,
                                email=f"{username}@contractor.example", totp_secret=totp_secret_of(username))
            people[username] = (user, users.unlock_identity(user, passphrase_of(username)))
    return people


@pytest.fixture
def colleague(session_factory, recovery_identity):
    """An investigator who receives no new cases until one is handed to her."""
    with session_factory() as session:
        user = users.create(session, "chandra", "Chandra", "investigator", passphrase_of("chandra"),
                            work_factor=USER_WORK_FACTOR, totp_secret=totp_secret_of("chandra"))
        return user, users.unlock_identity(user, passphrase_of("chandra"))


@pytest.fixture
def facility_ids(session_factory, recovery_identity):
    with session_factory() as session:
        return [
            facilities.add(session, country="VN", name="Bac Ninh Display Co., Ltd",
                           local_name="Công ty TNHH Màn hình Bắc Ninh", supplier="Northlight",
                           address="Que Vo Industrial Park, Bac Ninh").id,
            facilities.add(session, country="MY", name="Penang Precision Electronics",
                           local_name="Penang Precision Electronics", supplier="Northlight",
                           address="Bayan Lepas, Penang").id,
        ]


@pytest.fixture
def app_config(database_url, instance_dir):
    """The settings an app gets in tests, as a dict of ``create_app`` overrides."""
    return dict(FAST, DATABASE_URL=database_url, INSTANCE_PATH=str(instance_dir))
