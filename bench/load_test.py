"""Load test: concurrent reporters submitting and following up, against gunicorn.

    .venv/bin/python bench/load_test.py [--clients 200] [--seconds 60] [--database-url URL]
                                        [--workers N] [--argon2-time-cost 3] [--argon2-memory-kib 65536]

Each simulated reporter loops over the whole journey, with its own cookies:
open the report form, send a report, open the follow-up page, enter the
receipt, and read the case (the receipt step includes it). The portal runs under ``gunicorn -c
deploy/gunicorn.conf.py`` on a loopback port, on PostgreSQL by default (a
temporary database on the local server, postgresql://postgres@127.0.0.1:5432,
dropped afterwards) or on the database URL given, which must be empty.

Receipts use the production Argon2id cost unless told otherwise. The
instance-wide receipt budget (PORTAL_RECEIPT_ATTEMPTS_PER_MINUTE) is lifted
for the run: it exists to slow guessing, and would otherwise turn a load test
into a test of the budget.

Prints throughput (journeys and requests per second), p50/p99 latency per
step, busy pages (the server's Argon2id slots stayed taken: the reporter is
asked to try again in a minute, nothing lost; counted, not an error, and the
journey ends there) and errors (target: 0). Bounded by --seconds and --max-journeys; only
127.0.0.1 is contacted. Exit status 1 when there were errors, 0 otherwise.
"""

import argparse
import http.cookiejar
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from portal_server import gunicorn, prepare

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(r'class="receipt"[^>]*>([0-9 ]+)<')
STEPS = ("form", "submit", "follow-up page", "receipt")
# The page a reporter gets when the server's Argon2id or cleaning slots stay taken (issue 16).
BUSY = "We are busy. Please try again in a minute"


class Reporter:
    def __init__(self, origin: str, facility_id: int, timeout: float):
        self.origin, self.facility_id, self.timeout = origin, facility_id, timeout

    def journey(self, record) -> bool:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

        def step(name, path, fields=None, expect=None):
            data = urllib.parse.urlencode(fields, doseq=True).encode() if fields is not None else None
            started = time.perf_counter()
            try:
                with opener.open(urllib.request.Request(self.origin + path, data=data),
                                 timeout=self.timeout) as response:
                    body = response.read().decode("utf-8", "replace")
                    status = response.status
            except urllib.error.HTTPError as error:
                body, status = error.read().decode("utf-8", "replace"), error.code
            except OSError as error:
                record(name, time.perf_counter() - started, f"{type(error).__name__}")
                return None
            if status == 503 and BUSY in body:
                # "We are busy, try again in a minute", everything kept: not an error, but counted.
                record(name, time.perf_counter() - started, BUSY)
                return None
            problem = None if status == 200 and (expect is None or expect.search(body)) else f"status {status}"
            record(name, time.perf_counter() - started, problem)
            return None if problem else body

        marker = uuid.uuid4().hex[:10]
        form = step("form", "/en/report", expect=CSRF)
        if form is None:
            return False
        receipt_page = step("submit", "/en/report", {
            "csrf_token": CSRF.search(form).group(1), "facility": str(self.facility_id), "categories": "wages",
            "description": f"Load test report {marker}: overtime is not paid.", "ongoing": "yes",
            "people_affected": "many", "consent": "without_identity", "recipient_choice": "contractor"},
            expect=RECEIPT)
        if receipt_page is None:
            return False
        page = step("follow-up page", "/en/follow-up", expect=CSRF)
        if page is None:
            return False
        case = step("receipt", "/en/follow-up", {"csrf_token": CSRF.search(page).group(1),
                                                 "receipt": RECEIPT.search(receipt_page).group(1)},
                    expect=re.compile(re.escape(marker)))
        return case is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-journeys", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() * 2 + 1)
    parser.add_argument("--argon2-time-cost", type=int, default=3)
    parser.add_argument("--argon2-memory-kib", type=int, default=65536)
    parser.add_argument("--timeout", type=float, default=180, help="client timeout per request, seconds")
    args = parser.parse_args()

    temporary_database = None
    database_url = args.database_url
    if database_url is None:
        from sqlalchemy import create_engine, text
        server = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        temporary_database = f"portal_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{temporary_database}"'))
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{temporary_database}"
    facility_id = prepare(database_url)

    folder = Path(tempfile.mkdtemp(prefix="portal-load-"))
    try:
        with gunicorn(database_url, folder, args.workers, {
                "PORTAL_RECEIPT_ATTEMPTS_PER_MINUTE": "1000000",
                "PORTAL_RECEIPT_ARGON2_TIME_COST": str(args.argon2_time_cost),
                "PORTAL_RECEIPT_ARGON2_MEMORY_KIB": str(args.argon2_memory_kib)}) as (origin, _server):
            lock = threading.Lock()
            latencies = {name: [] for name in STEPS}
            errors, journeys, busy = [], [0], []
            stop_at = time.monotonic() + args.seconds

            def record(name, seconds, problem):
                with lock:
                    latencies[name].append(seconds)
                    if problem == BUSY:
                        busy.append(name)
                    elif problem:
                        errors.append(f"{name}: {problem}")

            def client():
                reporter = Reporter(origin, facility_id, args.timeout)
                while time.monotonic() < stop_at:
                    with lock:
                        if journeys[0] >= args.max_journeys:
                            return
                    if reporter.journey(record):
                        with lock:
                            journeys[0] += 1

            started = time.monotonic()
            threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=args.seconds + args.timeout * 5)
            elapsed = time.monotonic() - started
    finally:
        if temporary_database:
            from sqlalchemy import create_engine, text
            admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{temporary_database}" WITH (FORCE)'))

    requests = sum(len(v) for v in latencies.values())
    database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"load test: {args.clients} concurrent reporters for {args.seconds:.0f} s against gunicorn "
          f"({args.workers} workers) on {database}; Argon2id t={args.argon2_time_cost} "
          f"m={args.argon2_memory_kib} KiB; {os.cpu_count()} CPUs")
    print(f"journeys completed  {journeys[0]}  ({journeys[0] / elapsed:.2f}/s)")
    print(f"requests            {requests}  ({requests / elapsed:.1f}/s) in {elapsed:.1f} s")
    print(f"{'step':<16} {'count':>6} {'p50 ms':>9} {'p99 ms':>9}")
    for name in STEPS:
        values = sorted(latencies[name])
        if not values:
            continue
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        print(f"{name:<16} {len(values):>6} {p50:>9.1f} {p99:>9.1f}")
    print(f"busy pages          {len(busy)}  (not errors: " + (", ".join(
        f"{name} x{busy.count(name)}" for name in STEPS if name in busy) or "none") + ")")
    print(f"errors              {len(errors)}  (target: 0)")
    for problem in sorted(set(errors))[:20]:
        print(f"  {problem}  x{errors.count(problem)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
