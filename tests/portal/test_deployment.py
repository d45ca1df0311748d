"""What deploy/ gives an operator, checked as far as this machine can run it:
the nginx site passes `nginx -t` and, run for real in front of a stand-in
upstream, compresses every text type in both serving blocks (never for a
request another site started) with one Content-Security-Policy per answer;
the gunicorn configuration serves the app, sends no Server header and writes no
client address to any log line, the systemd units run real portal commands, and the compose file
and container recipe hold together. The settings file gives systemd, the
shell and compose the same values; the commands docs/operations.md and
docs/forwarding.md show run as written, with their user, settings and
virtualenv; the backup jobs write backups that restore."""

import configparser
import gzip
import http.client
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml
from live_server import Server
from nginx_site import NginxSite
from operator_steps import PORTAL
from test_inbox_accounts import activate

from portal import config, create_app
from portal.services.bundles import LIMITS as BUNDLE_LIMITS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCS = DEPLOY.parent / "docs"
SETTINGS_EXAMPLE = DEPLOY / "portal.env.example"


def test_nginx_accepts_the_site(tmp_path):
    site = NginxSite(tmp_path)  # with deploy/nginx/upstream.conf
    checked = site.check()
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr
    assert "access_log off;" in site.site and "X-Forwarded-For" not in site.site.replace("no X-Forwarded-For", "")
    # The portal's own caps, in both blocks that serve it: a report's files and the form, a partner's bundle.
    settings = config.load(environ={})
    report_cap = settings["MAX_ATTACHMENTS"] * settings["MAX_ATTACHMENT_BYTES"] + 1024 * 1024
    assert report_cap % (1024 * 1024) == 0
    assert site.site.count(f"client_max_body_size {report_cap // (1024 * 1024)}m;") == 2
    assert site.site.count(f"client_max_body_size {BUNDLE_LIMITS.bundle_bytes // (1024 * 1024)}m;") == 1


def test_gunicorn_serves_the_app_names_no_software_and_logs_no_client_address(database_url, session_factory, recovery_identity,
                                                            tmp_path):
    server = Server(database_url, tmp_path / "instance", tmp_path / "gunicorn.log").start()
    try:
        with urllib.request.urlopen(f"{server.origin}/healthz", timeout=10) as answer:
            assert answer.status == 200 and b'"ok"' in answer.read()
        with urllib.request.urlopen(f"{server.origin}/en/", timeout=10) as answer:
            assert answer.status == 200
            assert answer.headers.get("Server") is None  # the portal names no software
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


@pytest.mark.slow
def test_the_systemd_units_run_real_portal_commands():
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} >= {"portal-web.service", "portal-notifications.service",
                                       "portal-forwards.service", "portal-retention.service"}
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit)
        command = shlex.split(parser["Service"]["ExecStart"])
        if command[:2] == ["/bin/sh", "-c"]:  # the backup names its file by the date
            command = [word for word in shlex.split(command[2]) if word != "exec"]
        assert parser["Service"]["User"] == "portal" and parser["Service"]["LimitCORE"] == "0"
        assert parser["Service"]["EnvironmentFile"] == "/etc/portal/portal.env"
        if Path(command[0]).name == "portal":
            helped = subprocess.run([PORTAL, *[a for a in command[1:] if not a.startswith("-")
                                               and not a.isdigit()], "--help"],
                                    capture_output=True, text=True, timeout=60)
            assert helped.returncode == 0, f"{unit.name}: {helped.stderr}"
        else:
            assert Path(command[0]).name == "gunicorn" and "portal.wsgi:app" in command
    for name in ("portal-retention.timer", "portal-backup.timer", "portal-reminders.timer"):
        timer = configparser.ConfigParser(interpolation=None)
        timer.read(DEPLOY / "systemd" / name)
        assert timer["Timer"]["OnCalendar"] == "daily"


