"""What deploy/ gives an operator, checked as far as this machine can run it:
the nginx site passes `nginx -t` and, run for real in front of a stand-in
upstream, compresses every text type in both serving blocks (never for a
request another site started) with one Content-Security-Policy per answer;
the gunicorn configuration serves the app and writes no client address to any
log line, the systemd units run real portal commands, and the compose file
and container recipe hold together."""

import configparser
import gzip
import http.client
import http.server
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from live_server import Server, free_port
from operator_steps import PORTAL

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal.example.org")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_nginx_accepts_the_site(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if nginx is None:
        message = "nginx was not found: install the Debian package `nginx`"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    cert, key = self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "portal.conf").read_text()
    site = (site.replace("/etc/ssl/portal/fullchain.pem", str(cert))
            .replace("/etc/ssl/portal/privkey.pem", str(key))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "portal.conf").write_text(site)
    shutil.copy(DEPLOY / "nginx" / "upstream.conf", tmp_path / "upstream.conf")
    (tmp_path / "nginx.conf").write_text(
        "events {}\n"
        f"http {{\n  include {tmp_path}/upstream.conf;\n  include {tmp_path}/portal.conf;\n}}\n")
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
         "-g", f"pid {tmp_path}/nginx.pid; error_log stderr;"],
        capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr
    assert "access_log off;" in site and "X-Forwarded-For" not in site.replace("no X-Forwarded-For", "")
    assert "client_max_body_size 76m;" in site  # 5 files of 15 MB and the form: the portal's own cap


def test_gunicorn_serves_the_app_and_logs_no_client_address(database_url, session_factory, recovery_identity,
                                                            tmp_path):
    server = Server(database_url, tmp_path / "instance", tmp_path / "gunicorn.log").start()
    try:
        with urllib.request.urlopen(f"{server.origin}/healthz", timeout=10) as answer:
            assert answer.status == 200 and b'"ok"' in answer.read()
        with urllib.request.urlopen(f"{server.origin}/en/", timeout=10) as answer:
            assert answer.status == 200
        # A broken request makes gunicorn log an error that would name the client.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
            raw.recv(1024)
    finally:
        server.stop()
    log = server.log()
    lines = [line for line in log.splitlines() if "Listening at:" not in line]
    assert lines, "gunicorn wrote nothing"
    assert not any("127.0.0.1" in line for line in lines), "\n".join(lines)
    assert "GET /en/" not in log  # no access log
    assert "[address removed]" in log, log  # the broken request was logged, without its address


def test_the_systemd_units_run_real_portal_commands():
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} >= {"portal-web.service", "portal-notifications.service",
                                       "portal-forwards.service", "portal-retention.service"}
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit)
        command = shlex.split(parser["Service"]["ExecStart"])
        assert parser["Service"]["User"] == "portal" and parser["Service"]["LimitCORE"] == "0"
        if Path(command[0]).name == "portal":
            helped = subprocess.run([PORTAL, *[a for a in command[1:] if not a.startswith("-")
                                               and not a.isdigit()], "--help"],
                                    capture_output=True, text=True, timeout=60)
            assert helped.returncode == 0, f"{unit.name}: {helped.stderr}"
        else:
            assert Path(command[0]).name == "gunicorn" and "portal.wsgi:app" in command
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(DEPLOY / "systemd" / "portal-retention.timer")
    assert timer["Timer"]["OnCalendar"] == "daily"


