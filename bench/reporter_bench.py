"""Benchmark of the reporter's pages: page weight, and throughput on gunicorn.

    .venv/bin/python bench/reporter_bench.py [--seconds N] [--clients N] [--keepalive]
                                             [--runs N] [--profile]

Not part of the test suite. In one run it:

1. prepares a demo instance in a temporary folder (``portal demo --no-run``),
   serves it with ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi:app``
   (2 workers, production settings: Argon2id receipts at their default cost)
   and, for every configured language, does a COLD load of the start page and
   of the report form: the HTML, then every subresource it references (link
   href, script src, img src/srcset, CSS url() and @import, /favicon.ico when
   no icon is declared), with no cookie and no cache. Bytes are counted as
   nginx with ``gzip on`` would send them: a body the portal gzipped itself as
   received, any other compressible body gzipped at level 6, plus the response
   header block. (First paint under 2G throttling: bench/first_paint_bench.py.) A data: URL costs no request.
   JavaScript bytes: external scripts, inline scripts, on* attributes;
2. measures throughput with concurrent clients (threads with http.client, one
   connection per request as nginx proxies by default), 10 s per measurement:
   the form GET (a first visit, no cookie) and the report submission POST
   (one fresh session per POST, all prepared before the timed POSTs), and the
   same on a bare Flask app (bench/bare_app.py) served by the same gunicorn
   settings. The two servers run side by side; their GETs are measured in
   alternating slices so that other load on the machine weighs on both alike.
   The POST's target is on its work OUTSIDE the receipt's Argon2id (issue 16:
   the Argon2id is bounded apart, in its own pool, and priced on its own): a
   third server on the same instance, with the same settings but for
   PORTAL_RECEIPT_ARGON2_TIME_COST=1 and PORTAL_RECEIPT_ARGON2_MEMORY_KIB=8
   (about 0.03 ms instead of ~250 ms), takes the same POSTs; its rate against
   the bare app's POST must be >= 0.25x. Everything else of the POST is the
   production one (the receipt's HKDF and ML-KEM identity, the encryption,
   the database); the production POST is measured and shown as well;
3. shows where the time goes, in this process (Flask test client, CPU time
   of the thread, production settings): the Argon2id alone inside each
   submission, the POST's CPU time less it ("the rest": the figure the
   target of part 2 is about), and each request cut into parts by cProfile.

Each target is printed with PASS or FAIL. The exit status is 0 whatever the
results: the script reports, it does not gate. Only 127.0.0.1 is contacted;
every loop is bounded in count and in time.
"""

import argparse
import cProfile
import gzip
import http.client
import io
import itertools
import os
import platform
import pstats
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
GUNICORN = BIN / "gunicorn"
PORTAL = BIN / "portal"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"

from portal import config as portal_config  # noqa: E402
from portal import i18n  # noqa: E402

HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")
WORKERS = 2
# The receipt's Argon2id at its smallest (t=1, 8 KiB): the POST's other work alone.
NEGLIGIBLE_ARGON2 = {"PORTAL_RECEIPT_ARGON2_TIME_COST": "1", "PORTAL_RECEIPT_ARGON2_MEMORY_KIB": "8"}
KB = 1024
FORM_BYTES_TARGET = 14 * KB
FORM_REQUESTS_TARGET = 1  # the stylesheet is inline: one round trip
GET_RATIO_TARGET = 0.6
POST_RATIO_TARGET = 0.25
GET_SLICES = 5  # the GETs of both servers are measured in alternating slices
BARE_POST_SESSIONS = 64
MAX_PREPARED_SESSIONS = 5000
PREPARE_SECONDS = 120
GET_PROFILE_REQUESTS = 100
GZIP_LEVEL = 6
GZIP_MIN_LENGTH = 20  # nginx's gzip_min_length default
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/xml",
                "image/svg+xml", "application/manifest+json")
JS_TYPES = ("application/javascript", "text/javascript", "application/ecmascript")
REDIRECTS = (301, 302, 303, 307, 308)
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]*)"')
FACILITY_OPTION = re.compile(r'<option value="(\d+)"')
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")

