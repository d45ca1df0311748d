"""An operator backs up the instance, loses the server, and restores the backup
on a new, empty one: every case still opens for its keyholders, and the
worker's receipt still opens the follow-up page."""

import os
import subprocess

import pytest
from inbox_pages import log_in
from operator_steps import PORTAL
from reporter_pages import log_in_with_receipt, receipt_on, send_report
from sqlalchemy import func, select

import crypto
from portal import create_app
from portal.db import make_engine
from portal.models import Case, Instance

CANARY = "canary-backup-7f3a9c"


def portal_command(database_url, instance_dir, *args):
    env = dict(os.environ, PORTAL_DATABASE_URL=database_url, PORTAL_INSTANCE_PATH=str(instance_dir))
    return subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def recovery_key_file(tmp_path, recovery_identity):
    path = tmp_path / "recovery-key.txt"
    path.write_text(f"# recovery key\n{recovery_identity}\n", encoding="ascii")
    return path


def test_a_backup_restored_on_an_empty_instance_opens_every_case(
        app, client, facility_ids, tmp_path, recovery_key_file, empty_database_url, app_config):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi", description=f"Lương bị giữ lại. {CANARY}"))
    with app.extensions["portal.sessions"]() as session:
        case_id = session.scalars(select(Case.id)).one()

    backup_file = tmp_path / "portal.backup.age"
    made = portal_command(app.config["DATABASE_URL"], tmp_path, "backup", str(backup_file))
    assert made.returncode == 0, made.stderr
    data = backup_file.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")
    assert CANARY.encode() not in data and b"anna" not in data
    again = portal_command(app.config["DATABASE_URL"], tmp_path, "backup", str(backup_file))
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr

    # The server is lost; a new one restores the backup into an empty database.
    new_dir = tmp_path / "new-instance"
    restored = portal_command(empty_database_url, new_dir, "restore", str(backup_file),
                              "--recovery-key", str(recovery_key_file))
    assert restored.returncode == 0, restored.stderr
    twice = portal_command(empty_database_url, new_dir, "restore", str(backup_file),
                           "--recovery-key", str(recovery_key_file))
    assert twice.returncode != 0 and "not empty" in twice.stderr

    new_app = create_app(dict(app_config, DATABASE_URL=empty_database_url, INSTANCE_PATH=str(new_dir)))
    new_app.config["TESTING"] = True
    try:
        for username in ("anna", "binh"):
            keyholder = new_app.test_client()
            assert log_in(keyholder, username).status_code == 303
            page = keyholder.get(f"/inbox/cases/{case_id}")
            assert page.status_code == 200 and CANARY in page.get_data(as_text=True)
        worker = new_app.test_client()
        assert log_in_with_receipt(worker, receipt, lang="vi").status_code == 303
        assert CANARY in worker.get("/vi/case").get_data(as_text=True)
        # Routing's generation starts where no process can have kept views of it.
        with app.extensions["portal.sessions"]() as old, new_app.extensions["portal.sessions"]() as new:
            before = old.scalar(select(Instance.routing_generation))
            assert new.scalar(select(Instance.routing_generation)) > before
    finally:
        new_app.extensions["portal.engine"].dispose()


def test_a_backup_does_not_restore_without_the_recovery_key(app, tmp_path, empty_database_url):
    backup_file = tmp_path / "portal.backup.age"
    assert portal_command(app.config["DATABASE_URL"], tmp_path, "backup", str(backup_file)).returncode == 0
    wrong_key = tmp_path / "wrong.txt"
    wrong_key.write_text(str(crypto.generate_identity()) + "\n", encoding="ascii")
    refused = portal_command(empty_database_url, tmp_path / "other", "restore", str(backup_file),
                             "--recovery-key", str(wrong_key))
    assert refused.returncode != 0 and "nothing restored" in refused.stderr
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Instance)).scalar_one() == 0
    engine.dispose()
