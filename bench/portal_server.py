"""The portal under gunicorn for the load benches (bench/load_test.py, bench/cleaning_load_bench.py).

``temporary_postgres(url)`` gives an empty database on the local PostgreSQL (dropped afterwards)
unless given one. ``prepare(url)`` migrates an empty database and gives it an instance (keys), one
investigator who receives new cases, and one facility. ``gunicorn(url, folder,
workers)`` serves it with ``deploy/gunicorn.conf.py`` on a free loopback port, the
instance folder in ``folder``, and stops it afterwards. Only 127.0.0.1 is used.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def temporary_postgres(database_url: str | None = None):
    """``database_url`` as given, or a new empty database on the local PostgreSQL, dropped afterwards."""
    if database_url:
        yield database_url
        return
    from sqlalchemy import create_engine, text

    name = f"portal_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(database_url: str) -> int:
    """Migrate and initialise an empty database with one facility and one investigator."""
    from portal import migrate
    from portal.db import make_engine, make_session_factory
    from portal.services import facilities, users
    from portal.services import instance as instance_service

    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        instance_service.initialise(session, "Load test contractor")
        users.create(session, "loadtester", "Load Tester", "investigator", "load test passphrase 1",
                     default_recipient=True, work_factor=10)
        facility = facilities.add(session, country="VN", name="Load Test Factory", local_name="Load Test Factory",
                                  supplier="Load", address="Bac Ninh")
        facility_id = facility.id
    engine.dispose()
    return facility_id


@contextmanager
def gunicorn(database_url: str, folder: Path, workers: int, settings: dict | None = None):
    """Serve the portal on a free loopback port; yield ``(origin, process)`` (the gunicorn master).

    ``settings`` are more ``PORTAL_*`` variables; none from this process's environment is passed on.
    The log is ``folder/gunicorn.log``, printed if the server does not start.
    """
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    environment.update(PORTAL_BIND=f"127.0.0.1:{port}", PORTAL_WORKERS=str(workers),
                       PORTAL_DATABASE_URL=database_url, PORTAL_INSTANCE_PATH=str(folder),
                       PORTAL_ENV="development", PORTAL_LOG_LEVEL="WARNING")
    environment.update(settings or {})
    log = (folder / "gunicorn.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                "portal.wsgi:app"], cwd=ROOT, env=environment, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{origin}/healthz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    print((folder / "gunicorn.log").read_text(), file=sys.stderr)
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        yield origin, process
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