def test_the_compose_file_and_the_container_recipe_hold_together(tmp_path):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    jobs = ("notifications", "forwards", "retention", "reminders", "backups")
    assert {"web", "db", "redis", "nginx", *jobs} <= set(services)
    assert services["web"]["build"]["dockerfile"] == "deploy/Containerfile"
    assert services["web"]["environment"]["PORTAL_DATABASE_URL"].startswith("postgresql+psycopg://")
    for volume in services["nginx"]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./") and "tls" not in source:
            assert (DEPLOY / source).is_file(), source
            assert target.startswith("/etc/nginx/conf.d/") and target.endswith(".conf"), target  # read by nginx.conf
    # The site's nginx: Debian's, with the module it needs for `more_clear_headers`.
    nginx_build = services["nginx"]["build"]
    nginx_recipe = (DEPLOY / nginx_build["context"] / nginx_build["dockerfile"]).read_text()
    assert "debian:bookworm" in nginx_recipe and "libnginx-mod-http-headers-more-filter" in nginx_recipe
    assert "more_clear_headers Server;" in (DEPLOY / "nginx" / "portal.conf").read_text()
    for job in jobs[:-1]:
        assert services[job]["command"][0] == "portal"
    assert "portal backup /srv/portal/backups/" in services["backups"]["command"][-1]
    assert "backups:/srv/portal/backups" in services["backups"]["volumes"] and "backups" in compose["volumes"]
    recipe = (DEPLOY / "Containerfile").read_text()
    root = DEPLOY.parent
    for line in recipe.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source
    # The volumes' mount points exist in the image, owned by the user the containers run as.
    assert "install -d -o portal -g portal -m 0700 /srv/portal/instance /srv/portal/backups" in recipe
    if compose_command():
        copy = shutil.copytree(DEPLOY, tmp_path / "deploy")
        shutil.copy(SETTINGS_EXAMPLE, copy / "portal.env")
        checked = subprocess.run([*compose_command(), "-f", str(copy / "compose.yaml"), "config", "-q"],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


def test_every_portal_container_sends_mail_through_the_smtp_server_of_the_settings_file():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    settings = systemd_environment_file(SETTINGS_EXAMPLE.read_text())
    for name, service in compose["services"].items():
        if service.get("image") != "whistleblower-portal:latest":
            continue
        assert service["env_file"] == "portal.env", name
        environment = {**settings, **service["environment"]}
        # localhost in a container is the container itself, where no mail server listens.
        assert environment["PORTAL_SMTP_HOST"] not in ("", "localhost", "127.0.0.1"), name
        assert environment["PORTAL_SMTP_FROM"] and environment["PORTAL_SMTP_PORT"], name
        assert environment["PORTAL_BIND"].startswith("0.0.0.0:"), "nginx reaches the web container from outside it"


def compose_command() -> list[str] | None:
    """``docker compose`` (v2) if this machine has it."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


# The settings file: one file, three loaders.

def systemd_environment_file(text: str) -> dict[str, str]:
    """What systemd's EnvironmentFile= makes of ``text`` (systemd.exec(5), "EnvironmentFile="):
    comment lines start with # or ;, whitespace around the value is dropped, and a value's
    double quotes (in which a backslash escapes " \\ ` $) or single quotes are removed."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        name, _, rest = line.partition("=")
        rest, value, index = rest.strip(), "", 0
        while index < len(rest):
            character = rest[index]
            if character in "\"'":
                closing = rest.index(character, index + 1)
                quoted = rest[index + 1:closing]
                if character == '"':
                    quoted = re.sub(r'\\(["\\`$])', r"\1", quoted)
                value, index = value + quoted, closing + 1
            elif character == "\\":
                value, index = value + rest[index + 1:index + 2], index + 2
            else:
                value, index = value + character, index + 1
        values[name.strip()] = value
    return values


def an_operators_settings_file(folder: Path, **changes: str) -> Path:
    """deploy/portal.env.example as an operator edits it: their own organisation and settings."""
    lines = SETTINGS_EXAMPLE.read_text().splitlines()
    changes = {"PORTAL_ORGANISATION_NAME": '"Acme Electronics NV"', **changes}
    for name, value in changes.items():
        lines = [line for line in lines if not line.startswith(f"{name}=")] + [f"{name}={value}"]
    path = folder / "portal.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def a_server_tree(folder: Path, portal: str = PORTAL) -> Path:
    """/srv/portal as the install steps leave it: the checkout's deploy/ and the virtualenv's portal."""
    (folder / "deploy").mkdir(parents=True)
    shutil.copy2(DEPLOY / "portal-cli", folder / "deploy" / "portal-cli")
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "portal").symlink_to(portal)
    return folder


def test_the_example_settings_file_keeps_the_shape_every_loader_reads_alike():
    for line in SETTINGS_EXAMPLE.read_text().splitlines():
        if line.startswith("#") or not line:
            continue
        assert re.fullmatch(r'PORTAL_[A-Z_0-9]+=("[^"$`\\]*"|[^\s"\'$`\\#]*)', line), line
    assert systemd_environment_file(SETTINGS_EXAMPLE.read_text())["PORTAL_ORGANISATION_NAME"] == "Example Contractor NV"


@pytest.mark.parametrize("loader", ["portal-cli", "sh", "compose"])
def test_each_documented_loader_reads_the_settings_file_as_systemd_does(loader, tmp_path):
    settings_file = an_operators_settings_file(tmp_path)
    expected = systemd_environment_file(settings_file.read_text())
    assert expected["PORTAL_ORGANISATION_NAME"] == "Acme Electronics NV"
    if loader == "sh":
        # `set -a; . FILE`, as deploy/portal-cli and anyone's shell source it.
        shown = subprocess.run(["sh", "-c", 'set -a; . "$1"; env -0', "sh", str(settings_file)],
                               env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        got = dict(entry.split("=", 1) for entry in shown.stdout.split("\0") if entry.startswith("PORTAL_"))
        assert got == expected
    elif loader == "portal-cli":
        # The portal's own reading of its environment, behind the documented wrapper.
        stub = tmp_path / "print-settings"
        stub.write_text(f"#!{sys.executable}\nimport json\nfrom portal import config\n"
                        "print(json.dumps(config.load()))\n")
        stub.chmod(0o755)
        home = a_server_tree(tmp_path / "srv", str(stub))
        environment = {"PATH": "/usr/bin:/bin", "PORTAL_ENV_FILE": str(settings_file),
                       "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        shown = subprocess.run([str(home / "deploy" / "portal-cli")], env=environment, capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        read = json.loads(shown.stdout)
        assert read == json.loads(json.dumps(config.load(environ=expected)))
        assert read["ORGANISATION_NAME"] == "Acme Electronics NV" and read["SMTP_STARTTLS"] == 1
    else:
        if not compose_command():
            pytest.skip("docker compose (v2) is not installed: the compose loader is not checked here")
        copy = shutil.copytree(DEPLOY, tmp_path / "deploy")
        shutil.copy(settings_file, copy / "portal.env")
        shown = subprocess.run([*compose_command(), "-f", str(copy / "compose.yaml"), "config", "--format", "json"],
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
        overridden = set(compose["x-portal"]["environment"])
        got = json.loads(shown.stdout)["services"]["web"]["environment"]
        assert {k: v for k, v in got.items() if k not in overridden} == \
            {k: v for k, v in expected.items() if k not in overridden}


# The operators' documents: every `portal` command with its user, settings and virtualenv.

PORTAL_COMMAND = re.compile(r"\bportal (init|demo|run|db|users|facilities|audit|recovery|notifications|backup|"
                            r"restore|retention|forwards|reminders)\b")
WITH_ITS_ENVIRONMENT = ("sudo -u portal /srv/portal/deploy/portal-cli ",
                        "podman compose -f deploy/compose.yaml run --rm web portal ")


def shell_lines(document: Path) -> list[str]:
    """The commands a reader copies: the lines of the ```sh blocks, and `sudo ...` in the text."""
    lines, inside = [], False
    for line in document.read_text().splitlines():
        if line.strip().startswith("```"):
            inside = line.strip() == "```sh"
        elif inside and line.strip():
            lines.append(line.strip())
        elif not inside:
            lines.extend(re.findall(r"`(sudo -u portal [^`]+)`", line))
    return lines


def test_every_portal_command_in_the_operators_docs_says_its_user_settings_and_virtualenv():
    for document in (DOCS / "operations.md", DOCS / "forwarding.md", DOCS / "facilities.md"):
        for line in shell_lines(document):
            if PORTAL_COMMAND.search(line) or "portal-cli" in line or ".venv/bin/portal" in line:
                assert line.startswith(WITH_ITS_ENVIRONMENT), f"{document.name}: {line}"


@pytest.mark.slow
def test_the_documented_commands_make_the_instance_and_its_first_administrator(empty_database_url, tmp_path):
    """Each `portal-cli` line of the docs, as written, but for the paths of this machine: the
    ones naming a file only the operator has (a recovery key, a bundle) only ask for --help."""
    instance, backups = tmp_path / "instance", tmp_path / "backups"
    instance.mkdir()
    backups.mkdir()
    settings_file = an_operators_settings_file(tmp_path, PORTAL_DATABASE_URL=empty_database_url,
                                               PORTAL_INSTANCE_PATH=str(instance))
    home = a_server_tree(tmp_path / "srv")
    environment = {"PATH": "/usr/bin:/bin", "PORTAL_ENV_FILE": str(settings_file),
                   "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    ran = {}
    for document in (DOCS / "operations.md", DOCS / "forwarding.md", DOCS / "facilities.md"):
        for line in shell_lines(document):
            if "portal-cli" not in line:
                continue
            command = (line.removeprefix("sudo -u portal ")
                       .replace("/srv/portal/deploy/portal-cli", str(home / "deploy" / "portal-cli"))
                       .replace("/var/backups/portal", str(backups)))
            if "/run/" in line or "/tmp/" in line:
                command = re.sub(r"\s+#.*$", "", command) + " --help"
            done = subprocess.run(["sh", "-c", command], env=environment, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, f"{document.name}: {line}\n{done.stderr}"
            ran[" ".join(shlex.split(line)[4:6])] = done.stdout
    assert "Take it offline" in ran["init --organisation"]
    assert list(backups.glob("portal-*.age")), "the documented backup wrote nothing"
    link = ran["users invite"].strip()
    assert link.startswith("https://portal.example.org/inbox/activate/"), "PORTAL_BASE_URL comes from the file"
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(instance), "ENV": "development",
                      "RECEIPT_ARGON2_TIME_COST": 1, "RECEIPT_ARGON2_MEMORY_KIB": 1024})
    app.config["TESTING"] = True
    try:
        activate(app, link)
        start = app.test_client().get("/en/").get_data(as_text=True)
        assert "Acme Electronics NV" in start  # the name given to the documented `portal init`
    finally:
        app.extensions["portal.engine"].dispose()


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


def test_the_nginx_site_compresses_every_text_type_but_not_for_requests_other_sites_start(tmp_path):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    site = NginxSite(tmp_path, upstream.server_address[1]).start()
    tls_port, onion_port = site.tls_port, site.onion_port
    try:
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
        site.stop()
        upstream.shutdown()


@pytest.mark.slow
def test_both_backup_jobs_write_backups_that_the_recovery_key_restores(empty_database_url, tmp_path):
    """The systemd unit's and the compose service's command, run once as written (but for this
    machine's paths), each leave a dated backup that `portal restore` loads into an empty database."""
    instance, backups = tmp_path / "instance", tmp_path / "backups"
    backups.mkdir()
    environment = {"PATH": f"{Path(PORTAL).parent}:/usr/bin:/bin", "PORTAL_DATABASE_URL": empty_database_url,
                   "PORTAL_INSTANCE_PATH": str(instance), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    made = subprocess.run([PORTAL, "init"], env=environment, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "systemd" / "portal-backup.service")
    # systemd's own escapes: $$ is $ and %% is %.
    systemd_command = [word.replace("$$", "$").replace("%%", "%")
                       .replace("/srv/portal/.venv/bin/portal", PORTAL).replace("/var/backups/portal", str(backups))
                       for word in shlex.split(unit["Service"]["ExecStart"])]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    # compose's own escape: $$ is $; one round of its loop instead of one a day.
    compose_command = [word.replace("$$", "$").replace("/srv/portal/backups", str(backups))
                       .replace("sleep 86400", "exit 0")
                       for word in compose["services"]["backups"]["command"]]
    for command in (systemd_command, compose_command):
        before = set(backups.iterdir())
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "failed" not in done.stderr, done.stderr
        (written,) = set(backups.iterdir()) - before or {None}
        assert written is not None and re.fullmatch(r"portal-\d{4}-\d\d-\d\d-\d{4}\.age", written.name), command
        written.rename(backups / f"{len(before)}-{written.name}")  # the next job runs within the same minute
    recovery_key = instance / "recovery-key.txt"
    for backup_file in backups.iterdir():
        # A new, empty database on another machine (a file of its own, whatever the instance's server).
        restored_database = f"sqlite:///{tmp_path / ('restored-' + backup_file.stem + '.db')}"
        restored = subprocess.run([PORTAL, "restore", str(backup_file), "--recovery-key", str(recovery_key)],
                                  env=dict(environment, PORTAL_DATABASE_URL=restored_database,
                                           PORTAL_INSTANCE_PATH=str(tmp_path / "elsewhere")),
                                  capture_output=True, text=True, timeout=300)
        assert restored.returncode == 0 and "Restored" in restored.stdout, restored.stderr
