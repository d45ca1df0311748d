"""Benchmark of the posters (A4) and wallet cards (A7): every language's PDF, its size and render time.

    .venv/bin/python bench/posters_bench.py [--runs N] [--out DIR]

Not part of the test suite. It creates a SQLite instance in a temporary folder (organisation
"Acme Electronics NV", an https:// address, an onion address and an SMS number, so every line of
the page is printed), then renders each language's poster and card ``--runs`` times (after one
warm-up of the first language, which loads Pango, fontconfig and the catalogues) through the
service the administrator's page and ``portal posters build`` use. It prints, per language and
kind, the PDF's size and the median and worst render time, the type scale the page needed to fit
on one page, and the totals. With ``--out``, the PDFs are kept there to be looked at.

The exit status is 0 whatever the results: the script reports, it does not gate.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portal import create_app, i18n, migrate  # noqa: E402
from portal.db import make_engine, make_session_factory  # noqa: E402
from portal.services import instance as instance_service  # noqa: E402
from portal.services import posters  # noqa: E402

SETTINGS = {
    "BASE_URL": "https://speakup.example.org",
    "ONION_ADDRESS": "pz3kqyfw5e7hlqzj6n2jvxo4xkqf4pgxj4hrb2sgc3wdsq2o6u5yqdad.onion",
    "SMS_NUMBER": "+95 9 4500 1234",
}
ORGANISATION = "Acme Electronics NV"


def compile_catalogs() -> None:
    # A checkout has no compiled catalogs (.mo are build output): without them every page is English.
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_hook", ROOT / "translations" / "build_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    hook.compile_catalogs(ROOT / "translations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="keep the PDFs in this folder")
    args = parser.parse_args()
    compile_catalogs()
    folder = Path(tempfile.mkdtemp(prefix="posters-bench-"))
    try:
        url = f"sqlite:///{folder / 'portal.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            instance_service.initialise(session, ORGANISATION, post_quantum=False)
        engine.dispose()
        app = create_app(dict(SETTINGS, DATABASE_URL=url, INSTANCE_PATH=str(folder)))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.runs} runs per file")
        print(f"{'file':<22} {'size KiB':>9} {'median s':>9} {'worst s':>8} {'type':>5}")
        total_bytes, total_seconds = 0, 0.0
        with app.app_context():
            posters.render(app.config, ORGANISATION, app.config["LANGUAGES"][0], "poster")  # warm-up
            for language in app.config["LANGUAGES"]:
                for kind in posters.KINDS:
                    times = []
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        printed = posters.render(app.config, ORGANISATION, language, kind)
                        times.append(time.perf_counter() - started)
                    total_bytes += len(printed.pdf)
                    total_seconds += statistics.median(times)
                    if args.out:
                        (args.out / printed.filename).write_bytes(printed.pdf)
                    print(f"{printed.filename:<22} {len(printed.pdf) / 1024:>9.0f} {statistics.median(times):>9.2f} "
                          f"{max(times):>8.2f} {printed.scale:>5.0%}")
        count = len(app.config["LANGUAGES"]) * len(posters.KINDS)
        print(f"{count} files, {total_bytes / 1024 / 1024:.1f} MiB in all; {total_seconds:.1f} s to render them all "
              f"once (median per file; load average now {os.getloadavg()[0]:.2f})")
        print(f"languages: {', '.join(i18n.url_code(code) for code in app.config['LANGUAGES'])}")
        app.extensions["portal.engine"].dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
