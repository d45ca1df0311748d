"""What an operator does outside the browser: the ``portal`` command, and the first administrator."""

import os
import subprocess
import sys
from pathlib import Path

from accounts import passphrase_of, totp_secret_of
from inbox_pages import log_in
from sqlalchemy import select

from portal.models import User
from portal.services import users

PORTAL = str(Path(sys.executable).with_name("portal"))


def run_portal(app, *args):
    """Run ``portal ARGS`` against the same database and instance folder as ``app``."""
    env = dict(os.environ, PORTAL_DATABASE_URL=app.config["DATABASE_URL"],
               PORTAL_INSTANCE_PATH=app.config["INSTANCE_PATH"])
    return subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True, timeout=120)


def make_admin(app, username="root"):
    """An administrator who logs in with ``passphrase_of`` and ``totp_secret_of``."""
    with app.extensions["portal.sessions"]() as session:
        users.create(session, username, "Root Admin", "administrator", passphrase_of(username),
                     work_factor=10, totp_secret=totp_secret_of(username))


def logged_in_admin(app, username="root"):
    """A client of that administrator, logged in."""
    make_admin(app, username)
    client = app.test_client()
    assert log_in(client, username).status_code == 303
    return client


def user_named(app, username):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(User).where(User.username == username))
