"""A portal served by a real gunicorn on a loopback port, for tests that need real HTTP."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"
SERVER_START_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``portal.wsgi:app`` under gunicorn; ``stop()`` and ``start()`` again keep the same port."""

    def __init__(self, database_url: str, instance_dir: Path, log_path: Path, port: int | None = None,
                 languages=None, workers: int = 2, **settings):
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process = None
        self.environment = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
        self.environment.update(
            PORTAL_BIND=f"127.0.0.1:{self.port}",
            PORTAL_WORKERS=str(workers),
            PORTAL_INSTANCE_PATH=str(instance_dir),
            PORTAL_DATABASE_URL=database_url,
            PORTAL_BASE_URL=self.origin,
            PORTAL_ENV="development",
            # Partner portals in tests are servers like this one, on 127.0.0.1.
            PORTAL_ALLOW_LOOPBACK_PARTNERS="1",
            PORTAL_RECEIPT_ARGON2_TIME_COST="1",
            PORTAL_RECEIPT_ARGON2_MEMORY_KIB="1024",
            PORTAL_IDENTITY_WORK_FACTOR="10",
        )
        if languages:
            self.environment["PORTAL_LANGUAGES"] = ",".join(languages)
        self.environment.update({f"PORTAL_{key}": str(value) for key, value in settings.items()})

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> "Server":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "portal.wsgi:app"],
                cwd=REPO_ROOT, env=self.environment, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        self._wait_until_it_answers()
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _wait_until_it_answers(self):
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with status {self.process.returncode}:\n{self.log()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{self.origin}/en/", timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                pytest.fail(f"gunicorn answered {error.code}:\n{self.log()}", pytrace=False)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {SERVER_START_SECONDS}s:\n{self.log()}", pytrace=False)
            time.sleep(0.2)
