"""Load bench: the portal under a flood of heavy evidence uploads (issue 14, confined cleaning).

    PYTHONPATH=. .venv/bin/python bench/cleaning_load_bench.py [--clients 6] [--seconds 60]
                                       [--database-url URL] [--workers N] [--form-interval 0.25]

The portal runs under ``gunicorn -c deploy/gunicorn.conf.py`` on a loopback port
(bench/portal_server.py, as bench/load_test.py runs it), on a temporary SQLite
database in a temporary instance folder unless --database-url (an empty
database) is given, with the default cleaning settings (PORTAL_CLEANING_SLOTS,
PORTAL_CLEANING_WAIT_SECONDS). --clients reporters, each with its own cookies,
send the report form with one heavy file in a loop for --seconds, taking the
kinds in turn: a 48 MP phone photo (JPEG with EXIF and GPS, under the 15 MB
upload cap), a 20-page scanned PDF, a 119-megapixel PNG of under 1 MiB, and a
PDF bomb of nested Flate (bench/evidence_files.py makes them). Meanwhile a
new visitor opens the report form (/en/report) every --form-interval seconds.
Every --sample-interval seconds the gunicorn master's process tree is read
with psutil: the workers, and the cleaners they start (their children).

Prints, per upload kind, the count, p50 and max response time and the answers
seen (200 receipt, 400 with the refusal's reason, 413, 503, client errors);
the form's p50/p95/max latency during the flood; the peak RSS of any cleaner
child (its kernel high-water mark, VmHWM, as last sampled: a peak in a child's
last moments can be missed, which its RLIMIT_AS bounds anyway) and how many ran
at once; the server's peak total RSS (master, workers and cleaners, shared pages
counted in each process). Targets (issue 14): each file answered
within 15 s, the form within 2 s, a cleaner's peak under 512 MiB; each is
said to be met or not. Only 127.0.0.1 is contacted. Always exits 0.
"""

import argparse
import http.cookiejar
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from evidence_files import nested_flate_bomb, photo, png, scanned_pdf
from portal_server import gunicorn, prepare

from portal.config import DEFAULTS

