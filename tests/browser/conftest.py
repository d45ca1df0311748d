"""Fixtures for the browser tests: the portal served by a real gunicorn, and
Debian's Chromium driven by Playwright, as a phone (the reporter) or an
office computer (the investigator), both with JavaScript off.

The database, instance, investigators and facilities are the ones every
portal test uses (``tests/conftest.py``): the server process opens the same
database the test reads afterwards.
"""

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from accounts import totp_secret_of
from babel.support import Translations
from live_server import Server

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_PACKAGE = "chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A cheap Android phone, JavaScript off: the pages must work without it.
PHONE = dict(
    viewport={"width": 360, "height": 640},
    java_script_enabled=False,
    locale="vi-VN",
    is_mobile=True,
    has_touch=True,
)
# An investigator's office computer. The inbox needs no JavaScript either.
DESK = dict(
    viewport={"width": 1280, "height": 800},
    java_script_enabled=False,
    locale="en-GB",
    accept_downloads=True,
)
TOTP_STEP_SECONDS = 30


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def chromium_path():
    """Debian's Chromium; fail in CI, skip elsewhere, when it is not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (
        f"{CHROMIUM} was not found: install the Debian package `{CHROMIUM_PACKAGE}` "
        f"(apt-get install {CHROMIUM_PACKAGE} fonts-noto-core fonts-noto-cjk)"
    )
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Device:
    """New browser contexts (the device opened afresh), each recording every request."""

    def __init__(self, browser, options):
        self.browser = browser
        self.options = options
        self.contexts = []
        self.requested = []

    def new_context(self):
        context = self.browser.new_context(**self.options)
        context.set_default_timeout(20_000)
        context.on("request", lambda request: self.requested.append(request.url))
        self.contexts.append(context)
        return context

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def phone(browser):
    device = Device(browser, PHONE)
    yield device
    device.close()


@pytest.fixture
def desk(browser):
    """Investigators' computers: each new context is another person's browser."""
    device = Device(browser, DESK)
    yield device
    device.close()


class Authenticator:
    """The codes the test users' authenticator apps show.

    The server takes a code of the previous, current or next 30-second period,
    and never one of a period already used by that user: a second log-in in the
    same period types the next period's code, as a user would wait for it.
    """

    def __init__(self):
        self.last_step = {}

    def code(self, username: str) -> str:
        now_step = int(datetime.now(UTC).timestamp()) // TOTP_STEP_SECONDS
        step = max(now_step, self.last_step.get(username, now_step - 1) + 1)
        assert step <= now_step + 1, f"too many log-ins of {username} within one minute"
        self.last_step[username] = step
        return pyotp.TOTP(totp_secret_of(username)).generate_otp(step)


@pytest.fixture
def authenticator():
    return Authenticator()


@pytest.fixture(scope="session")
def vietnamese(compiled_catalogs):
    """``gettext`` for Vietnamese, from the same compiled catalog the server reads."""
    catalog = Translations.load(str(compiled_catalogs), ["vi"])
    assert catalog.gettext("Make a report") != "Make a report", "the Vietnamese catalog is empty"
    return catalog.gettext


@pytest.fixture(scope="session")
def english(compiled_catalogs):
    """``gettext`` for English, the inbox's language for the test investigators."""
    catalog = Translations.load(str(compiled_catalogs), ["en"])
    assert isinstance(catalog, Translations), "no compiled English catalog"
    return catalog.gettext


@pytest.fixture
def server_languages():
    """The languages the live server offers (``PORTAL_LANGUAGES``); None: its default. A test may override."""
    return None


@pytest.fixture
def live_server(database_url, tmp_path, instance_dir, vietnamese, investigators, facility_ids, server_languages):
    """gunicorn serving ``portal.wsgi:app`` on a free port of 127.0.0.1, on the test database."""
    server = Server(database_url, instance_dir, tmp_path / "gunicorn.log", languages=server_languages).start()
    try:
        yield server
    finally:
        server.stop()


AXE_DIR = REPO_ROOT / "tests" / "browser" / "axe"


@pytest.fixture(scope="session")
def axe_source():
    """The source of axe-core, installed from npm (``tests/browser/axe``, pinned by its lock file)."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            message = "`npm` was not found on PATH: install the Debian package `npm` (apt-get install nodejs npm)"
            if in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR,
                                capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0 or not script.is_file():
            pytest.fail(f"`npm ci` in {AXE_DIR} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
                        pytrace=False)
    return script.read_text(encoding="utf-8")


@pytest.fixture
def screenshots(tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder
