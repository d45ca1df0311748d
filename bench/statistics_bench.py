"""Benchmark of the statistics pages with 100,000 cases, on SQLite or any database URL.

    .venv/bin/python bench/statistics_bench.py [--cases N] [--runs N] [--database-url URL]

Not part of the test suite. It:

1. creates a database (a SQLite file in a temporary folder, or the EMPTY database at
   ``--database-url``, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/stats_bench), runs the
   Alembic migrations, initialises the instance, creates an administrator, an authority account
   and a monitor (scrypt work factor 10), 200 facilities in 8 countries and a partner;
2. fills ``--cases`` cases received over the last 24 months, by Core bulk inserts: the plaintext
   columns statistics read (days, status, facility, 1-3 categories, deadlines met or not, about
   10 % notified to the authority, 2 % escalated, 10 % forwarded in each delivery state) and a
   reporter key column of the real width (~2 kB of text); no item and no encryption, since
   statistics never open anything. The database's triggers keep the statistics' running counts
   as the rows go in (migration 0027), as for reports arriving one by one;
3. measures through Flask's test client, after logging each account in through the form, the
   statistics page of last year (the fullest), of this year, and a CSV table for each role, and
   the public transparency page; p50 and p95 over ``--runs`` runs after a warm-up;
4. prints p50 and p95 per page and PASS/FAIL against 200 ms for each (wall clock), with the
   request thread's CPU time beside them and the load average, since a busy machine stretches
   the wall clock (on PostgreSQL the server's time is in the wall clock only).

The exit status is 0 whatever the results: the script reports, it does not gate. A temporary
SQLite folder is removed at the end; a database given by URL is left as it is for inspection.
"""

import argparse
import math
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.db import make_engine, make_session_factory  # noqa: E402
from portal.models import CATEGORIES, Case, CaseCategory, EscalationStep, Forward, Partner  # noqa: E402
from portal.services import clock, facilities, users  # noqa: E402
from portal.services import instance as instance_service  # noqa: E402

