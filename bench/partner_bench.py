"""Benchmark: what a hostile partner's bundle costs this portal before it is refused.

    .venv/bin/python bench/partner_bench.py

Not part of the test suite. It builds the bundles issue 16 found and their
variants, and opens each the way a received or imported bundle is opened
(``bundles.read_limited`` from a file, then ``forwarding.import_file``'s
``bundles.read_manifest`` and the receiving path's ``bundles.open_verified``),
each in a fresh child process (this script re-run with a hidden flag), and
prints per bundle: its size, what it would inflate to, the answer, the time
taken, the child's peak RSS growth and Python's peak allocation (tracemalloc,
the bundle's own bytes included).

Targets: every bundle refused, each with an RSS growth under 32 MiB (the bomb
of the issue grew to 3.1 GiB), in under a second. Each is printed with PASS or
FAIL; the exit status is 0 whatever the results: the script reports, it does
not gate.
"""

import io
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portal.services import bundles  # noqa: E402

MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_TARGET_MIB = 32
SECONDS_TARGET = 1.0
CHILD_FLAG = "--_child"


def _deflated(archive, name, size):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w") as member:
        chunk = bytes(MIB)
        for _ in range(size // MIB):
            member.write(chunk)


def bomb(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.sig", bytes(64))
        for name, size in members:
            _deflated(archive, name, size)
    return out.getvalue()


def lying(size, claimed=1000):
    data = bytearray(bomb([("manifest.json", size)]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo("manifest.json").header_offset
    central = data.rfind(b"PK\x01\x02")
    for at in (local + 22, central + 24):
        data[at:at + 4] = struct.pack("<I", claimed)
    return bytes(data)


def many(count):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for number in range(count):
            archive.writestr(f"items/{number:05d}-message.age", b"")
    return out.getvalue()


def cases():
    return [
        ("issue 16: manifest and item of 1.5 GiB each, deflated", 3 * GIB,
         bomb([("manifest.json", 3 * GIB // 2), ("items/01-report.age", 3 * GIB // 2)])),
        ("an item of 1.5 GiB alone, deflated", 3 * GIB // 2, bomb([("items/01-report.age", 3 * GIB // 2)])),
        ("a manifest saying 1000 bytes, inflating to 1 GiB", GIB, lying(GIB)),
        ("60000 empty members", 0, many(60000)),
    ]


def child(path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    answer = "accepted"
    try:
        with open(path, "rb") as stream:
            data = bundles.read_limited(stream, Path(path).stat().st_size)
        bundles.read_manifest(data)
        bundles.open_verified(data, bytes(32), "0" * 64, "0" * 64)
    except bundles.BundleError as error:
        answer = f"refused: {error.reason}"
    seconds = time.perf_counter() - started
    allocated = tracemalloc.get_traced_memory()[1] / MIB
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"answer": answer, "seconds": seconds, "rss_growth_mib": grown, "allocated_mib": allocated}))


def main():
    print(f"python {sys.version.split()[0]}; limits: {bundles.LIMITS}")
    with tempfile.TemporaryDirectory() as folder:
        for story, inflated, data in cases():
            path = Path(folder) / "bundle.zip"
            path.write_bytes(data)
            done = subprocess.run([sys.executable, __file__, CHILD_FLAG, str(path)], capture_output=True,
                                  text=True, check=True)
            result = json.loads(done.stdout)
            ok = (result["answer"].startswith("refused") and result["rss_growth_mib"] < RSS_TARGET_MIB
                  and result["allocated_mib"] < RSS_TARGET_MIB
                  and result["seconds"] < SECONDS_TARGET)
            print(f"{'PASS' if ok else 'FAIL'} {story}: {len(data) / MIB:.2f} MiB file, "
                  f"{inflated / GIB:.2f} GiB inflated; {result['answer']} in {result['seconds'] * 1000:.1f} ms, "
                  f"peak RSS growth {result['rss_growth_mib']:.1f} MiB, Python's peak allocation "
                  f"{result['allocated_mib']:.1f} MiB (the file itself included) "
                  f"(targets: refused, < {RSS_TARGET_MIB} MiB, < {SECONDS_TARGET:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == CHILD_FLAG:
        child(sys.argv[2])
    else:
        main()
