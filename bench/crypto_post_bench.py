"""The crypto work of one report POST, outside the Argon2id, in ``crypto/``.

    .venv/bin/python bench/crypto_post_bench.py [--runs N]

A report POST makes a fresh hybrid reporter identity, writes its recipient as
text (about 1,950 characters of Bech32) and encrypts the report to 3-4 hybrid
recipients. This prints the best-of-5 mean of each step, the HPKE wraps that
are the real work of an encryption, and what ``crypto.encrypt`` spends around
them. Not part of the test suite; the exit status is 0 whatever the figures.

Target: writing a recipient as text and parsing it back each cost less than one
HPKE wrap (a ratio, so that a loaded machine moves both sides alike).
"""

import argparse
import os
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import crypto  # noqa: E402
from crypto import bech32  # noqa: E402

PAYLOAD = 2048
RECIPIENTS = 4


def best_mean(function, runs: int) -> float:
    """Seconds per call: the best of 5 batches of ``runs`` calls."""
    return min(timeit.repeat(function, number=runs, repeat=5)) / runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args(argv).runs

    seeds = iter([os.urandom(32) for _ in range(5 * runs)])
    identity_time = best_mean(lambda: crypto.HybridIdentity(next(seeds)), runs)
    fresh = iter([crypto.HybridIdentity(os.urandom(32)).recipient for _ in range(5 * runs)])
    text_time = best_mean(lambda: str(next(fresh)), runs)
    recipients = [crypto.HybridIdentity(os.urandom(32)).recipient for _ in range(RECIPIENTS)]
    texts = [str(r) for r in recipients]
    parse_time = best_mean(lambda: bech32.decode(texts[0]), runs)
    data = os.urandom(PAYLOAD)
    file_key = os.urandom(16)
    wrap_time = best_mean(lambda: [r.wrap(file_key) for r in recipients], runs) / RECIPIENTS
    encrypt_time = best_mean(lambda: crypto.encrypt(data, recipients), runs)

    ms = 1000
    print(f"new hybrid identity from a seed:          {identity_time * ms:.3f} ms")
    print(f"its recipient as text (Bech32):           {text_time * ms:.3f} ms")
    print(f"a recipient's text parsed (Bech32):       {parse_time * ms:.3f} ms")
    print(f"one HPKE wrap (ML-KEM-768+X25519):        {wrap_time * ms:.3f} ms")
    print(f"encrypt {PAYLOAD} bytes to {RECIPIENTS} hybrid recipients: {encrypt_time * ms:.3f} ms"
          f" ({(encrypt_time - RECIPIENTS * wrap_time) * ms:.3f} ms besides the wraps)")
    ok = text_time < wrap_time and parse_time < wrap_time
    print(f"{'PASS' if ok else 'FAIL'}: recipient text written and parsed each in less than one HPKE wrap")
    return 0


if __name__ == "__main__":
    sys.exit(main())
