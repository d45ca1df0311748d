"""Benchmark: does the time of a failed log-in tell what was right?

    .venv/bin/python bench/login_timing_bench.py [--tries N] [--recovery-tries N]

Not part of the test suite. On a fresh SQLite database (migrated, initialised)
it makes one activated account (passphrase, authenticator, ten recovery codes;
production Argon2id for the passphrase; recovery codes keyed HMACs) and times the log-in POST
through Flask's test client, the whole request, for the four failing
combinations:

- a made-up username;
- the account, wrong passphrase, wrong code;
- the account, RIGHT passphrase, wrong code;
- the account, wrong passphrase, RIGHT code (one the server would accept);

once with codes shaped like the authenticator's (6 digits) and once shaped like
recovery codes (12 characters), since the shape is the sender's choice and the
server may spend differently on each. The combinations take turns, try by
try, so load from elsewhere falls on all of them. The account's attempt budget
is emptied before each try (outside the timing), or the limit would answer
instead. It prints each combination's mean, standard deviation and median, of
the wall time and of the CPU time the process spent on the request (all its
threads: Argon2id uses four), and PASS/FAIL for "the means within 10 % of each
other" per code shape, with a Welch t statistic of the right-passphrase
combination against the wrong one. The verdict is the CPU time's: it is the
work the server does, which is what a remote clock measures on a quiet server,
while the wall time on a machine shared with other jobs mostly measures them
(its line is printed too).

The exit status is 0 whatever the result: the script reports, it does not gate.
"""

import argparse
import math
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402
from sqlalchemy import delete  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.db import make_engine, make_session_factory  # noqa: E402
from portal.models import Budget  # noqa: E402
from portal.services import instance as instance_service  # noqa: E402
from portal.services import users  # noqa: E402

PASSPHRASE = "lantern orbit pickle magnolia"
TOLERANCE = 0.10
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def prepare(folder: Path):
    url = f"sqlite:///{folder / 'portal.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        instance_service.initialise(session, "Bench contractor")
        user = users.create(session, "worker", "Worker", "investigator", "placeholder passphrase",
                            work_factor=10)
        secret = users.set_passphrase_and_identity(session, user, PASSPHRASE, work_factor=10)
        codes = users.confirm_totp(session, user, pyotp.TOTP(secret).now())
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance"), "ENV": "development"})
    return app, factory, secret, codes


def timed_log_in(app, factory, username, passphrase, code) -> float:
    with factory() as session:
        session.execute(delete(Budget))
        session.commit()
    client = app.test_client()
    token = CSRF.search(client.get("/inbox/login").get_data(as_text=True)).group(1)
    started, cpu_started = time.perf_counter(), time.process_time()
    answer = client.post("/inbox/login", data={"csrf_token": token, "username": username,
                                               "passphrase": passphrase, "code": code})
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert answer.status_code == 401, f"expected a refusal, got {answer.status_code}"
    return elapsed, cpu


def welch_t(a, b) -> float:
    variance = statistics.variance(a) / len(a) + statistics.variance(b) / len(b)
    return (statistics.mean(a) - statistics.mean(b)) / math.sqrt(variance) if variance else 0.0


def measure(app, factory, combinations, tries):
    """{combination: ([wall seconds], [CPU seconds])}"""
    times = {name: ([], []) for name in combinations}
    for _ in range(tries):
        for name, attempt in combinations.items():
            wall, cpu = timed_log_in(app, factory, *attempt())
            times[name][0].append(wall)
            times[name][1].append(cpu)
    return times


def report(shape, times) -> bool:
    verdicts = {}
    for index, clock_name in enumerate(("wall", "CPU")):
        series = {name: values[index] for name, values in times.items()}
        print(f"\n{shape} codes, {clock_name} time ({len(next(iter(series.values())))} tries each)")
        for name, values in series.items():
            print(f"  {name:<32} mean {statistics.mean(values) * 1000:8.1f} ms  stdev "
                  f"{statistics.stdev(values) * 1000:7.1f} ms  median {statistics.median(values) * 1000:8.1f} ms")
        means = [statistics.mean(values) for values in series.values()]
        spread = max(means) / min(means) - 1
        names = list(series)
        t = welch_t(series[names[2]], series[names[1]])
        verdicts[clock_name] = spread <= TOLERANCE
        print(f"  spread of the means {spread * 100:.1f} % (limit {TOLERANCE * 100:.0f} %); Welch t, right "
              f"passphrase vs wrong: {t:+.2f}")
        print(f"  {'PASS' if verdicts[clock_name] else 'FAIL'}: {shape} code, {clock_name} time, means within "
              f"{TOLERANCE * 100:.0f} % of each other{'' if clock_name == 'CPU' else ' (informative)'}")
    return verdicts["CPU"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=12, help="tries per combination, authenticator-shaped codes")
    parser.add_argument("--recovery-tries", type=int, default=5, help="tries per combination, recovery-shaped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="login-bench-") as folder:
        app, factory, secret, codes = prepare(Path(folder))
        totp = pyotp.TOTP(secret)

        def right_totp():
            # The next period's code: accepted by the server (one step of slack), never used.
            return totp.at(time.time(), counter_offset=1)

        def wrong_totp():
            code = f"{secrets.randbelow(10 ** 6):06d}"
            return code if code not in {right_totp(), totp.now()} else wrong_totp()

        def wrong_recovery():
            return "-".join(secrets.token_hex(2).upper().replace("0", "A").replace("1", "B") for _ in range(3))

        def wrong_passphrase():
            return "not the passphrase " + secrets.token_hex(4)

        shapes = {
            "authenticator (6 digits)": (wrong_totp, right_totp),
            "recovery (12 characters)": (wrong_recovery, lambda: codes[0]),
        }
        results = []
        for shape, (wrong_code, right_code) in shapes.items():
            combinations = {
                "made-up username": lambda wrong_code=wrong_code: (
                    "nobody-" + secrets.token_hex(3), wrong_passphrase(), wrong_code()),
                "wrong passphrase, wrong code": lambda wrong_code=wrong_code: (
                    "worker", wrong_passphrase(), wrong_code()),
                "RIGHT passphrase, wrong code": lambda wrong_code=wrong_code: (
                    "worker", PASSPHRASE, wrong_code()),
                "wrong passphrase, RIGHT code": lambda right_code=right_code: (
                    "worker", wrong_passphrase(), right_code()),
            }
            tries = args.tries if shape.startswith("authenticator") else args.recovery_tries
            measure(app, factory, combinations, 1)  # warm-up: the dummy hash, imports, caches
            results.append(report(shape, measure(app, factory, combinations, tries)))
        app.extensions["portal.engine"].dispose()
    print(f"\n{'PASS' if all(results) else 'FAIL'}: a failed log-in takes the same time whatever was right")


if __name__ == "__main__":
    main()
