"""Benchmark of a case export for a court (services/case_exports.py): time and peak memory.

    .venv/bin/python bench/export_bench.py [--files N] [--mib M]

Not part of the test suite. In a temporary folder it creates a SQLite database,
an instance, one investigator and one case holding ``--files`` evidence files of
``--mib`` MiB of random (incompressible) bytes each, stored through
``intake.submit`` as already cleaned files. It then exports the case to a fresh
X25519 recipient, as the export page does, and measures

- the wall time of the export (decrypting every item, zipping, signing, encrypting);
- the peak of Python allocations during it (tracemalloc, which also slows it down:
  the time is measured on a second run without it);
- that the result decrypts and passes ``case_exports.verify``.

PASS when the peak stays under three times the largest file plus the ciphertext
spool (``SPOOL_BYTES``) and 8 MiB: the export streams, it never holds the whole
case. The exit status is 0 whatever the result; the folder is removed at the end.
"""

import argparse
import io
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

import crypto  # noqa: E402
from portal import create_app, migrate  # noqa: E402
from portal.db import make_engine, make_session_factory  # noqa: E402
from portal.models import Case, User  # noqa: E402
from portal.services import attachments, case_exports, facilities, intake, users  # noqa: E402
from portal.services import instance as instance_service  # noqa: E402

MiB = 1024 * 1024


def seed(app, files: int, size: int):
    """The investigator, their unlocked identity and the case's id."""
    with app.extensions["portal.sessions"]() as session:
        user = users.create(session, "anna", "Anna", "investigator", "anna correct horse battery staple",
                            default_recipient=True, work_factor=10, totp_secret="JBSWY3DPEHPK3PXP")
        identity = users.unlock_identity(user, "anna correct horse battery staple")
        facility = facilities.add(session, country="VN", name="Bac Ninh Display", local_name="Bac Ninh Display",
                                  supplier="Northlight", address="Que Vo")
        evidence = [attachments.CleanFile(os.urandom(size), "video/mp4", "mp4") for _ in range(files)]
        with app.test_request_context():
            intake.submit(session, app.config, intake.Report(
                language="en", categories=["health_safety"], description="The fire exit is chained shut.",
                facility_id=facility.id), evidence, secrets.token_urlsafe(16))
        case_id = session.scalar(select(Case.id))
        return user.id, identity, case_id


def export_once(app, user_id, identity, case_id, recipient, measure_memory: bool):
    with app.extensions["portal.sessions"]() as session, app.test_request_context():
        user, case = session.get(User, user_id), session.get(Case, case_id)
        if measure_memory:
            tracemalloc.start()
            tracemalloc.reset_peak()
        started = time.perf_counter()
        sealed = case_exports.export(session, user, identity, case, recipient)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if measure_memory else None
        if measure_memory:
            tracemalloc.stop()
        return sealed, elapsed, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--mib", type=int, default=8)
    args = parser.parse_args()
    size = args.mib * MiB
    with tempfile.TemporaryDirectory(prefix="export-bench-") as folder:
        url = f"sqlite:///{folder}/portal.db"
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            instance_service.initialise(session, "Bench contractor", post_quantum=False)
        engine.dispose()
        instance = Path(folder) / "instance"
        instance.mkdir()
        app = create_app(dict(DATABASE_URL=url, INSTANCE_PATH=str(instance), ENV="development",
                              RECEIPT_ARGON2_TIME_COST=1, RECEIPT_ARGON2_MEMORY_KIB=1024))
        user_id, identity, case_id = seed(app, args.files, size)
        court = crypto.generate_identity(pq=False)
        recipient = str(court.recipient)

        sealed, _elapsed, peak = export_once(app, user_id, identity, case_id, recipient, measure_memory=True)
        opened = io.BytesIO()
        crypto.decrypt_stream(sealed.file, opened, court)
        sealed.file.close()
        opened.seek(0)
        verification = case_exports.verify(opened)
        sealed, elapsed, _peak = export_once(app, user_id, identity, case_id, recipient, measure_memory=False)
        ciphertext = sealed.size
        sealed.file.close()
        app.extensions["portal.engine"].dispose()

    total = args.files * size
    bound = 3 * size + case_exports.SPOOL_BYTES + 8 * MiB
    print(f"case: {args.files} files of {args.mib} MiB ({total / MiB:.0f} MiB of evidence)")
    print(f"export: {elapsed:.2f} s, {total / MiB / elapsed:.0f} MiB/s, {ciphertext / MiB:.1f} MiB encrypted")
    print(f"peak Python memory during the export: {peak / MiB:.1f} MiB (bound {bound / MiB:.0f} MiB)")
    print(f"verify: {'ok' if verification.ok else 'FAILED: ' + '; '.join(verification.problems)} "
          f"({len(verification.checked) - 1} files checked)")
    print("PASS" if peak < bound and verification.ok else "FAIL")


if __name__ == "__main__":
    main()