def test_the_compose_file_and_the_container_recipe_hold_together():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "db", "redis", "nginx", "notifications", "forwards", "retention"} <= set(services)
    assert services["web"]["build"]["dockerfile"] == "deploy/Containerfile"
    assert services["web"]["environment"]["PORTAL_DATABASE_URL"].startswith("postgresql+psycopg://")
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./") and "tls" not in source:
            assert (DEPLOY / source).is_file(), source
    for job in ("notifications", "forwards", "retention"):
        assert services[job]["command"][0] == "portal"
    recipe = (DEPLOY / "Containerfile").read_text()
    root = DEPLOY.parent
    for line in recipe.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        checked = subprocess.run([docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


# Each text type the site lists, and what nginx must leave alone.
TEXT_BODIES = {
    "/page.html": "text/html; charset=utf-8",
    "/static/style.css": "text/css",
    "/plain.txt": "text/plain; charset=utf-8",
    "/export.csv": "text/csv",
    "/app.js": "text/javascript",
    "/data.json": "application/json",
    "/problem.json": "application/problem+json",
    "/feed.xml": "application/xml",
    "/app.webmanifest": "application/manifest+json",
    "/icon.svg": "image/svg+xml",
}
BINARY_BODIES = {"/photo.jpg": "image/jpeg"}


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Stands in for gunicorn: plain bodies of every type; a CSP of its own when asked."""

    def do_GET(self):  # noqa: N802 (the standard library's name)
        path, _, query = self.path.partition("?")
        content_type = {**TEXT_BODIES, **BINARY_BODIES}.get(path, "text/plain")
        body = (f"{path} line of text for a worker on a slow phone\n" * 60).encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if query == "own-policy":
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'sha256-AAAA'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_arguments):
        pass


def _serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_the_nginx_site_compresses_every_text_type_but_not_for_requests_other_sites_start(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if nginx is None:
        message = "nginx was not found: install the Debian package `nginx`"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    cert, key = self_signed(tmp_path)
    tls_port, redirect_port, onion_port = (free_port() for _ in range(3))
    site = (DEPLOY / "nginx" / "portal.conf").read_text()
    site = (site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl;")
            .replace("listen 80;", f"listen 127.0.0.1:{redirect_port};")
            .replace("listen [::]:443 ssl http2;", "").replace("listen [::]:80;", "")
            .replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{onion_port};")
            .replace("/etc/ssl/portal/fullchain.pem", str(cert)).replace("/etc/ssl/portal/privkey.pem", str(key))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "portal.conf").write_text(site)
    temporary = "".join(f"  {name}_temp_path {tmp_path}/{name};\n"
                        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        "events {}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n{temporary}"
        f"  upstream portal_app {{ server 127.0.0.1:{upstream.server_address[1]}; }}\n"
        f"  include {tmp_path}/portal.conf;\n}}\n")
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
         "-g", f"daemon off; pid {tmp_path}/nginx.pid; error_log stderr;"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (_serving(tls_port) and _serving(onion_port)):
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "nginx did not start listening within 30 s"
            time.sleep(0.1)
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE

        def get(block, path, **headers):
            connection = (http.client.HTTPSConnection("127.0.0.1", tls_port, timeout=10, context=insecure)
                          if block == "tls" else http.client.HTTPConnection("127.0.0.1", onion_port, timeout=10))
            try:
                connection.request("GET", path, headers={"Host": "portal.example.org", **headers})
                answer = connection.getresponse()
                return answer, answer.read()
            finally:
                connection.close()

        for block in ("tls", "onion"):
            for path in TEXT_BODIES:
                answer, body = get(block, path, **{"Accept-Encoding": "gzip"})
                assert answer.getheader("Content-Encoding") == "gzip", (block, path)
                assert gzip.decompress(body).startswith(path.encode()), (block, path)
                for started_elsewhere in ("cross-site", "same-site"):
                    answer, body = get(block, path, **{"Accept-Encoding": "gzip", "Sec-Fetch-Site": started_elsewhere})
                    assert answer.getheader("Content-Encoding") is None, (block, path, started_elsewhere)
            answer, _body = get(block, "/photo.jpg", **{"Accept-Encoding": "gzip"})
            assert answer.getheader("Content-Encoding") is None, "a JPEG gains nothing from gzip"

        # One policy per answer: nginx's strict one only where the portal sent none.
        answer, _body = get("tls", "/page.html?own-policy")
        assert answer.headers.get_all("Content-Security-Policy") == ["default-src 'none'; style-src 'sha256-AAAA'"]
        answer, _body = get("tls", "/page.html")
        (policy,) = answer.headers.get_all("Content-Security-Policy")
        assert policy.startswith("default-src 'none'")
    finally:
        process.terminate()
        process.wait(timeout=30)
        upstream.shutdown()
