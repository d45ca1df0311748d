"""Bench: does the shipped nginx site write uploads or downloads to its disk? (issue 16, goal 5)

    PYTHONPATH=. .venv/bin/python bench/nginx_disk_bench.py [--site deploy/nginx/portal.conf]
                                                             [--parallel 20]

Runs the site (or another version of it, --site, e.g. the one before issue 16 from
`git show`) with this machine's nginx, as tests/nginx_site.py renders it: loopback ports,
nginx's temporary folders in a temporary folder. Behind it, a stand-in portal on a loopback
port reads every body as fast as it comes and sends downloads of the asked size.

Through the HTTPS block (HTTP/1.1) and the onion block, it sends uploads of 1 KiB, 300 KiB,
3 MiB, 20 MiB and 75 MiB (the portal's cap) with a length, 20 MiB chunked, and --parallel
uploads of 3 MiB at once; and it downloads 64 MiB to a reader that takes 256 KiB every
10 ms. Meanwhile a sampler looks every millisecond into nginx's temporary folders and the
workers' open files (nginx unlinks a temporary file at once: only an open descriptor shows
it) and records the most bytes they held. Then it provokes a refused request, a portal that
breaks off and a TLS greeting with a broken key share, and reads every log nginx wrote.

Prints, per case, the time taken, the throughput, the temporary files seen and the most
bytes they held, nginx's peak worker memory (VmHWM) and the Server headers seen; then the
log lines holding a client's address. Targets (issue 16): no temporary file ever, no
Server header, no address in any log; each is said to be met (PASS) or not (FAIL).
A sampler misses a file that lives less than its interval: the tests
(tests/portal/test_nginx_leaves_no_trace.py) stop the upstream where they look instead.
Only 127.0.0.1 is contacted. Always exits 0.
"""

import argparse
import hashlib
import http.client
import http.server
import os
import re
import secrets
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from nginx_site import SITE, NginxSite, a_tls_greeting_with_a_broken_key_share  # noqa: E402

MIB = 1024 * 1024


