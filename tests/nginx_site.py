"""deploy/nginx/portal.conf run by this machine's nginx, for tests that need the real site.

The site is used as shipped but for what only an installed machine has: its listening
addresses become loopback ports, the certificate is a throw-away one, and nginx's own folders
(its prefix, the temporary folders for request bodies and answers, the main error log) are
inside the test's folder, where the test can look into them."""

import datetime
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from live_server import free_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SITE = DEPLOY / "nginx" / "portal.conf"
# Debian's libnginx-mod-http-headers-more-filter, which the site needs (more_clear_headers).
HEADERS_MORE = Path("/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so")
TEMPORARY_FOLDERS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
START_SECONDS = 30


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def nginx_binary() -> str:
    """This machine's nginx with the headers-more module; the test is skipped (failed in CI) without."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    missing = ("nginx was not found: install the Debian package `nginx`" if nginx is None else
               f"{HEADERS_MORE} was not found: install the Debian package libnginx-mod-http-headers-more-filter"
               if not HEADERS_MORE.is_file() else None)
    if missing:
        pytest.fail(missing) if in_ci() else pytest.skip(missing)
    return nginx


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def a_tls_greeting_with_a_broken_key_share() -> bytes:
    """A TLS 1.3 ClientHello whose X25519 key share is all zeros: nginx 1.22 with OpenSSL 3 logs
    its refusal at crit ("bad key share"), with the client's address."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        context.wrap_bio(incoming, outgoing, server_hostname="portal.example.org").do_handshake()
    except ssl.SSLWantReadError:  # it waits for the server's answer: the greeting is written
        pass
    greeting = bytearray(outgoing.read())
    share = greeting.index(bytes.fromhex("001d0020")) + 4  # group x25519, 32 bytes
    greeting[share:share + 32] = bytes(32)
    return bytes(greeting)


def _serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class NginxSite:
    """The shipped site in front of ``upstream_port`` (or of deploy/nginx/upstream.conf as
    shipped): ``tls_port`` (the HTTPS block, HTTP/2 included), ``redirect_port`` (port 80) and
    ``onion_port`` (the block Tor reaches)."""

    def __init__(self, folder: Path, upstream_port: int | None = None, site: Path = SITE):
        self.folder = folder
        self.nginx = nginx_binary()
        self.tls_port, self.redirect_port, self.onion_port = (free_port() for _ in range(3))
        self.temporary_folders = [folder / name for name in TEMPORARY_FOLDERS]
        self.main_log = folder / "nginx-main.log"
        cert, key = self_signed(folder)
        site = site.read_text()
        self.site = (site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{self.tls_port} ssl http2;")
                     .replace("listen 80;", f"listen 127.0.0.1:{self.redirect_port};")
                     .replace("listen [::]:443 ssl http2;", "").replace("listen [::]:80;", "")
                     .replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{self.onion_port};")
                     .replace("/etc/ssl/portal/fullchain.pem", str(cert))
                     .replace("/etc/ssl/portal/privkey.pem", str(key))
                     .replace("/var/log/nginx/", f"{folder}/"))
        for port in (self.tls_port, self.redirect_port, self.onion_port):
            assert f"listen 127.0.0.1:{port}" in self.site, "the site's listen lines changed: render them here too"
        (folder / "portal.conf").write_text(self.site)
        temporary = "".join(f"  {name}_temp_path {path};\n" for name, path in zip(TEMPORARY_FOLDERS,
                                                                                   self.temporary_folders))
        # As root, nginx's workers would run as nobody, who cannot enter the test's private
        # folder: they run as root here, so that a temporary file could be written if the site
        # asked for one (and the test would find it), rather than fail for a permission.
        user = "user root;\n" if os.geteuid() == 0 else ""
        upstream = (f"upstream portal_app {{ server 127.0.0.1:{upstream_port}; keepalive 16; }}" if upstream_port
                    else f"include {DEPLOY / 'nginx' / 'upstream.conf'};")
        (folder / "nginx.conf").write_text(
            f"load_module {HEADERS_MORE};\n{user}events {{}}\n"
            f"http {{\n  include /etc/nginx/mime.types;\n{temporary}"
            f"  {upstream}\n  include {folder}/portal.conf;\n}}\n")
        self.process = None

    def command(self, *extra: str) -> list[str]:
        return [self.nginx, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                "-g", f"pid {self.folder}/nginx.pid; error_log {self.main_log} info;{' '.join(extra)}"]

    def check(self) -> subprocess.CompletedProcess:
        """``nginx -t`` on the site."""
        return subprocess.run([*self.command(), "-t"], capture_output=True, text=True, timeout=60)

    def start(self) -> "NginxSite":
        command = self.command(" daemon off;")
        started = self.folder / "nginx-start.log"  # what nginx says before its error log is open
        with started.open("wb") as output:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        deadline = time.monotonic() + START_SECONDS
        while not (_serving(self.tls_port) and _serving(self.onion_port) and _serving(self.redirect_port)):
            assert self.process.poll() is None, self.written_logs()
            assert time.monotonic() < deadline, f"nginx did not start listening within {START_SECONDS} s"
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def __enter__(self) -> "NginxSite":
        return self.start()

    def __exit__(self, *_exception) -> None:
        self.stop()

    def workers(self) -> list[int]:
        """The worker processes' ids (the children of the master this object started)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                if f"\nPPid:\t{self.process.pid}\n" in status:
                    found.append(int(entry.name))
        return found

    def files_in_temporary_folders(self) -> list[str]:
        """Every file nginx has in its temporary folders now: those on the folder tree, and those
        its workers hold open, deleted or not (nginx unlinks a temporary file as soon as it has
        opened it, so that only an open descriptor shows it while it is in use)."""
        found = [str(path) for folder in self.temporary_folders if folder.exists()
                 for path in folder.rglob("*") if not path.is_dir()]
        folders = tuple(f"{folder}/" for folder in self.temporary_folders)
        for worker in self.workers():
            try:
                descriptors = list(Path(f"/proc/{worker}/fd").iterdir())
            except OSError:
                continue
            for descriptor in descriptors:
                try:
                    target = os.readlink(descriptor)
                except OSError:
                    continue
                if target.startswith(folders):
                    found.append(target)
        return found

    def written_logs(self) -> str:
        """Everything nginx wrote outside its temporary folders: the main error log, and any
        log file the site would name (its paths moved into the test's folder)."""
        inputs = (".pem", ".conf", ".pid")
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.folder.rglob("*"))
                         if path.is_file() and path.suffix not in inputs
                         and not any(folder in path.parents for folder in self.temporary_folders))