MiB = 1024 * 1024
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DRAFT = re.compile(r'name="submission" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(r'class="receipt"[^>]*>([0-9 ]+)<')
# The refusal a 400 page names, told by a phrase of its English message (portal/web/common/evidence.py).
REFUSALS = (("busy", "busy with other files"), ("too_many_pixels", "the picture is too big"),
            ("expands", "grows too large to be cleaned"), ("cannot_clean", "could not remove the hidden"),
            ("too_many_pages", "pages. Send only the pages"), ("damaged", "it may be damaged"),
            ("too_large", "it is too big. Each file"), ("unsupported", "this kind of file is not accepted"))
# Upload kinds: (name shown, file name sent, maker).
KINDS = (
    ("photo 48 MP JPEG, EXIF+GPS", "IMG_4821.jpg", lambda: photo(8000, 6000, sigmas=(8, 10, 12), quality=85)),
    ("PDF, 20 scanned pages", "payslips.pdf", lambda: scanned_pdf(20)),
    ("PNG 119 MP (bomb)", "photo.png", lambda: png(10_920, 10_920)),
    ("PDF nested Flate (bomb)", "payslip.pdf", nested_flate_bomb),
)
TARGET_FILE_SECONDS, TARGET_FORM_SECONDS, TARGET_CLEANER_BYTES = 15.0, 2.0, 512 * MiB


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def opener():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def fetch(browser, request, timeout):
    """``(status, body, seconds)``; status is a client error's name when no answer came."""
    started = time.perf_counter()
    try:
        with browser.open(request, timeout=timeout) as response:
            body, status = response.read().decode("utf-8", "replace"), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode("utf-8", "replace"), error.code
    except OSError as error:
        body, status = "", type(error).__name__
    return status, body, time.perf_counter() - started


def multipart(fields: dict, file_name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{file_name}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def answer(status, body) -> str:
    """What the portal answered to an upload, in a few words."""
    if status == 200:
        return "200 receipt" if RECEIPT.search(body) else "200 without receipt"
    if status == 400:
        return "400 " + next((reason for reason, phrase in REFUSALS if phrase in body), "other")
    if isinstance(status, int):
        return f"{status}"
    return f"client {status}"


def upload(origin, facility_id, file_name, data, timeout):
    """A new reporter opens the form and sends it with one file: ``(answer, seconds)`` of the send."""
    browser = opener()
    status, form, _seconds = fetch(browser, urllib.request.Request(origin + "/en/report"), timeout)
    if status != 200 or not CSRF.search(form) or not DRAFT.search(form):
        return f"form {answer(status, form)}", None
    body, content_type = multipart({
        "csrf_token": CSRF.search(form).group(1), "submission": DRAFT.search(form).group(1),
        "facility": str(facility_id), "categories": "wages", "description": "Overtime is not paid; evidence attached.",
        "ongoing": "yes", "people_affected": "many", "consent": "without_identity",
        "recipient_choice": "contractor"}, file_name, data)
    request = urllib.request.Request(origin + "/en/report", data=body, headers={"Content-Type": content_type})
    status, page, seconds = fetch(browser, request, timeout)
    return answer(status, page), seconds


class TreeSampler(threading.Thread):
    """Reads the gunicorn master's process tree every ``interval`` seconds until stopped."""

    def __init__(self, master_pid: int, interval: float):
        super().__init__(daemon=True)
        self.master_pid, self.interval = master_pid, interval
        self.halt = threading.Event()
        self.samples, self.total_peak, self.worker_peak, self.most_at_once = 0, 0, 0, 0
        self.cleaners = {}  # (pid, start time) -> [kind, peak bytes]

    def run(self):
        import psutil

        master = psutil.Process(self.master_pid)
        next_at = time.monotonic() + self.interval
        while not self.halt.wait(max(0.0, next_at - time.monotonic())):
            next_at = max(next_at + self.interval, time.monotonic())
            try:
                tree = master.children(recursive=True)
            except psutil.Error:
                return
            total, alive = self._rss(master), 0
            for process in tree:
                try:
                    if process.ppid() == self.master_pid:  # a worker
                        rss = self._rss(process)
                        total += rss
                        self.worker_peak = max(self.worker_peak, rss)
                        continue
                    command = process.cmdline()
                    if not any("pixel_cleaner" in part for part in command):
                        continue  # forked by a worker, not yet the cleaner: its pages are the worker's
                    rss = self._rss(process)
                    total += rss
                    record = self.cleaners.setdefault((process.pid, process.create_time()), [command[-2], 0])
                    record[1] = max(record[1], rss, self._high_water_mark(process.pid))
                    alive += 1
                except (psutil.Error, OSError, IndexError):
                    continue  # ended while being read
            self.samples += 1
            self.total_peak = max(self.total_peak, total)
            self.most_at_once = max(self.most_at_once, alive)

    @staticmethod
    def _rss(process) -> int:
        return process.memory_info().rss

    @staticmethod
    def _high_water_mark(pid: int) -> int:
        """The kernel's own peak RSS of the process (VmHWM), which a 50 ms sample can miss."""
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=6, help="concurrent reporters sending heavy files")
    parser.add_argument("--seconds", type=float, default=60, help="how long the flood lasts")
    parser.add_argument("--database-url", default=None, help="an empty database (default: temporary SQLite)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() * 2 + 1)
    parser.add_argument("--form-interval", type=float, default=0.25, help="seconds between two form requests")
    parser.add_argument("--sample-interval", type=float, default=0.05, help="seconds between two memory samples")
    parser.add_argument("--timeout", type=float, default=120, help="client timeout per request, seconds")
    args = parser.parse_args()

    load_before = os.getloadavg()
    print("making the files ...", flush=True)
    files = []
    for name, file_name, make in KINDS:
        files.append((name, file_name, make()))
    folder = Path(tempfile.mkdtemp(prefix="portal-cleaning-load-"))
    database_url = args.database_url or f"sqlite:///{folder / 'portal.db'}"
    facility_id = prepare(database_url)

    lock = threading.Lock()
    uploads = defaultdict(list)  # kind -> [(answer, seconds)]
    form_times, form_problems = [], Counter()
    try:
        with gunicorn(database_url, folder, args.workers) as (origin, server):
            sampler = TreeSampler(server.pid, args.sample_interval)
            sampler.start()
            started = time.monotonic()
            stop_at = started + args.seconds

            def reporter(number):
                turn = number
                while time.monotonic() < stop_at:
                    name, file_name, data = files[turn % len(files)]
                    turn += 1
                    result = upload(origin, facility_id, file_name, data, args.timeout)
                    with lock:
                        uploads[name].append(result)

            def visitor():
                next_at = time.monotonic()
                while next_at < stop_at:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += args.form_interval
                    status, body, seconds = fetch(opener(), urllib.request.Request(origin + "/en/report"),
                                                  args.timeout)
                    form_times.append(seconds)
                    if status != 200 or not CSRF.search(body):
                        form_problems[answer(status, body)] += 1
                    next_at = max(next_at, time.monotonic())

            threads = [threading.Thread(target=reporter, args=(n,), daemon=True) for n in range(args.clients)]
            threads.append(threading.Thread(target=visitor, daemon=True))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=args.seconds + args.timeout * 3)
            elapsed = time.monotonic() - started
            sampler.halt.set()
            sampler.join(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_after = os.getloadavg()

    database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"cleaning load bench: {args.clients} reporters sending heavy files for {args.seconds:.0f} s "
          f"({elapsed:.1f} s with the last answers) against gunicorn ({args.workers} workers, "
          f"deploy/gunicorn.conf.py) on {database}; {DEFAULTS['CLEANING_SLOTS']} cleaning slots, a file waits "
          f"up to {DEFAULTS['CLEANING_WAIT_SECONDS']} s for one (the defaults); {os.cpu_count()} CPUs")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print()
    print(f"{'upload':28} {'size':>9} {'count':>6} {'p50 s':>7} {'max s':>7}  answers")
    slowest = 0.0
    for name, _file_name, data in files:
        results = uploads.get(name, [])
        times = [seconds for _answer, seconds in results if seconds is not None]
        answers = Counter(result for result, _seconds in results)
        slowest = max([slowest, *times])
        shown = ", ".join(f"{result} x{count}" for result, count in answers.most_common())
        size = f"{len(data) / MiB:.1f} MB" if len(data) >= MiB / 10 else f"{len(data) / 1024:.0f} kB"
        p50 = f"{statistics.median(times):7.2f}" if times else f"{'-':>7}"
        top = f"{max(times):7.2f}" if times else f"{'-':>7}"
        print(f"{name:28} {size:>9} {len(results):>6} {p50} {top}  {shown or '-'}")
    print(f"each file answered within {TARGET_FILE_SECONDS:.0f} s: {verdict(slowest < TARGET_FILE_SECONDS)} "
          f"(slowest {slowest:.2f} s)")
    print()
    if form_times:
        p50, p95, top = statistics.median(form_times), percentile(form_times, 0.95), max(form_times)
        print(f"form /en/report every {args.form_interval} s during the flood: {len(form_times)} requests, "
              f"p50 {p50:.3f} s, p95 {p95:.3f} s, max {top:.3f} s; not served: "
              f"{sum(form_problems.values())}" + (f" {dict(form_problems)}" if form_problems else ""))
        late = sum(seconds >= TARGET_FORM_SECONDS for seconds in form_times)
        print(f"form within {TARGET_FORM_SECONDS:.0f} s: "
              f"{verdict(top < TARGET_FORM_SECONDS and not form_problems)} (every request: {late} of "
              f"{len(form_times)} took longer)")
    print()
    cleaners = list(sampler.cleaners.values())
    peaks = defaultdict(int)
    for kind, peak in cleaners:
        peaks[kind] = max(peaks[kind], peak)
    cleaner_peak = max(peaks.values(), default=0)
    print(f"memory, sampled {sampler.samples} times (every {args.sample_interval * 1000:.0f} ms asked; mean "
          f"{elapsed / max(1, sampler.samples) * 1000:.0f} ms): {len(cleaners)} cleaner processes seen, "
          f"at most {sampler.most_at_once} at once")
    print("peak RSS of a cleaner child (VmHWM): " + (", ".join(
        f"{kind} {peak / MiB:.0f} MiB" for kind, peak in sorted(peaks.items())) or "none seen"))
    print(f"cleaner under {TARGET_CLEANER_BYTES // MiB} MiB: {verdict(cleaner_peak < TARGET_CLEANER_BYTES)} "
          f"(peak {cleaner_peak / MiB:.0f} MiB)")
    print(f"server total RSS peak (master + workers + cleaners, shared pages counted in each): "
          f"{sampler.total_peak / MiB:.0f} MiB; largest worker {sampler.worker_peak / MiB:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
