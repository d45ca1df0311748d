"""Session flood bench: cookie-less GETs of the report form, and the rows they write (issue 16).

    PYTHONPATH=. .venv/bin/python bench/session_flood_bench.py [--clients 4] [--seconds 10] [--workers 2]

The portal runs under ``gunicorn -c deploy/gunicorn.conf.py`` on a loopback port
(bench/portal_server.py) on a temporary SQLite database. --clients threads, all
from one address as behind Tor and none keeping cookies, GET /en/report as fast
as they are answered for --seconds. Prints the GETs per second, the rows the
flood left in web_sessions (per second and per GET), the growth of the
database files, and the hourly growth that rate would give, with PASS/FAIL for
"no row written by a visitor who only looks at a form". Then one worker opens
the form and sends a report, and the bench prints whether it was answered with
a receipt. Only 127.0.0.1 is contacted. Always exits 0.
"""

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from portal_server import gunicorn, prepare
from sqlalchemy import create_engine, text

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DRAFT = re.compile(r'name="submission" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(r'class="receipt"[^>]*>([0-9 ]+)<')


def rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM web_sessions"))
    finally:
        engine.dispose()


def size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("portal.db*"))


def flood(origin: str, seconds: float, clients: int) -> tuple[int, int, float]:
    answered, failed, lock = [0], [0], threading.Lock()
    stop = time.monotonic() + seconds

    def client():
        while time.monotonic() < stop:
            try:
                with urllib.request.urlopen(origin + "/en/report", timeout=30) as response:
                    response.read()
                    ok = response.status == 200
            except OSError:
                ok = False
            with lock:
                (answered if ok else failed)[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered[0], failed[0], time.monotonic() - started


def worker_reports(origin: str, facility_id: int) -> bool:
    import http.cookiejar

    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(origin + "/en/report", timeout=60) as response:
        page = response.read().decode()
    fields = {"csrf_token": CSRF.search(page).group(1), "submission": DRAFT.search(page).group(1),
              "facility": str(facility_id), "categories": "wages", "description": "Session flood bench: wages late.",
              "when": "October", "ongoing": "yes", "people_affected": "many", "consent": "without_identity",
              "recipient_choice": "contractor"}
    data = urllib.parse.urlencode(fields).encode()
    with browser.open(urllib.request.Request(origin + "/en/report", data=data), timeout=120) as response:
        return bool(RECEIPT.search(response.read().decode()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="portal-session-flood-"))
    database_url = f"sqlite:///{folder / 'portal.db'}"
    try:
        facility_id = prepare(database_url)
        with gunicorn(database_url, folder, args.workers) as (origin, _server):
            rows_before, size_before = rows(database_url), size(folder)
            answered, failed, elapsed = flood(origin, args.seconds, args.clients)
            written, grown = rows(database_url) - rows_before, size(folder) - size_before
            reported = worker_reports(origin, facility_id)
        per_second = answered / elapsed
        print(f"flood: {args.clients} cookie-less clients, {elapsed:.1f} s, gunicorn with {args.workers} workers, SQLite")
        print(f"GET /en/report: {answered} answered 200 ({failed} failed), {per_second:.0f} per second")
        print(f"web_sessions rows written: {written} ({written / elapsed:.0f} per second, "
              f"{written / max(answered, 1):.2f} per GET)")
        print(f"database files grew by {grown / 1024:.0f} KiB: {grown / elapsed * 3600 / 2**20:.0f} MiB an hour at this rate")
        print(f"{'PASS' if written == 0 else 'FAIL'}: no row written by visitors who only look at a form")
        print(f"{'PASS' if reported else 'FAIL'}: a worker then sends a report and gets a receipt")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