TARGET_MS = 200.0
USER_WORK_FACTOR = 10
INSERT_BATCH = 5000
COUNTRIES = ("VN", "CN", "MY", "TH", "ID", "PH", "MX", "CZ")
ACCOUNTS = (("root", "administrator"), ("vera", "authority"), ("max", "monitor"))
PASSPHRASE = "bench {} violet harbour lantern quietly"
REPORTER_KEY = "age1pq1" + "q" * 1950  # the width of a hybrid recipient's text, not a key
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def log(message: str) -> None:
    print(message, flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def seed(url: str, count: int, seed_value: int) -> dict:
    started = time.perf_counter()
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    secrets_of = {}
    with factory() as session:
        instance_service.initialise(session, "Bench contractor")
        for username, role in ACCOUNTS:
            secrets_of[username] = pyotp.random_base32()
            users.create(session, username, username.title(), role, PASSPHRASE.format(username),
                         work_factor=USER_WORK_FACTOR, totp_secret=secrets_of[username])
        facility_ids = [facilities.add(session, country=COUNTRIES[n % len(COUNTRIES)], name=f"Facility {n}",
                                       local_name=f"Facility {n}", supplier=f"Supplier {n % 20}",
                                       address=f"Road {n}").id for n in range(200)]
        partner = Partner(name="Electronics Watch", base_url="https://ew.example", fingerprint="e" * 64,
                          inbound_token_digest=secrets.token_bytes(32), created_at=datetime.now(timezone.utc))
        session.add(partner)
        session.commit()
        partner_id = partner.id
    rng = random.Random(seed_value)
    today = clock.today()
    moment = datetime.now(timezone.utc)
    next_id = 1
    with engine.begin() as connection:
        for start in range(0, count, INSERT_BATCH):
            case_rows, category_rows, step_rows, forward_rows = [], [], [], []
            for _ in range(min(INSERT_BATCH, count - start)):
                case_id = next_id
                next_id += 1
                received = today - timedelta(days=rng.randrange(0, 730))
                age = (today - received).days
                acknowledged = received + timedelta(days=rng.choice((0, 1, 2, 3, 5, 6, 8, 12))) \
                    if age > 2 and rng.random() < 0.95 else None
                feedback = received + timedelta(days=rng.randrange(20, 120)) \
                    if age > 120 and rng.random() < 0.9 else None
                case_rows.append(dict(
                    id=case_id, kind="report", received_on=received, status="closed" if feedback else "received",
                    facility_id=rng.choice(facility_ids) if rng.random() < 0.9 else None, language="vi",
                    urgent=False, acknowledge_due=received + timedelta(days=7),
                    feedback_due=received + timedelta(days=91), submission_digest=secrets.token_bytes(32),
                    reporter_recipient=REPORTER_KEY, legacy_receipt=False,
                    recipient_choice=rng.choices(("contractor", "both", "monitor"), (85, 10, 5))[0],
                    mandatory_notification=False, last_reporter_item_id=0,
                    authority_notified_on=received if rng.random() < 0.1 else None,
                    acknowledged_on=acknowledged if acknowledged and acknowledged <= today else None,
                    feedback_given_on=feedback if feedback and feedback <= today else None))
                for code in rng.sample(CATEGORIES, rng.choice((1, 1, 2, 3))):
                    category_rows.append(dict(case_id=case_id, code=code))
                if rng.random() < 0.02:
                    step_rows.append(dict(case_id=case_id, step="notice_of_default", happened_on=received))
                if rng.random() < 0.1:
                    forward_rows.append(dict(
                        bundle_id=f"bench-{case_id}", case_id=case_id, partner_id=partner_id, created_on=received,
                        scope="without_identity", summary="{}", bundle=b"", attempts=1, last_error="",
                        state=rng.choice(("pending", "delivered", "acknowledged")), next_attempt_at=moment,
                        remote_status=rng.choice((None, "acknowledged", "under_review", "closed")),
                        remote_status_sequence=0))
            connection.execute(Case.__table__.insert(), case_rows)
            connection.execute(CaseCategory.__table__.insert(), category_rows)
            if step_rows:
                connection.execute(EscalationStep.__table__.insert(), step_rows)
            if forward_rows:
                connection.execute(Forward.__table__.insert(), forward_rows)
    if engine.dialect.name == "postgresql":
        # As autovacuum soon would after such inserts: the planner's statistics (ANALYZE) and the
        # visibility map that lets a query read an index alone (VACUUM). Outside a transaction:
        # VACUUM refuses one, and an ANALYZE in one that is rolled back leaves no statistics.
        # SQLite is left without statistics, as the portal leaves it.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    log(f"seeded {count:,} cases in {time.perf_counter() - started:.1f} s")
    return secrets_of


def logged_in(app, username: str, secret: str):
    client = app.test_client()
    page = client.get("/inbox/login")
    answer = client.post("/inbox/login", data={
        "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1), "username": username,
        "passphrase": PASSPHRASE.format(username), "code": pyotp.TOTP(secret).now()})
    if answer.status_code != 303:
        raise RuntimeError(f"{username} could not log in: {answer.status_code}")
    return client


def timed(client, path: str, runs: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Wall-clock and this thread's CPU time of each request (the CPU time tells the page's own
    cost on a machine that other work keeps busy)."""
    for _ in range(warmup):
        client.get(path).get_data()
    spent, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = client.get(path)
        response.get_data()
        spent.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    return spent, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--database-url", default="", help="an EMPTY database to fill (default: SQLite, temporary)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="statistics_bench_"))
    url = args.database_url or f"sqlite:///{folder / 'statistics_bench.db'}"
    try:
        secrets_of = seed(url, args.cases, args.seed)
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder), "ENV": "development",
                          "LOG_LEVEL": "WARNING", "PUBLIC_STATISTICS": True})
        year = clock.today().year
        targets = []
        for username, role in ACCOUNTS:
            client = logged_in(app, username, secrets_of[username])
            targets += [(f"{role:<13} page {year - 1}", client, f"/oversight/statistics?year={year - 1}"),
                        (f"{role:<13} page {year}", client, "/oversight/statistics"),
                        (f"{role:<13} CSV facilities", client, f"/oversight/statistics/facilities.csv?year={year - 1}")]
        targets.append(("public        /transparency", app.test_client(), "/transparency"))
        log(f"database: {make_engine(url).dialect.name}, {args.cases:,} cases, {args.runs} runs per page")
        log(f"load average before measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        log(f"{'page':<40} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8}  p50 < {TARGET_MS:.0f} ms  p95 < {TARGET_MS:.0f} ms")
        for name, client, path in targets:
            spent, cpu = timed(client, path, args.runs)
            p50, p95 = percentile(spent, 0.5) * 1000, percentile(spent, 0.95) * 1000
            log(f"{name:<40} {p50:8.1f} {p95:8.1f} {percentile(cpu, 0.5) * 1000:8.1f}  "
                f"{'PASS' if p50 < TARGET_MS else 'FAIL':<12} {'PASS' if p95 < TARGET_MS else 'FAIL'}")
        log(f"load average after measuring: {os.getloadavg()[0]:.1f}")
        app.extensions["portal.engine"].dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