class _Portal(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (the standard library's name)
        digest, length = hashlib.sha256(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().split(b";")[0], 16):
                piece = self.rfile.read(size)
                digest.update(piece)
                length += len(piece)
                self.rfile.readline()
            self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", 0))
            while left:
                piece = self.rfile.read1(min(left, 256 * 1024))
                digest.update(piece)
                length += len(piece)
                left -= len(piece)
        self.answer(f"{length} {digest.hexdigest()}".encode())

    def do_GET(self):  # noqa: N802
        if self.path == "/broken":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        size = int(self.path.rsplit("/", 1)[1])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = secrets.token_bytes(MIB)
        for start in range(0, size, MIB):
            self.wfile.write(block[:min(MIB, size - start)])

    def answer(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_arguments):
        pass


class Sampler:
    """Looks into nginx's temporary folders and its workers' open files, again and again."""

    def __init__(self, site: NginxSite):
        self.site, self.seen, self.most_bytes, self.peak_kib = site, set(), 0, 0
        self.running = threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        folders = tuple(f"{folder}/" for folder in self.site.temporary_folders)
        while self.running.is_set():
            held = 0
            for worker in self.site.workers():
                try:
                    status = Path(f"/proc/{worker}/status").read_text()
                    self.peak_kib = max(self.peak_kib, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))
                    descriptors = list(Path(f"/proc/{worker}/fd").iterdir())
                except (OSError, AttributeError):
                    continue
                for descriptor in descriptors:
                    try:
                        target = os.readlink(descriptor)
                        if target.startswith(folders):
                            self.seen.add(f"{worker}:{target}")
                            held += os.stat(descriptor).st_size
                    except OSError:
                        continue
            self.most_bytes = max(self.most_bytes, held)
            time.sleep(0.001)

    def take(self) -> tuple[int, int]:
        seen, most = len(self.seen), self.most_bytes
        self.seen, self.most_bytes = set(), 0
        return seen, most


def client(site: NginxSite, block: str, receive_buffer: int | None = None) -> http.client.HTTPConnection:
    port = site.tls_port if block == "tls" else site.onion_port
    raw = socket.socket()
    if receive_buffer:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    raw.settimeout(120)
    raw.connect(("127.0.0.1", port))
    if block == "tls":
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        raw = insecure.wrap_socket(raw, server_hostname="portal.example.org")
    made = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    made.sock = raw
    return made


def upload(site, block, size, chunked=False):
    body = secrets.token_bytes(size)
    connection = client(site, block)
    headers = {"Host": "portal.example.org", "Content-Type": "application/octet-stream"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        pieces = (body[start:start + 256 * 1024] for start in range(0, size, 256 * 1024))
        connection.request("POST", "/en/report", body=pieces, headers=headers, encode_chunked=True)
    else:
        connection.request("POST", "/en/report", body=body, headers=headers)
    answer = connection.getresponse()
    answered = answer.read()
    connection.close()
    whole = answered == f"{size} {hashlib.sha256(body).hexdigest()}".encode()
    return answer.status == 200 and whole, answer.getheader("Server")


def slow_download(site, block, size):
    connection = client(site, block, receive_buffer=16 * 1024)
    connection.request("GET", f"/evidence/{size}", headers={"Host": "portal.example.org"})
    answer = connection.getresponse()
    got = 0
    while piece := answer.read(256 * 1024):
        got += len(piece)
        time.sleep(0.01)
    connection.close()
    return answer.status == 200 and got == size, answer.getheader("Server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, default=SITE)
    parser.add_argument("--parallel", type=int, default=20)
    arguments = parser.parse_args()

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    folder = Path(tempfile.mkdtemp(prefix="nginx-disk-bench-"))
    site = NginxSite(folder, upstream.server_address[1], site=arguments.site).start()
    sampler = Sampler(site)
    sampler.thread.start()
    print(f"site: {arguments.site}; {os.cpu_count()} cores; nginx temporary folders in {folder}")
    print(f"{'block':6} {'case':34} {'ok':>3} {'seconds':>8} {'MiB/s':>7} {'temp files':>10} "
          f"{'most bytes held':>16}")
    all_files, servers = 0, set()
    cases = [(f"upload {size // 1024} KiB" if size < MIB else f"upload {size // MIB} MiB",
              size, lambda b, s: [upload(site, b, s)]) for size in (1024, 300 * 1024, 3 * MIB, 20 * MIB, 75 * MIB)]
    cases.append(("upload 20 MiB chunked", 20 * MIB, lambda b, s: [upload(site, b, s, chunked=True)]))

    def parallel(block, size):
        results = [None] * arguments.parallel

        def one(index):
            results[index] = upload(site, block, size)
        threads = [threading.Thread(target=one, args=(index,)) for index in range(arguments.parallel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results
    cases.append((f"{arguments.parallel} uploads of 3 MiB at once", 3 * MIB, parallel))
    cases.append(("download 64 MiB to a slow reader", 64 * MIB, lambda b, s: [slow_download(site, b, s)]))
    try:
        for block in ("tls", "onion"):
            for name, size, run in cases:
                sampler.take()
                started = time.monotonic()
                results = run(block, size)
                took = time.monotonic() - started
                time.sleep(0.01)  # one more look by the sampler
                files, most = sampler.take()
                all_files += files
                servers.update(server for _ok, server in results)
                ok = all(ok for ok, _server in results)
                moved = size * len(results) / MIB
                print(f"{block:6} {name:34} {'yes' if ok else 'NO':>3} {took:8.2f} {moved / took:7.1f} "
                      f"{files:10d} {most:16,d}")
        # What makes nginx write an error line.
        for block in ("tls", "onion"):
            connection = client(site, block)
            connection.request("GET", "/broken", headers={"Host": "portal.example.org"})
            connection.getresponse().read()
            connection.close()
        with socket.create_connection(("127.0.0.1", site.onion_port)) as raw:
            raw.sendall(b"NOT HTTP\r\n\r\n")
            raw.recv(65536)
        with socket.create_connection(("127.0.0.1", site.tls_port)) as raw:
            raw.sendall(a_tls_greeting_with_a_broken_key_share())
            raw.recv(65536)
    finally:
        sampler.running.clear()
        sampler.thread.join()
        peak = sampler.peak_kib
        site.stop()
        upstream.shutdown()
    logs = site.written_logs()
    addressed = [line for line in logs.splitlines() if "client:" in line or "127.0.0.1" in line]
    print(f"nginx worker peak memory (VmHWM): {peak / 1024:.1f} MiB")
    print(f"Server headers seen: {sorted(map(str, servers))}")
    for line in addressed[:5]:
        print(f"  log line with an address: {line[:160]}")
    print(f"{'PASS' if all_files == 0 else 'FAIL'}: no temporary file ever held a body or an answer "
          f"({all_files} seen)")
    print(f"{'PASS' if servers == {None} else 'FAIL'}: no answer names the software in a Server header")
    print(f"{'PASS' if not addressed else 'FAIL'}: no log line holds a client's address ({len(addressed)} do)")


if __name__ == "__main__":
    main()