LOREM = (
    "Since the start of October the line leaders keep us after the shift for two or three "
    "hours every evening and on Sundays. The overtime is not on the pay slip and the agent "
    "says it pays back the recruitment fee. Workers who refuse are moved to the night shift "
    "or threatened with losing their passports, which the dormitory office keeps. About forty "
    "people on line 3 are affected, most of them from Nepal and Myanmar. "
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------
# HTTP


@dataclass
class Response:
    status: int
    reason: str
    headers: list
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def all_headers(self, name: str) -> list:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def request(port, method, path, headers=None, body=None, timeout=60.0, connection=None):
    """One request on ``connection``, or on a new connection closed afterwards."""
    own = connection is None
    conn = connection or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = dict(headers or {})
        if own:
            headers.setdefault("Connection", "close")
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return Response(response.status, response.reason, response.getheaders(), data)
    finally:
        if own:
            conn.close()


def cookie_from(response: Response, name: str) -> str | None:
    for value in response.all_headers("Set-Cookie"):
        key, _, cookie = value.split(";", 1)[0].partition("=")
        if key.strip() == name:
            return f"{name}={cookie}"
    return None


def csrf_from(body: bytes) -> str:
    match = CSRF_INPUT.search(body.decode("utf-8", "replace"))
    if not match:
        raise RuntimeError("the page has no CSRF token")
    return VALUE.search(match.group(0)).group(1)


def multipart(fields) -> tuple[bytes, str]:
    """Encode ``fields`` (name, value) or (name, (filename, bytes, type)) as a browser does."""
    boundary = "----benchboundary" + secrets.token_hex(8)
    out = io.BytesIO()
    for name, value in fields:
        out.write(f"--{boundary}\r\n".encode())
        if isinstance(value, tuple):
            filename, data, content_type = value
            out.write(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      f"Content-Type: {content_type}\r\n\r\n".encode())
            out.write(data)
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(value.encode("utf-8"))
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------
# 1. Page weight


def served_size(response: Response) -> tuple[int, int, int]:
    """(header bytes, body bytes, raw body bytes) as nginx with gzip on would send them.

    A body the portal compressed itself is counted as received (and ``response.body``
    becomes the decompressed page); any other compressible body is gzipped here, and
    the header block gets Content-Length set to the gzip length and Content-Encoding
    and Vary added, as nginx would.
    """
    content_type = response.header("Content-Type").lower()
    already = response.header("Content-Encoding").lower() == "gzip"  # the portal compressed it
    wire = response.body
    if already:
        response.body = gzip.decompress(wire)  # the page as the browser reads it
    raw = response.body
    compress = not already and len(raw) >= GZIP_MIN_LENGTH and content_type.startswith(COMPRESSIBLE)
    if compress:
        wire = gzip.compress(raw, GZIP_LEVEL, mtime=0)
    lines = [f"HTTP/1.1 {response.status} {response.reason}"]
    for key, value in response.headers:
        if key.lower() == "content-length":
            value = str(len(wire))
        lines.append(f"{key}: {value}")
    if compress:
        lines += ["Content-Encoding: gzip", "Vary: Accept-Encoding"]  # as nginx adds them
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return len(head), len(wire), len(raw)


class SubresourceParser(HTMLParser):
    """The subresources a browser loads for a page, and the page's inline JavaScript."""

    LINK_RELS = {"stylesheet", "icon", "apple-touch-icon", "mask-icon", "preload",
                 "modulepreload", "manifest"}
    SRC_TAGS = {"img", "script", "iframe", "embed", "audio", "video", "source", "track"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs = []  # (kind, url)
        self.inline_js = 0
        self.inline_css = []
        self.has_icon = False
        self._inside = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") and value:
                self.inline_js += len(value.encode())
            if name in ("href", "src", "action") and value.lower().startswith("javascript:"):
                self.inline_js += len(value.encode())
            if name == "style" and value:
                self.inline_css.append(value)
        if tag == "link" and attributes.get("href"):
            rels = set((attributes.get("rel") or "").lower().split())
            self.has_icon = self.has_icon or "icon" in rels
            if rels & self.LINK_RELS:
                kind = "stylesheet" if "stylesheet" in rels else "link"
                self.refs.append((kind, attributes["href"]))
        if tag in self.SRC_TAGS and attributes.get("src"):
            self.refs.append(("script" if tag == "script" else tag, attributes["src"]))
        if tag in ("img", "source") and attributes.get("srcset"):
            self.refs.append((tag, attributes["srcset"].split(",")[0].strip().split()[0]))
        if tag == "video" and attributes.get("poster"):
            self.refs.append(("img", attributes["poster"]))
        is_image_input = (attributes.get("type") or "").lower() == "image"
        if tag == "input" and is_image_input and attributes.get("src"):
            self.refs.append(("img", attributes["src"]))
        if tag == "object" and attributes.get("data"):
            self.refs.append(("object", attributes["data"]))
        if tag == "script" and not attributes.get("src"):
            self._inside = "script"
        elif tag == "style":
            self._inside = "style"

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._inside = None

    def handle_data(self, data):
        if self._inside == "script":
            self.inline_js += len(data.encode())
        elif self._inside == "style":
            self.inline_css.append(data)


def css_refs(text: str) -> list:
    refs = []
    for match in CSS_URL.finditer(text):
        url = match.group(2) or match.group(4)
        refs.append(("import" if match.group(4) else "css-url", url.strip()))
    return refs


@dataclass
class PageLoad:
    requests: int = 0
    header_bytes: int = 0
    body_bytes: int = 0
    raw_bytes: int = 0
    js_bytes: int = 0
    data_urls: int = 0
    external: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    items: list = field(default_factory=list)  # (path, status, header, body, raw)

    @property
    def total(self) -> int:
        return self.header_bytes + self.body_bytes


def cold_load(port: int, path: str) -> PageLoad:
    """Load ``path`` as a browser with an empty cache and no cookie would."""
    load = PageLoad()
    origin = f"http://{HOST}:{port}"
    browser_headers = {"Accept-Encoding": "gzip", "User-Agent": "reporter-bench"}
    seen = set()

    def get(url):
        for _ in range(6):  # follow redirects, each one a request
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            response = request(port, "GET", target, headers=browser_headers)
            header, body, raw = served_size(response)
            load.requests += 1
            load.header_bytes += header
            load.body_bytes += body
            load.raw_bytes += raw
            load.items.append((target, response.status, header, body, raw))
            if response.status in REDIRECTS and response.header("Location"):
                url = urljoin(url, response.header("Location"))
                continue
            break
        if response.status >= 400:
            load.failures.append(f"{target}: {response.status}")
        return response, body

    def load_ref(kind, ref, base):
        if ref.startswith("data:"):
            load.data_urls += 1
            if kind == "script":
                load.js_bytes += len(ref.encode())
            return
        url = urljoin(base, ref).split("#", 1)[0]
        if not url.startswith(origin + "/"):
            load.requests += 1
            load.external.append(url)
            return
        if url in seen:
            return
        seen.add(url)
        response, wire = get(url)
        content_type = response.header("Content-Type").lower()
        if kind == "script" or content_type.startswith(JS_TYPES):
            load.js_bytes += wire
        if content_type.startswith("text/css"):
            for child_kind, child in css_refs(response.body.decode("utf-8", "replace")):
                load_ref(child_kind, child, url)

    page_url = origin + path
    seen.add(page_url)
    response, _ = get(page_url)
    parser = SubresourceParser()
    parser.feed(response.body.decode("utf-8", "replace"))
    load.js_bytes += parser.inline_js
    for text in parser.inline_css:
        for kind, ref in css_refs(text):
            load_ref(kind, ref, page_url)
    for kind, ref in parser.refs:
        load_ref(kind, ref, page_url)
    if not parser.has_icon:
        load_ref("link", "/favicon.ico", page_url)
    return load


def weight_section(port: int, codes: list, targets: list) -> None:
    print("1. Cold load (empty cache, no cookie); bytes as nginx with gzip on (level 6) sends them")
    print(f"   {'page':<18} {'requests':>8} {'headers':>8} {'bodies':>8} {'total':>8} "
          f"{'(raw)':>8} {'JS':>4}   target")
    all_js, loads = 0, []
    for code in codes:
        for label, path in (("start", f"/{code}/"), ("report form", f"/{code}/report")):
            load = cold_load(port, path)
            all_js += load.js_bytes
            loads.append((path, load))
            note = ""
            if load.external:
                note += f"  external: {', '.join(load.external)}"
            if load.failures:
                note += f"  failed: {', '.join(load.failures)}"
            target = ""
            if label == "report form":
                ok = (load.total <= FORM_BYTES_TARGET and load.requests <= FORM_REQUESTS_TARGET
                      and not load.external and not load.failures)
                targets.append((f"/{code}/report cold <= {FORM_BYTES_TARGET} B in "
                                f"<= {FORM_REQUESTS_TARGET} requests", ok))
                target = (f"<= {FORM_BYTES_TARGET} B, <= {FORM_REQUESTS_TARGET} req  "
                          f"{verdict(ok)}")
            print(f"   {path:<18} {load.requests:>8} {load.header_bytes:>8} "
                  f"{load.body_bytes:>8} {load.total:>8} {load.raw_bytes:>8} "
                  f"{load.js_bytes:>4}   {target}{note}")
    ok = all_js == 0
    targets.append(("0 bytes of JavaScript on every page", ok))
    print(f"   JavaScript on all {len(loads)} pages: {all_js} B   target 0  {verdict(ok)}")
    path, load = loads[1]
    print(f"   {path} in detail:")
    for item, status, header, body, raw in load.items:
        print(f"     {item} {status}: {header} B headers + {body} B gzip body ({raw} B raw)")
    print(f"     {load.data_urls} data: URL (the icon), no request")
    print("   headers: gunicorn's as sent, with Content-Length set to the gzip length and")
    print("   Content-Encoding and Vary added; HTTP/1.1 text (HTTP/2 would compress them)")
    print()


# --------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def clean_env() -> dict:
    """This environment less every PORTAL_* variable: production defaults."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}


def prepare_instance(path: Path, port: int) -> dict:
    env = clean_env()
    env.update(PORTAL_BIND=f"{HOST}:{port}", PORTAL_WORKERS=str(WORKERS),
               PORTAL_INSTANCE_PATH=str(path))
    result = subprocess.run([str(PORTAL), "demo", "--no-run"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode:
        raise RuntimeError(f"portal demo --no-run failed:\n{result.stderr}")
    return env


def ensure_catalogs() -> list[str]:
    """Compile missing or stale messages.mo (git-ignored build output, as an install does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = []
    for po_path in sorted((ROOT / "translations").glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        compiled.append(po_path.parts[-3])
    return compiled


def _stat_fields(pid: int) -> list | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py, started and stopped by this process only."""

    def __init__(self, app: str, env: dict, port: int, ready_path: str, log: Path,
                 control: Path, chdir: Path | None = None):
        self.port = port
        self.log_path = log
        # Its own control socket, so that two servers can run at once.
        command = [str(GUNICORN), "-c", str(GUNICORN_CONF), "--control-socket", str(control)]
        if chdir:
            command += ["--chdir", str(chdir)]
        command.append(app)
        with log.open("ab") as handle:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                            stderr=handle)
        self.workers = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self._tail()}")
            self.workers = self._workers()
            if len(self.workers) >= WORKERS and self._answers(ready_path):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn not ready on {HOST}:{port} within 60 s:\n{self._tail()}")

    def _answers(self, path: str) -> bool:
        try:
            return request(self.port, "GET", path, timeout=5).status == 200
        except OSError:
            return False

    def _tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def _workers(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat_fields(int(entry.name))
                if fields and int(fields[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self, with_master: bool = False) -> float:
        """User + system CPU time of the workers (all threads), and of the master if asked."""
        total = 0
        for pid in self.workers + ([self.process.pid] if with_master else []):
            fields = _stat_fields(pid)
            if fields:
                total += int(fields[11]) + int(fields[12])
        return total / TICK

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# --------------------------------------------------------------------------
# 2. Load


@dataclass
class LoadResult:
    count: int
    errors: int
    elapsed: float
    latencies: list
    server_cpu: float
    client_cpu: float
    first_error: str = ""
    others: float = 0.0
    steal: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def p99(self) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / self.count if self.count else float("nan")


def run_load(server: Gunicorn, make, limit: int, seconds: float, clients: int,
             keepalive: bool) -> LoadResult:
    """``clients`` threads send ``make(i)`` = (method, path, headers, body, check) requests,
    at most ``limit`` of them, starting none after ``seconds``; the in-flight ones finish."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies, errors, first_error = [], [0], [""]
    deadline = time.monotonic() + seconds

    def connect():
        return http.client.HTTPConnection(HOST, server.port, timeout=120) if keepalive else None

    def client():
        connection = connect()
        mine = []
        try:
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter)
                if index >= limit:
                    break
                method, path, headers, body, check = make(index)
                start = time.perf_counter()
                try:
                    response = request(server.port, method, path, headers, body,
                                       connection=connection)
                    problem = check(response)
                except (OSError, http.client.HTTPException) as error:
                    problem = f"{type(error).__name__}: {error}"
                    if connection is not None:
                        connection.close()
                        connection = connect()
                took = time.perf_counter() - start
                if problem:
                    with lock:
                        errors[0] += 1
                        first_error[0] = first_error[0] or problem
                else:
                    mine.append(took)
        finally:
            if connection is not None:
                connection.close()
            with lock:
                latencies.extend(mine)

    cpu0, client0, start = server.cpu_seconds(), time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), errors[0], elapsed, latencies,
                      server.cpu_seconds() - cpu0, time.process_time() - client0, first_error[0])


def combine(parts: list) -> LoadResult:
    """One result from measurements of the same thing made in turns."""
    elapsed = sum(part.elapsed for part in parts)

    def weighted(name):
        return sum(getattr(part, name) * part.elapsed for part in parts) / elapsed if elapsed else 0

    return LoadResult(
        sum(part.count for part in parts), sum(part.errors for part in parts), elapsed,
        [latency for part in parts for latency in part.latencies],
        sum(part.server_cpu for part in parts), sum(part.client_cpu for part in parts),
        next((part.first_error for part in parts if part.first_error), ""),
        weighted("others"), weighted("steal"),
    )


def check_status(status: int, needle: bytes | None = None):
    def check(response: Response) -> str:
        if response.status != status:
            return f"status {response.status}: {response.body[:200]!r}"
        if needle is not None and needle not in response.body:
            return f"response lacks {needle!r}"
        return ""
    return check


@dataclass
class Prepared:
    cookie: str
    csrf: str
    facility: str = ""


def prepare_sessions(server: Gunicorn, path: str, cookie_name: str, count: int,
                     clients: int) -> list[Prepared]:
    """Up to ``count`` fresh sessions: GET the form, keep its cookie and CSRF token."""
    sessions, lock = [], threading.Lock()

    def check(response):
        if response.status != 200:
            return f"status {response.status}"
        cookie = cookie_from(response, cookie_name)
        if not cookie:
            return "no session cookie"
        option = FACILITY_OPTION.search(response.body.decode("utf-8", "replace"))
        prepared = Prepared(cookie, csrf_from(response.body), option.group(1) if option else "")
        with lock:
            sessions.append(prepared)
        return ""

    result = run_load(server, lambda _index: ("GET", path, {}, None, check), count,
                      PREPARE_SECONDS, clients, keepalive=False)
    if result.errors or not sessions:
        raise RuntimeError(f"preparing sessions failed: {result.first_error}")
    return sessions


def report_body(prepared: Prepared) -> tuple[bytes, str]:
    """A full, valid report as the browser sends it (empty file inputs included)."""
    empty_file = ("", b"", "application/octet-stream")
    return multipart([
        ("csrf_token", prepared.csrf),
        ("submission", ""),
        ("facility", prepared.facility),
        ("facility_other", ""),
        ("categories", "wages"),
        ("categories", "working_hours"),
        ("categories", "recruitment_fees"),
        ("description", LOREM * 2),
        ("when", "Every day since October"),
        ("ongoing", "yes"),
        ("people_affected", "many"),
        ("photo", empty_file),
        ("voice", empty_file),
        ("files", empty_file),
        ("contact", ""),
        ("consent", "without_identity"),
        ("website", ""),
    ])


def bare_body(prepared: Prepared, size: int = KB) -> tuple[bytes, str]:
    """A ``size``-byte POST for the bare app's form."""
    fields = [("csrf_token", prepared.csrf), ("name", "A worker"), ("description", ""),
              ("choice", "yes")]
    body, _ = multipart(fields)
    fields[2] = ("description", (LOREM * 4)[: max(1, size - len(body))])
    return multipart(fields)


class CpuMeter:
    """CPU used during a measurement by everything but the servers and this process."""

    def __init__(self, servers):
        self.servers = servers

    @staticmethod
    def _system():
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first.split()[1:9])
        return (user + nice + system + irq + softirq) / TICK, steal / TICK

    def _servers(self):
        return sum(server.cpu_seconds(with_master=True) for server in self.servers)

    def __enter__(self):
        self.start = self._system(), self._servers(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        (busy0, steal0), servers0, own0, wall0 = self.start
        busy1, steal1 = self._system()
        wall = time.perf_counter() - wall0
        used = (busy1 - busy0) - (self._servers() - servers0) - (time.process_time() - own0)
        self.others = max(0.0, used) / wall
        self.steal = (steal1 - steal0) / wall
        return False


def get_maker(path, check):
    def make(_index):
        return "GET", path, {}, None, check
    return make


def post_maker(server, path, sessions, body_for, check, cycle):
    def make(index):
        prepared = sessions[index % len(sessions)] if cycle else sessions[index]
        body, content_type = body_for(prepared)
        headers = {"Cookie": prepared.cookie, "Content-Type": content_type,
                   "Origin": f"http://{HOST}:{server.port}"}
        return "POST", path, headers, body, check
    return make


def measure(servers, server, make, limit, seconds, args) -> LoadResult:
    with CpuMeter(servers) as meter:
        result = run_load(server, make, limit, seconds, args.clients, args.keepalive)
    result.others, result.steal = meter.others, meter.steal
    return result


def in_turns(servers, contenders, seconds, slices, args) -> dict:
    """Measure each (key, server, make) for ``seconds`` in all, in alternating slices
    (A B B A A ...), so that a change in other load on the machine weighs on both alike."""
    parts = {key: [] for key, _, _ in contenders}
    for index in range(slices):
        for key, server, make in (contenders if index % 2 == 0 else contenders[::-1]):
            parts[key].append(measure(servers, server, make, 10**9, seconds / slices, args))
    return {key: combine(results) for key, results in parts.items()}


def report_posts(servers, server, form, args) -> tuple[LoadResult, tuple, int]:
    """Report submissions to ``server``: one fresh session each (a session submits once).
    A short run (which also warms up) tells how many sessions the timed POSTs can use."""
    receipt_check = check_status(200, b'class="receipt"')
    warm = prepare_sessions(server, form, "portal_session", 2 * args.clients, args.clients)
    calibration = run_load(server, post_maker(server, form, warm, report_body, receipt_check, False),
                           len(warm), 60, args.clients, args.keepalive)
    needed = int(calibration.rate * args.seconds * 1.5) + 2 * args.clients
    needed = max(2 * args.clients, min(needed, MAX_PREPARED_SESSIONS))
    start = time.perf_counter()
    sessions = prepare_sessions(server, form, "portal_session", needed, args.clients)
    prepared = (len(sessions), time.perf_counter() - start)
    result = measure(servers, server,
                     post_maker(server, form, sessions, report_body, receipt_check, False),
                     len(sessions), args.seconds, args)
    return result, prepared, len(report_body(sessions[0])[0])


def throughput(ours, light, bare, lang, args) -> dict:
    servers = [ours, light, bare]
    form = f"/{lang}/report"
    get_check = check_status(200, b"csrf_token")
    for server, path in ((ours, form), (bare, "/form")):  # warm-up
        run_load(server, get_maker(path, get_check), 10**9, 1.0, args.clients, args.keepalive)
    results = in_turns(servers, [("bare get", bare, get_maker("/form", get_check)),
                                 ("ours get", ours, get_maker(form, get_check))],
                       args.seconds, GET_SLICES, args)

    results["ours post"], results["prepared"], results["ours body"] = report_posts(
        servers, ours, form, args)
    results["light post"], results["light prepared"], _ = report_posts(servers, light, form, args)

    bare_sessions = prepare_sessions(bare, "/form", "session", BARE_POST_SESSIONS, args.clients)
    bare_post = post_maker(bare, "/form", bare_sessions, bare_body, check_status(200, b"ok"), True)
    run_load(bare, bare_post, 10**9, 1.0, args.clients, args.keepalive)  # warm-up
    results["bare post"] = measure(servers, bare, bare_post, 10**9, args.seconds, args)
    results["bare sessions"] = len(bare_sessions)
    results["bare body"] = len(bare_body(bare_sessions[0])[0])
    return results


def print_load(label: str, result: LoadResult) -> None:
    error = f"  errors {result.errors} ({result.first_error[:80]})" if result.errors else ""
    print(f"   {label:<18} {result.rate:8.1f} {result.p50 * 1e3:8.1f} {result.p99 * 1e3:8.1f} "
          f"{result.count:>6} {result.cpu_per_request * 1e3:9.2f} "
          f"{result.client_cpu / result.elapsed:7.2f} {result.others:7.2f} "
          f"{result.steal:6.2f}{error}")


def throughput_section(results, settings, lang, args, targets) -> None:
    print(f"   {'':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'n':>6} {'server':>9} "
          f"{'client':>7} {'others':>7} {'steal':>6}")
    print(f"   {'':<18} {'':>8} {'':>8} {'':>8} {'':>6} {'CPU ms/r':>9} {'cores':>7} "
          f"{'cores':>7} {'cores':>6}")
    print(f"   portal (production: Argon2id t={settings['RECEIPT_ARGON2_TIME_COST']}, "
          f"{settings['RECEIPT_ARGON2_MEMORY_KIB'] // 1024} MiB; SQLite instance)")
    print_load(f"GET /{lang}/report", results["ours get"])
    print_load(f"POST /{lang}/report", results["ours post"])
    count, took = results["prepared"]
    print(f"   POST: {count} sessions prepared first ({took:.1f} s), one per POST; body "
          f"{results['ours body']} B, a full valid report; each answer checked for its receipt")
    print("   portal, the same but Argon2id t=1, 8 KiB (~0.03 ms): the POST's other work alone")
    print_load(f"POST /{lang}/report", results["light post"])
    count, took = results["light prepared"]
    print(f"   POST: {count} sessions prepared first ({took:.1f} s), one per POST, the same body")
    print("   bare Flask app (bench/bare_app.py: Flask-WTF form with CSRF, cookie session)")
    print_load("GET /form", results["bare get"])
    print_load("POST /form", results["bare post"])
    print(f"   POST: {results['bare sessions']} sessions used in turn (Flask-WTF tokens are "
          f"reusable); body {results['bare body']} B")
    print("   server CPU: the gunicorn workers' user+system time per request; client: this")
    print("   process; others: CPU used meanwhile by every other process on the machine;")
    print("   steal: taken by the hypervisor")
    busiest = max(results[key].others
                  for key in ("ours get", "ours post", "light post", "bare get", "bare post"))
    if busiest > 0.25:
        print(f"   note: other processes kept up to {busiest:.2f} of the {os.cpu_count()} cores "
              "busy meanwhile: absolute rates are lower")
        print("   than on an idle machine; the GETs of both servers were measured in alternating")
        print("   slices, so their ratio is affected less")
    print()
    print(f"   {'ratio ours/bare':<26} {'req/s':>8}   target")
    for label, mine, theirs, target in (
            ("form GET", results["ours get"], results["bare get"], GET_RATIO_TARGET),
            ("POST outside Argon2id", results["light post"], results["bare post"], POST_RATIO_TARGET),
            ("POST with Argon2id", results["ours post"], results["bare post"], None)):
        ratio = mine.rate / theirs.rate if theirs.rate else 0.0
        cpu = theirs.cpu_per_request / mine.cpu_per_request if mine.count else 0.0
        if target is None:
            goal = "(no target: the Argon2id is priced on its own)"
        else:
            ok = ratio >= target and not mine.errors and not theirs.errors
            targets.append((f"{label} >= {target}x the bare app's POST"
                            if "POST" in label else f"{label} >= {target}x the bare app", ok))
            goal = f">= {target}x  {verdict(ok)}"
        print(f"   {label:<26} {ratio:7.3f}x   {goal}   (server CPU per request: {cpu:.3f}x)")
    light, bare = results["light post"], results["bare post"]
    print(f"   the POST's other work: {light.cpu_per_request * 1e3:.2f} ms of server CPU per POST "
          f"against the bare POST's {bare.cpu_per_request * 1e3:.2f} ms")
    print()


# --------------------------------------------------------------------------
# 3. Where the time goes, in this process

GET_GROUPS = [
    # (label, [(path fragment, function name, or None for every function there)])
    ("render_template (Jinja2 + WTForms widgets)",
     [("flask/templating.py", "render_template")]),
    ("  WTForms field rendering (widgets, html_params)", [("wtforms/meta.py", "render_field")]),
    ("  translations (flask_babel gettext, lazy strings)", [("flask_babel/", None)]),
    ("ReportForm() construction (16 fields bound)", [("portal/web/reporter/forms.py", "__init__")]),
    ("_facility_choices (query + Babel territories)",
     [("portal/web/reporter/pages.py", "_facility_choices")]),
    ("server session open + save (SQLite write)",
     [("portal/web/common/sessions.py", "open_session"), ("portal/web/common/sessions.py", "save_session")]),
    ("CSRF token (flask_wtf generate_csrf)", [("flask_wtf/csrf.py", "generate_csrf")]),
    ("layout.context (language list)", [("portal/web/common/layout.py", "context")]),
    ("SQLAlchemy, all calls", [("sqlalchemy", None)]),
    ("Babel (babel package), all calls", [("/babel/", None)]),
]
DERIVE_LABEL = "  the receipt's Argon2id (argon2 hash_secret_raw)"
SUBMIT_LABEL = "intake.submit, except the Argon2id"
POST_GROUPS = [
    (SUBMIT_LABEL, [("portal/services/intake.py", "submit")]),
    (DERIVE_LABEL, [("argon2/low_level.py", "hash_secret_raw")]),
    ("  receipts.derive_keys less the Argon2id (HKDF, identity)",
     [("portal/services/receipts.py", "_expand"), ("crypto/hybrid.py", "__init__")]),
    ("  crypto.encrypt (age, 4 hybrid recipients)", [("crypto/age.py", "encrypt")]),
    ("  crypto/bech32.py, all calls (key strings)", [("crypto/bech32.py", None)]),
    ("  HybridIdentity (ML-KEM-768 key from seed)", [("crypto/hybrid.py", "__init__")]),
    ("  typed_text.reporter_text (the texts made plain)",
     [("portal/services/typed_text.py", "reporter_text")]),
    ("request.form (multipart parsing)", [("werkzeug/formparser.py", "parse")]),
    ("Flask-WTF validate_on_submit", [("flask_wtf/form.py", "validate_on_submit")]),
    ("ReportForm() (parses the body) + _facility_choices",
     [("portal/web/reporter/forms.py", "__init__"), ("portal/web/reporter/pages.py", "_facility_choices")]),
    ("receipt page render_template", [("flask/templating.py", "render_template")]),
    ("server session open + save",
     [("portal/web/common/sessions.py", "open_session"), ("portal/web/common/sessions.py", "save_session")]),
    ("SQLAlchemy, all calls", [("sqlalchemy", None)]),
]


def group_seconds(stats: dict, patterns) -> float:
    """Time spent in the matched functions, counted once: from callers outside the group."""
    def matches(key):
        return any(fragment in key[0] and (name is None or key[2] == name)
                   for fragment, name in patterns)

    matched = {key for key in stats if matches(key)}
    total = 0.0
    for key in matched:
        callers = stats[key][4]
        if not callers:
            total += stats[key][3]
        for caller, figures in callers.items():
            if caller not in matched:
                total += figures[3]
    return total


def profile_shares(profiler, groups) -> list:
    stats = pstats.Stats(profiler).stats
    total = group_seconds(stats, [("flask/app.py", "wsgi_app")])
    return [(label, group_seconds(stats, patterns) / total if total else 0.0)
            for label, patterns in groups]


def in_process_breakdown(instance_path: Path, runs: int, full_profile: bool) -> dict:
    """Timings and profiles of the form GET and the POST, with the Flask test client."""
    from argon2.low_level import Type, hash_secret_raw

    from portal import create_app
    from portal.services import receipts

    settings = portal_config.load(environ={}, overrides={"INSTANCE_PATH": str(instance_path),
                                                         "LOG_LEVEL": "WARNING"})
    app = create_app(dict(settings))
    client = app.test_client()
    base = "https://localhost"  # production cookies are Secure

    def open_form():
        client._cookies.clear()
        page = client.get("/en/report", base_url=base)
        assert page.status_code == 200, page.status_code
        body = page.get_data()
        option = FACILITY_OPTION.search(body.decode())
        return Prepared("", csrf_from(body), option.group(1)), dict(client._cookies)

    def submit(prepared, cookies):
        client._cookies.clear()
        client._cookies.update(cookies)
        body, content_type = report_body(prepared)
        response = client.post("/en/report", data=body, content_type=content_type, base_url=base)
        assert response.status_code == 200, response.status_code
        assert b'class="receipt"' in response.get_data(), "no receipt"

    for _ in range(2):  # warm-up: templates compiled, catalogs loaded
        submit(*open_form())

    get_times = []
    for _ in range(max(runs * 3, 20)):
        start = time.thread_time()
        open_form()
        get_times.append(time.thread_time() - start)

    # The Argon2id is timed inside each POST, so "the rest" is per request. It runs in the
    # server's Argon2id pool (work_slots), another thread: the POST's thread time does not hold
    # it then, and "the rest" is that time whole; only one run on the POST's own thread is taken off.
    post_times, derive_times, derive_on_post_thread = [], [], []
    original = receipts.hash_secret_raw
    post_thread = threading.get_ident()

    def timed_argon2(*arguments, **keywords):
        start = time.thread_time()
        try:
            return original(*arguments, **keywords)
        finally:
            derive_times.append(time.thread_time() - start)
            derive_on_post_thread.append(threading.get_ident() == post_thread)

    receipts.hash_secret_raw = timed_argon2
    try:
        for prepared, cookies in [open_form() for _ in range(runs)]:
            start = time.thread_time()
            submit(prepared, cookies)
            post_times.append(time.thread_time() - start)
    finally:
        receipts.hash_secret_raw = original
    if len(derive_times) != len(post_times):
        raise RuntimeError("the receipt's Argon2id did not run once per submission")

    salt = os.urandom(32)
    argon_times = []
    for index in range(runs):
        start = time.thread_time()
        hash_secret_raw(str(10**15 + index).encode(), salt,
                        time_cost=settings["RECEIPT_ARGON2_TIME_COST"],
                        memory_cost=settings["RECEIPT_ARGON2_MEMORY_KIB"],
                        parallelism=1, hash_len=32, type=Type.ID)
        argon_times.append(time.thread_time() - start)

    get_profiler = cProfile.Profile()
    get_profiler.enable()
    for _ in range(GET_PROFILE_REQUESTS):
        open_form()
    get_profiler.disable()
    # The POST waits for its Argon2id in the pool's thread: on the wall clock that wait would
    # count as intake.submit's own time. The thread's CPU time counts this thread's work alone.
    post_profiler = cProfile.Profile(time.thread_time)
    for prepared, cookies in [open_form() for _ in range(runs)]:
        post_profiler.enable()
        submit(prepared, cookies)
        post_profiler.disable()

    rests = [post - derive if own else post
             for post, derive, own in zip(post_times, derive_times, derive_on_post_thread)]
    pairs = list(zip(rests, derive_times))
    result = {
        "get": statistics.median(get_times),
        "get runs": len(get_times),
        "post": statistics.median(post_times),
        "argon2 in post": statistics.median(derive_times),
        "rest": statistics.median(rests),
        "derive share": statistics.median(derive / (rest + derive) for rest, derive in pairs),
        "argon2": statistics.median(argon_times),
        "time_cost": settings["RECEIPT_ARGON2_TIME_COST"],
        "memory_kib": settings["RECEIPT_ARGON2_MEMORY_KIB"],
        "get shares": profile_shares(get_profiler, GET_GROUPS),
        "post shares": profile_shares(post_profiler, POST_GROUPS),
        "listings": {},
    }
    if full_profile:
        for label, profiler in ((f"form GET, {GET_PROFILE_REQUESTS} requests", get_profiler),
                                (f"submission POST, {runs} requests", post_profiler)):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
            result["listings"][label] = out.getvalue()
    app.extensions["portal.engine"].dispose()
    return result


def share_line(label: str, share: float, total: float) -> str:
    return f"   {label:<52} {share:6.1%}  {share * total * 1e3:8.2f} ms"


def breakdown_section(instance_path, results, args) -> None:
    print("3. Where the time goes (in this process: Flask test client, one thread, the same")
    print("   instance; CPU time of the thread, so other processes on the machine do not count)")
    breakdown = in_process_breakdown(instance_path, args.runs, args.profile)
    post, get, rest = breakdown["post"], breakdown["get"], breakdown["rest"]
    argon_label = (f"Argon2id alone (t={breakdown['time_cost']}, "
                   f"{breakdown['memory_kib'] // 1024} MiB, p=1), median of {args.runs}")
    rows = [
        (f"form GET (new session), median of {breakdown['get runs']}", get, ""),
        (f"submission POST, median of {args.runs}", post, ""),
        ("  the receipt's Argon2id inside it, median", breakdown["argon2 in post"],
         f"{breakdown['derive share']:.1%} of the POST (median per POST)"),
        ("  the rest of the POST, median per POST", rest, ""),
        (argon_label, breakdown["argon2"], ""),
    ]
    for label, seconds, note in rows:
        print(f"   {label:<52} {seconds * 1e3:8.2f} ms  {note}")
    ours, bare = results["ours post"], results["bare post"]
    light = results["light post"]
    print(f"   under load (part 2): {ours.cpu_per_request * 1e3:.1f} ms of worker CPU per POST, "
          f"Argon2id ~{min(breakdown['argon2'] / ours.cpu_per_request, 1):.0%} of it; "
          f"{light.cpu_per_request * 1e3:.2f} ms with a negligible Argon2id; "
          f"the bare POST: {bare.cpu_per_request * 1e3:.2f} ms")

    print()
    print("   form GET by part: share of the request under cProfile, ms = share x median GET")
    for label, share in breakdown["get shares"]:
        print(share_line(label, share, get))
    shares = dict(breakdown["post shares"])
    outside = 1 - shares[DERIVE_LABEL]
    print()
    print(f"   the POST's rest ({rest * 1e3:.2f} ms) by part: share of the profiled time outside")
    print("   the Argon2id, ms = share x that rest")
    for label, share in breakdown["post shares"]:
        if label == DERIVE_LABEL:
            continue
        if label == SUBMIT_LABEL:
            share -= shares[DERIVE_LABEL]
        print(share_line(label, share / outside if outside > 0 else 0.0, rest))
    for label, text in breakdown["listings"].items():
        print()
        print(f"   cProfile, {label}")
        print(text)
    print()


# --------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the reporter's pages.")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of each throughput measurement (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--keepalive", action="store_true",
                        help="one connection per client (default: one per request)")
    parser.add_argument("--runs", type=int, default=9,
                        help="POSTs timed in process (default 9)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile listings")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 60 and 1 <= args.clients <= 64 and 1 <= args.runs <= 50):
        parser.error("--seconds in (0, 60], --clients in [1, 64], --runs in [1, 50]")

    targets = []
    print("Reporter pages benchmark")
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
          f"gunicorn {WORKERS} workers ({GUNICORN_CONF.relative_to(ROOT)}); "
          f"load average {os.getloadavg()[0]:.2f}")
    compiled = ensure_catalogs()
    if compiled:
        print(f"compiled translations/*/messages.mo for {', '.join(compiled)} "
              "(git-ignored build output)")
    print()

    with tempfile.TemporaryDirectory(prefix="reporter-bench-") as directory:
        directory = Path(directory)
        log = directory / "gunicorn.log"
        port = free_port()
        instance_path = directory / "instance"
        env = prepare_instance(instance_path, port)
        settings = portal_config.load(environ=env)
        codes = [i18n.url_code(language) for language in settings["LANGUAGES"]]
        lang = codes[0]

        bare_port = free_port()
        bare_env = clean_env()
        bare_env.update(PORTAL_BIND=f"{HOST}:{bare_port}", PORTAL_WORKERS=str(WORKERS),
                        BARE_SECRET_KEY=secrets.token_hex(32))
        servers = []
        try:
            ours = Gunicorn("portal.wsgi:app", env, port, f"/{lang}/", log,
                            directory / "portal.ctl")
            servers.append(ours)
            light_port = free_port()
            light_env = dict(env, PORTAL_BIND=f"{HOST}:{light_port}", **NEGLIGIBLE_ARGON2)
            light = Gunicorn("portal.wsgi:app", light_env, light_port, f"/{lang}/", log,
                             directory / "light.ctl")
            servers.append(light)
            bare = Gunicorn("bare_app:app", bare_env, bare_port, "/form", log,
                            directory / "bare.ctl", chdir=BENCH)
            servers.append(bare)

            weight_section(port, codes, targets)
            print(f"2. Throughput: {args.clients} concurrent clients, {args.seconds:g} s per "
                  f"measurement, {'keep-alive' if args.keepalive else 'a connection per request'}")
            results = throughput(ours, light, bare, lang, args)
        finally:
            for server in servers:
                server.stop()
        throughput_section(results, settings, lang, args, targets)
        breakdown_section(instance_path, results, args)

    passed = sum(ok for _, ok in targets)
    print(f"Targets: {passed}/{len(targets)} PASS")
    for description, ok in targets:
        if not ok:
            print(f"  FAIL: {description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
