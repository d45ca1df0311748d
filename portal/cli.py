"""``portal``: initialise, demo, serve and maintain an instance."""

import os
import secrets
import sys
from pathlib import Path

import click
from sqlalchemy import select

from . import config as config_module
from . import migrate
from .db import make_engine, make_session_factory
from .models import User
from .services import facilities, users
from .services import instance as instance_service

DEMO_FACILITIES = [
    dict(country="MY", name="Penang Precision Electronics Sdn Bhd", local_name="Penang Precision Electronics",
         supplier="Northlight Components Ltd", address="Plot 12, Bayan Lepas Free Industrial Zone, 11900 Penang",
         products="tablet mainboards"),
    dict(country="VN", name="Bac Ninh Display Co., Ltd", local_name="Công ty TNHH Màn hình Bắc Ninh",
         supplier="Northlight Components Ltd", address="Lot C4, Que Vo Industrial Park, Bac Ninh",
         products="monitor panels"),
    dict(country="CN", name="Shenzhen Brightway Technology Co., Ltd", local_name="深圳明途科技有限公司",
         supplier="Brightway Holdings", address="18 Gongye Road, Longhua District, Shenzhen, Guangdong",
         products="smartphones, chargers"),
    dict(country="TH", name="Ayutthaya Cable Assembly Co., Ltd", local_name="บริษัท อยุธยา เคเบิล แอสเซมบลี จำกัด",
         supplier="Brightway Holdings", address="Rojana Industrial Park, Uthai, Ayutthaya 13210",
         products="cables, docking stations"),
]


def _settings():
    settings = config_module.load()
    Path(settings["INSTANCE_PATH"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    return settings


def _session_factory(settings):
    return make_session_factory(make_engine(settings["DATABASE_URL"]))


@click.group()
def main():
    """The whistle-blower intake portal."""


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply every migration to the configured database."""
    settings = _settings()
    migrate.upgrade(settings["DATABASE_URL"])
    click.echo("database schema is up to date")


def _write_secret_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)


def initialise(settings, organisation: str, recovery_file: Path) -> None:
    migrate.upgrade(settings["DATABASE_URL"])
    if recovery_file.exists():
        raise click.ClickException(f"{recovery_file} exists: refusing to overwrite a recovery key")
    with _session_factory(settings)() as session:
        recovery = instance_service.initialise(session, organisation)
    _write_secret_file(
        recovery_file,
        "# The organisation's RECOVERY KEY for the whistle-blower portal.\n"
        "# It opens every case. Move this file offline (paper or an encrypted USB key\n"
        "# kept in a safe) and delete it from this server.\n"
        f"# public key: {recovery.recipient}\n{recovery}\n",
    )


@main.command()
@click.option("--organisation", default=None, help="The organisation's name, shown to reporters.")
@click.option("--recovery-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the recovery key (default: the instance folder).")
def init(organisation, recovery_key_file):
    """Create the database, the instance secrets and the recovery key pair."""
    settings = _settings()
    recovery_file = recovery_key_file or Path(settings["INSTANCE_PATH"]) / "recovery-key.txt"
    migrate.upgrade(settings["DATABASE_URL"])
    with _session_factory(settings)() as session:
        try:
            instance_service.load(session)
        except instance_service.NotInitialised:
            pass
        else:
            raise click.ClickException("this instance is already initialised")
    initialise(settings, organisation or settings["ORGANISATION_NAME"], recovery_file)
    click.echo(f"Initialised. The recovery key was written to {recovery_file}.")
    click.echo("Take it offline now and delete it from this machine: it opens every case.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-run", is_flag=True, help="Prepare the demo and exit.")
def demo(host, port, no_run):
    """A ready demo on SQLite: facilities, two investigators with keys, printed logins."""
    os.environ.setdefault("PORTAL_ENV", "development")
    settings = _settings()
    factory = _session_factory(settings)
    migrate.upgrade(settings["DATABASE_URL"])
    with factory() as session:
        try:
            instance_service.load(session)
        except instance_service.NotInitialised:
            initialise(settings, "Demo contractor (whistle-blower portal)",
                       Path(settings["INSTANCE_PATH"]) / "recovery-key.txt")
            for facility in DEMO_FACILITIES:
                facilities.add(session, **facility)
            logins_file = Path(settings["INSTANCE_PATH"]) / "demo-logins.txt"
            lines = []
            for username, name in (("anna", "Anna Investigator"), ("binh", "Binh Investigator")):
                passphrase = "-".join(secrets.token_hex(2) for _ in range(4))
                users.create(session, username, name, "investigator", passphrase, default_recipient=True)
                lines.append(f"{username}  {passphrase}")
            _write_secret_file(logins_file, "\n".join(lines) + "\n")
        count = len(list(session.scalars(select(User))))
    click.echo(f"Demo instance in {settings['INSTANCE_PATH']} ({count} investigators).")
    click.echo("Demo logins (username  passphrase):")
    click.echo((Path(settings["INSTANCE_PATH"]) / "demo-logins.txt").read_text().rstrip())
    click.echo(f"Reporter pages: http://{host}:{port}/")
    if not no_run:
        _serve(host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def run(host, port):
    """Serve the portal (for production, use gunicorn with deploy/gunicorn.conf.py)."""
    _serve(host, port)


def _serve(host, port):
    from werkzeug.serving import WSGIRequestHandler, run_simple

    from . import create_app

    class QuietHandler(WSGIRequestHandler):
        # The development server's request log names client addresses: never written.
        def log_request(self, *args, **kwargs):
            pass

    try:
        app = create_app()
    except instance_service.NotInitialised as error:
        raise click.ClickException(str(error)) from None
    run_simple(host, port, app, threaded=True, request_handler=QuietHandler)


if __name__ == "__main__":
    sys.exit(main())
