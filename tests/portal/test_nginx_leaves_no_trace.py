"""The shipped nginx site keeps nothing a worker sends or an investigator downloads on the
disk, names no software, and writes no client's address: run for real by this machine's nginx
(tests/nginx_site.py) in front of an upstream that stops at every point where the test looks,
and in front of the real portal under gunicorn.

nginx unlinks a temporary file as soon as it has opened it, so that a spooled upload is seen
only through the workers' open descriptors: the test looks there and on the folder tree while
the upload is under way, at every stop of the upstream, and after."""

import hashlib
import http.client
import http.server
import io
import json
import queue
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from http_client import Browser
from live_server import Server
from nginx_site import NginxSite, a_tls_greeting_with_a_broken_key_share, in_ci
from PIL import Image

STOP_EVERY = 512 * 1024  # the upstream stops for a look after each half MiB it reads
WAIT_SECONDS = 30  # for a step that must come; a site that spools never gets there
# A download nobody reads: the upstream stops when nginx has taken no byte for this long.
STALL_SECONDS = 1


def marked(size: int, marker: bytes) -> bytes:
    """``size`` bytes of evidence, the marker all through it."""
    unit = marker + b"-evidence-"
    return (unit * (size // len(unit) + 1))[:size]


class Lockstep:
    """The upstream stops where the test wants to look and goes on when it has looked; a
    client that ends says so through the same queue."""

    def __init__(self):
        self.reached, self.go_on = queue.Queue(), queue.Queue()

    def stop(self, what):
        self.reached.put(what)
        self.go_on.get(timeout=WAIT_SECONDS)

    def next(self, doing: str):
        try:
            return self.reached.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            pytest.fail(f"{doing}: nothing reached the upstream within {WAIT_SECONDS} s (nginx held the body back?)")


class _Portal(http.server.BaseHTTPRequestHandler):
    """Stands in for gunicorn: reads a body as it comes and answers its length and digest; sends
    evidence of the asked size; drops the connection on /broken (nginx answers 502)."""

    protocol_version = "HTTP/1.1"

    def body_pieces(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().split(b";")[0], 16):
                yield self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", 0))
            while left:
                piece = self.rfile.read1(min(left, 65536))
                left -= len(piece)
                yield piece

    def do_POST(self):  # noqa: N802 (the standard library's name)
        digest, length, next_stop = hashlib.sha256(), 0, 1
        for piece in self.body_pieces():
            digest.update(piece)
            length += len(piece)
            if length >= next_stop:
                self.server.lockstep.stop(("read", length))
                next_stop = length + STOP_EVERY
        self.answer(json.dumps({"length": length, "sha256": digest.hexdigest()}).encode(), "application/json")

    def do_GET(self):  # noqa: N802
        if self.path == "/broken":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        size, marker = self.path.removeprefix("/evidence/").split("/")
        body = marked(int(size), marker.encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.connection.settimeout(STALL_SECONDS)
        sent, stalled = 0, False
        while sent < len(body):
            try:
                sent += self.connection.send(body[sent:sent + 65536])
            except TimeoutError:
                stalled = True
                self.server.lockstep.stop(("stalled", sent))
                self.connection.settimeout(None)
        self.connection.settimeout(None)
        if not stalled:
            self.server.lockstep.stop(("taken whole while nobody read", sent))

    def answer(self, body: bytes, content_type: str):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_arguments):
        pass


@pytest.fixture
def portal_and_site(tmp_path):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    upstream.daemon_threads = True
    upstream.lockstep = Lockstep()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with NginxSite(tmp_path, upstream.server_address[1]) as site:
            yield upstream.lockstep, site
    finally:
        upstream.shutdown()


def connection(site: NginxSite, block: str, receive_buffer: int | None = None) -> http.client.HTTPConnection:
    """A client of the HTTPS block or the onion block; with a small receive buffer, one that
    can keep an answer waiting in nginx."""
    port = site.tls_port if block == "tls" else site.onion_port
    raw = socket.socket()
    if receive_buffer:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    raw.settimeout(WAIT_SECONDS)
    raw.connect(("127.0.0.1", port))
    if block == "tls":
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        raw = insecure.wrap_socket(raw, server_hostname="portal.example.org")
        made = http.client.HTTPSConnection("127.0.0.1", port, timeout=WAIT_SECONDS)
    else:
        made = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_SECONDS)
    made.sock = raw
    return made


def assert_names_no_software(answer: http.client.HTTPResponse, body: bytes = b""):
    assert answer.getheader("Server") is None, answer.getheader("Server")
    assert b"nginx" not in body.lower() and b"gunicorn" not in body.lower(), body[:300]


# The uploads: sizes under and over nginx's buffer, a few MB, chunked, and one sent in two
# parts with a pause between them; to a report's address and to the partners' bundle address.
UPLOADS = [
    ("small", "/en/report", 1024, "length"),
    ("bigger than the buffer", "/en/report", 300 * 1024, "length"),
    ("a few MB", "/en/report", 3 * 1024 * 1024, "length"),
    ("chunked", "/en/report", 2 * 1024 * 1024, "chunked"),
    ("half now, half later", "/en/report", 1024 * 1024, "paused"),
    ("a partner's bundle, chunked", "/api/v1/bundles", 2 * 1024 * 1024, "chunked"),
]


def test_uploads_pass_through_both_blocks_to_the_portal_without_a_file_on_the_disk(portal_and_site):
    lockstep, site = portal_and_site
    for block in ("tls", "onion"):
        for name, path, size, framing in UPLOADS:
            if path.startswith("/api/") and block == "onion":
                continue  # partners reach the HTTPS address only
            doing = f"{block}: {name}"
            marker = secrets.token_hex(8).encode()
            body = marked(size, marker)
            first_look = threading.Event()

            def pieces(body=body, framing=framing, first_look=first_look):
                for start in range(0, len(body), 64 * 1024):
                    if framing == "paused" and start == len(body) // 2:
                        # The rest only once the portal has had the first half: nginx must pass
                        # a body on as it comes, not wait for all of it.
                        first_look.wait(WAIT_SECONDS)
                    yield body[start:start + 64 * 1024]

            def send(path=path, size=size, framing=framing, pieces=pieces):
                client = connection(site, block)
                headers = {"Host": "portal.example.org", "Content-Type": "application/octet-stream"}
                if framing == "chunked":
                    headers["Transfer-Encoding"] = "chunked"
                else:
                    headers["Content-Length"] = str(size)
                try:
                    client.request("POST", path, body=pieces(), headers=headers, encode_chunked=framing == "chunked")
                    answer = client.getresponse()
                    lockstep.reached.put(("answered", answer, answer.read()))
                except Exception as error:  # the test thread reports it
                    lockstep.reached.put(("failed", error, b""))
                finally:
                    client.close()

            threading.Thread(target=send, daemon=True).start()
            stops = 0
            while (step := lockstep.next(doing))[0] == "read":
                stops += 1
                assert site.files_in_temporary_folders() == [], f"{doing}: at {step[1]} bytes"
                first_look.set()
                lockstep.go_on.put(None)
            kind, answer, answered = step
            assert kind == "answered", f"{doing}: {answer!r}"
            assert answer.status == 200, (doing, answered)
            assert json.loads(answered) == {"length": size, "sha256": hashlib.sha256(body).hexdigest()}, doing
            assert stops >= size // STOP_EVERY, doing  # the upstream did stop for every look
            assert_names_no_software(answer)
            assert site.files_in_temporary_folders() == [], doing


def test_an_upload_over_http2_streams_through_without_a_file_on_the_disk(portal_and_site, tmp_path):
    curl = shutil.which("curl")
    if curl is None or "HTTP2" not in subprocess.run([curl, "-V"], capture_output=True, text=True).stdout:
        message = "curl with HTTP/2 was not found: install the Debian package `curl`"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    lockstep, site = portal_and_site
    marker = secrets.token_hex(8).encode()
    evidence = tmp_path / "evidence.bin"
    evidence.write_bytes(marked(3 * 1024 * 1024, marker))
    # With a length, and read from a pipe without one (a body whose end nginx learns at the end).
    for source in (["--data-binary", f"@{evidence}"], ["-T", "-", "-X", "POST"]):
        command = [curl, "--silent", "--show-error", "--http2", "--insecure", "--max-time", str(WAIT_SECONDS),
                   "--dump-header", "-", "-H", "Content-Type: application/octet-stream", *source,
                   f"https://127.0.0.1:{site.tls_port}/en/report"]
        client = subprocess.Popen(command, stdin=evidence.open("rb"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        threading.Thread(target=lambda client=client: lockstep.reached.put(("answered", *client.communicate())),
                         daemon=True).start()
        while (step := lockstep.next(f"HTTP/2 {source}"))[0] == "read":
            assert site.files_in_temporary_folders() == [], f"HTTP/2 {source}: at {step[1]} bytes"
            lockstep.go_on.put(None)
        _kind, output, errors = step
        head, _, answered = output.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/2 200"), (head, errors)
        assert json.loads(answered)["sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
        assert b"\nserver:" not in head.lower(), head
        assert site.files_in_temporary_folders() == []


def more_than_the_sockets_between_the_portal_and_a_reader_hold() -> int:
    """The portal's sending buffer, nginx's receiving one and nginx's sending one grow at most to
    this machine's limits (the reader's is set small), plus 8 MiB for the rest."""
    receive_most = int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[2])
    send_most = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return receive_most + 2 * send_most + 8 * 1024 * 1024


def test_a_download_to_a_slow_reader_waits_in_memory_not_on_the_disk(portal_and_site):
    """A decrypted file an investigator downloads over a slow line: nginx takes what its memory
    buffers hold and then waits for the reader, instead of writing the rest to a file."""
    lockstep, site = portal_and_site
    size = more_than_the_sockets_between_the_portal_and_a_reader_hold()
    for block in ("tls", "onion"):
        marker = secrets.token_hex(8).encode()
        client = connection(site, block, receive_buffer=16 * 1024)
        client.request("GET", f"/evidence/{size}/{marker.decode()}", headers={"Host": "portal.example.org"})
        # The reader reads nothing until the portal could send no more.
        kind, sent = lockstep.next(f"{block}: download")
        assert kind == "stalled", f"{block}: nginx took all {sent} bytes while nobody read them"
        assert sent < size
        assert site.files_in_temporary_folders() == [], f"{block}: after {sent} bytes"
        lockstep.go_on.put(None)
        answer = client.getresponse()
        body = answer.read()
        client.close()
        assert answer.status == 200 and body == marked(size, marker), block
        assert_names_no_software(answer)
        assert site.files_in_temporary_folders() == []


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as raw:
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
        return answer


def test_no_answer_names_the_software_and_no_log_holds_a_clients_address(portal_and_site):
    _lockstep, site = portal_and_site
    for block in ("tls", "onion"):
        # The portal is down or breaks off: nginx's own 502.
        client = connection(site, block)
        client.request("GET", "/broken", headers={"Host": "portal.example.org"})
        answer = client.getresponse()
        assert answer.status == 502
        assert_names_no_software(answer, answer.read())
        client.close()
        # Too big for the portal's cap, refused before a byte of it is read: nginx's own 413.
        client = connection(site, block)
        client.putrequest("POST", "/en/report", skip_host=True)
        client.putheader("Host", "portal.example.org")
        client.putheader("Content-Length", str(80 * 1024 * 1024))
        client.endheaders()
        answer = client.getresponse()
        assert answer.status == 413
        assert_names_no_software(answer, answer.read())
        client.close()
    # Requests nginx cannot read: its own 400 (plain and inside TLS) and a broken TLS handshake.
    for data in (b"NOT HTTP AT ALL \x00\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"):
        answered = raw_exchange(site.onion_port, data)
        assert answered.startswith(b"HTTP/1.1 400"), answered[:100]
        assert b"\r\nserver:" not in answered.lower() and b"nginx" not in answered.lower(), answered
    for greeting in (b"\x16\x03\x01\x00\x05hello, not TLS\r\n\r\n", a_tls_greeting_with_a_broken_key_share()):
        answered = raw_exchange(site.tls_port, greeting)
        assert b"nginx" not in answered.lower()
    # The page nginx keeps for its own errors is not an address of its own.
    client = connection(site, "tls")
    client.request("GET", "/.nginx-error", headers={"Host": "portal.example.org"})
    answer = client.getresponse()
    assert answer.status == 404
    assert_names_no_software(answer, answer.read())
    client.close()
    answered = raw_exchange(site.redirect_port, b"GET /en/ HTTP/1.1\r\nHost: portal.example.org\r\n\r\n")
    assert answered.startswith(b"HTTP/1.1 301") and b"\r\nlocation: https://portal.example.org/en/\r\n" in \
        answered.lower(), answered[:300]
    assert b"\r\nserver:" not in answered.lower() and b"nginx" not in answered.lower(), answered[:300]
    site.stop()  # every line written and the files closed
    logs = site.written_logs()
    assert "client:" not in logs and "127.0.0.1" not in logs, logs


def a_photo_of(size: int) -> bytes:
    """A PNG of about ``size`` bytes: noise, which no compression makes smaller."""
    side = int((size // 3) ** 0.5)
    picture = Image.frombytes("RGB", (side, side), secrets.token_bytes(side * side * 3))
    kept = io.BytesIO()
    picture.save(kept, "PNG", compress_level=1)
    return kept.getvalue()


def test_a_worker_sends_a_report_with_a_large_photo_through_the_site_to_the_real_portal(
        database_url, session_factory, recovery_identity, investigators, facility_ids, tmp_path):
    """The real portal under gunicorn, behind the shipped site: a report with a 3 MB photo
    reaches it through the onion block as the phone sends it, and gets its receipt; the
    portal's pages reach the worker through both blocks naming no software."""
    portal = Server(database_url, tmp_path / "instance", tmp_path / "gunicorn.log", workers=1).start()
    (tmp_path / "nginx").mkdir()
    site = NginxSite(tmp_path / "nginx", portal.port).start()
    try:
        onion = f"http://127.0.0.1:{site.onion_port}"
        worker = Browser()
        form = worker.get(f"{onion}/en/report")
        assert form.status == 200
        fields = {"csrf_token": form.csrf(), "facility": str(facility_ids[0]), "categories": "wages",
                  "description": "Overtime unpaid since October.", "ongoing": "yes", "people_affected": "many",
                  "consent": "without_identity", "recipient_choice": "contractor"}
        photo = a_photo_of(3 * 1024 * 1024)
        sent = worker.post_files(f"{onion}/en/report", fields, {"files": ("IMG_2231.png", photo, "image/png")})
        assert sent.status == 200, sent.text[:500]
        assert sent.receipt()
        assert site.files_in_temporary_folders() == []
        for block in ("tls", "onion"):
            client = connection(site, block)
            client.request("GET", "/en/", headers={"Host": "portal.example.org"})
            answer = client.getresponse()
            assert answer.status == 200
            assert_names_no_software(answer, answer.read())
            client.close()
    finally:
        site.stop()
        portal.stop()
    assert "127.0.0.1" not in site.written_logs()
