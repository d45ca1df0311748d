"""The load test's short version, as CI runs it: concurrent reporters against
gunicorn for a few seconds, with no error. (Throughput and latency figures
come from the full run: bench/load_test.py; nothing here is timed.)"""

import subprocess
import sys
from pathlib import Path

LOAD_TEST = Path(__file__).resolve().parents[2] / "bench" / "load_test.py"


def test_twenty_reporters_submit_and_follow_up_for_five_seconds_without_an_error(empty_database_url):
    ran = subprocess.run(
        [sys.executable, str(LOAD_TEST), "--clients", "20", "--seconds", "5", "--workers", "2",
         "--argon2-time-cost", "1", "--argon2-memory-kib", "1024", "--database-url", empty_database_url],
        capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "errors              0" in ran.stdout
    completed = int(ran.stdout.split("journeys completed")[1].split()[0])
    assert completed > 0, ran.stdout
