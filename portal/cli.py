"""``portal``: initialise, demo, serve and maintain an instance."""

import csv
import io
import json
import os
import secrets
import shlex
import sys
import time
from pathlib import Path

import click
import pyotp
from sqlalchemy import select
from sqlalchemy.engine import make_url

import crypto

from . import config as config_module
from . import migrate
from .db import make_engine, make_session_factory
from .models import Case, User
from .services import (
    audit,
    authority_notices,
    backups,
    bundles,
    case_exports,
    facilities,
    forwarding,
    handover,
    kept_files,
    notifications,
    partner_http,
    partners,
    posters,
    reminders,
    retention,
    signing,
    sms,
    statistics_tallies,
    throttle,
    translation_overrides,
    translation_status,
    users,
)
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
    partner_http.configure(allow_loopback=settings["ALLOW_LOOPBACK_PARTNERS"])
    Path(settings["INSTANCE_PATH"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    return settings


def _session_factory(settings):
    return make_session_factory(make_engine(settings["DATABASE_URL"]))


def _periodically(settings, step, loop: bool, interval: int) -> None:
    """Run ``step(session)`` once, or every ``interval`` seconds with ``loop``.

    ``step`` returns (whether it did anything, a line saying what); a loop
    prints only the runs that did something.
    """
    factory = _session_factory(settings)
    while True:
        with factory() as session:
            did_something, line = step(session)
        if did_something or not loop:
            click.echo(line)
        if not loop:
            return
        time.sleep(interval)


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
    """Write a new file only its owner reads, and make sure it is on the disk before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


START_AGAIN = ("To start again from nothing, stop the portal, delete its database ({database}) and the "
               "recovery key file, then run `portal init` again. Never do this once reports have arrived: "
               "they would be lost.")


def initialise(settings, organisation: str, recovery_file: Path, post_quantum: bool = True) -> None:
    migrate.upgrade(settings["DATABASE_URL"])
    if recovery_file.exists():
        raise click.ClickException(f"{recovery_file} exists: refusing to overwrite a recovery key. "
                                   + START_AGAIN.format(database=_database_for_people(settings)))

    def keep(recovery):
        try:
            _write_secret_file(
                recovery_file,
                "# The organisation's RECOVERY KEY for the whistle-blower portal.\n"
                "# It opens every case. Move this file offline (paper or an encrypted USB key\n"
                "# kept in a safe) and delete it from this server.\n"
                f"# public key: {recovery.recipient}\n{recovery}\n",
            )
        except OSError as error:
            raise click.ClickException(
                f"the recovery key could not be written to {recovery_file} ({error.strerror}). Nothing was "
                "initialised: choose a writable place with --recovery-key-file and run `portal init` again.")

    with _session_factory(settings)() as session:
        try:
            instance_service.initialise(session, organisation, post_quantum, keep_recovery=keep)
        except BaseException:
            # The key file was written but no instance uses it: leave nothing behind.
            if recovery_file.exists() and not _initialised(settings):
                recovery_file.unlink()
            raise


def _initialised(settings) -> bool:
    with _session_factory(settings)() as session:
        try:
            instance_service.load(session)
        except instance_service.NotInitialised:
            return False
    return True


def _database_for_people(settings) -> str:
    """The database's address without a password."""
    return make_url(settings["DATABASE_URL"]).render_as_string(hide_password=True)


@main.command()
@click.option("--organisation", default=None, help="The organisation's name, shown to reporters.")
@click.option("--recovery-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the recovery key (default: the instance folder).")
@click.option("--classic-keys", is_flag=True,
              help="X25519 keys instead of hybrid post-quantum ones, so that exported files open with age "
                   "older than 1.3 (weaker against a future quantum computer).")
def init(organisation, recovery_key_file, classic_keys):
    """Create the database, the instance secrets and the recovery key pair."""
    settings = _settings()
    recovery_file = recovery_key_file or Path(settings["INSTANCE_PATH"]) / "recovery-key.txt"
    migrate.upgrade(settings["DATABASE_URL"])
    if _initialised(settings):
        raise click.ClickException("this instance is already initialised, and its recovery key was written "
                                   "when it was made. " + START_AGAIN.format(database=_database_for_people(settings)))
    initialise(settings, organisation or settings["ORGANISATION_NAME"], recovery_file, not classic_keys)
    click.echo(f"Initialised. The recovery key was written to {recovery_file}.")
    click.echo("Take it offline now and delete it from this machine: it opens every case.")


@main.group("posters")
def posters_group():
    """Posters (A4) and wallet cards (A7) for workers, in each language."""


@posters_group.command("build")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder the PDFs are written to (made if missing).")
@click.option("--language", "languages", multiple=True,
              help="Only this language (e.g. ne or zh-Hant); may be given more than once. Default: all offered.")
def posters_build(out_dir, languages):
    """Write every language's poster and wallet card as PDF files, with each file's size and render time."""
    from . import create_app, i18n

    settings = _settings()
    chosen = []
    for code in languages:
        language = i18n.from_url_code(code, settings["LANGUAGES"])
        if language is None:
            raise click.BadParameter(f"{code!r} is not one of PORTAL_LANGUAGES ({', '.join(settings['LANGUAGES'])})",
                                     param_hint="--language")
        chosen.append(language)
    try:
        app = create_app(settings)
    except instance_service.NotInitialised as error:
        raise click.ClickException(str(error)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with app.app_context(), app.extensions["portal.sessions"]() as session:
            organisation = instance_service.load(session).organisation_name
            for printed in posters.render_all(app.config, organisation, chosen or None):
                (out_dir / printed.filename).write_bytes(printed.pdf)
                click.echo(f"{printed.filename}\t{len(printed.pdf) / 1024:.0f} KiB\t{printed.seconds:.2f} s")
    finally:
        app.extensions["portal.engine"].dispose()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-run", is_flag=True, help="Prepare the demo and exit.")
def demo(host, port, no_run):
    """A ready demo on SQLite: facilities, investigators, a retaliation officer, an administrator and
    the contracting authority, with keys and printed logins."""
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
            for username, name, role in (("anna", "Anna Investigator", "investigator"),
                                         ("binh", "Binh Investigator", "investigator"),
                                         ("rosa", "Rosa Retaliation Officer", "retaliation_officer"),
                                         ("admin", "Demo Administrator", "administrator"),
                                         ("authority", "Demo Contracting Authority", "authority")):
                passphrase = "-".join(secrets.token_hex(2) for _ in range(4))
                totp_secret = pyotp.random_base32()
                users.create(session, username, name, role, passphrase, totp_secret=totp_secret,
                             default_recipient=role == "investigator",
                             work_factor=settings["IDENTITY_WORK_FACTOR"])
                lines.append(f"{username}  {role}  {passphrase}  {totp_secret}")
            _write_secret_file(logins_file, "\n".join(lines) + "\n")
        count = len(list(session.scalars(select(User))))
    logins = (Path(settings["INSTANCE_PATH"]) / "demo-logins.txt").read_text().rstrip()
    click.echo(f"Demo instance in {settings['INSTANCE_PATH']} ({count} users).")
    click.echo("Demo logins (username  role  passphrase  TOTP secret for an authenticator app):")
    click.echo(logins)
    click.echo(f"Reporter pages: http://{host}:{port}/   Secure inbox: http://{host}:{port}/inbox/")
    # The interpreter running this command has pyotp; the system's python may not.
    first_username, *_rest, first_secret = logins.splitlines()[0].split()
    click.echo(f"A current TOTP code for {first_username} (another login: put its secret in place of this one):")
    click.echo(f"  {shlex.quote(sys.executable)} -c \"import pyotp; print(pyotp.TOTP('{first_secret}').now())\"")
    if not no_run:
        _serve(host, port)


@main.group("users")
def users_group():
    """Accounts of the secure inbox."""


@users_group.command("invite")
@click.argument("username")
@click.option("--name", "display_name", default="", help="Name shown to colleagues.")
@click.option("--role", type=click.Choice(["investigator", "retaliation_officer", "administrator", "monitor",
                                           "authority"]), default="administrator", show_default=True)
@click.option("--email", default=None)
@click.option("--receives-new-cases", is_flag=True)
def users_invite(username, display_name, role, email, receives_new_cases):
    """Create an account and print its one-time activation link (the first administrator)."""
    settings = _settings()
    with _session_factory(settings)() as session:
        try:
            user, token = users.invite(session, None, username, display_name or username, role, email,
                                       receives_new_cases)
        except users.AccountError as error:
            raise click.ClickException(f"cannot create the account: {error.reason}") from None
    click.echo(f"{settings['BASE_URL'].rstrip('/')}/inbox/activate/{token}")


@main.group("facilities")
def facilities_group():
    """The facility registry, from the contractor's disclosure file (docs/facilities.md)."""


@facilities_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Apply the changes (without it, only show them).")
@click.option("--column", "named", multiple=True, metavar="NAME=COLUMN",
              help="What the file's column NAME holds: facility_id, supplier, supplier_registered_office, "
                   "facility_name, facility_local_name, address, country, products, or ignore (repeatable).")
def facilities_import(csv_file, yes, named):
    """Check a disclosure file (CSV or XLSX), show what it changes, and apply it with --yes."""
    from .services import registry
    from .web.admin.registry import describe_problem

    settings = _settings()
    data = csv_file.read_bytes()
    choices = {}
    for option in named:
        name, _equals, column = option.rpartition("=")
        if not name or column not in (*registry.COLUMNS, "ignore"):
            raise click.BadParameter(f"{option!r}: write NAME=COLUMN, COLUMN one of "
                                     f"{', '.join(registry.COLUMNS)} or ignore", param_hint="--column")
        choices[name.strip()] = "" if column == "ignore" else column
    with _session_factory(settings)() as session:
        try:
            # Without --yes nothing is stored, not even a preview. A column the importer cannot
            # place, and --column does not, is a problem here: there is no page to place it on.
            layout = registry.read_layout(data, csv_file.name)
            try:
                columns = registry.columns_named(layout, choices)
            except KeyError as missing:
                raise click.BadParameter(f"the file has no column {missing.args[0]!r} (its columns: "
                                         f"{', '.join(repr(h) for h in layout.header if h)})",
                                         param_hint="--column") from None
            rows = registry.identify(session, registry.rows_of(layout, columns))
            record = registry.preview(session, None, data, csv_file.name, columns) if yes else None
            changes = registry.changes_of(record) if yes else registry.diff(session, rows)
        except registry.DisclosureError as error:
            click.echo(f"{csv_file}: nothing imported, {len(error.problems)} problem(s):", err=True)
            for problem in error.problems:
                click.echo(f"  {describe_problem(problem)}", err=True)
            if any(problem.code in ("unknown_column", "duplicate_column") for problem in error.problems):
                click.echo('  Say what a column holds with --column "NAME=COLUMN" (COLUMN: one of '
                           f"{', '.join(registry.COLUMNS)}, or ignore).", err=True)
            sys.exit(1)
        _echo_changes(changes)
        if not yes:
            click.echo("Nothing imported: run again with --yes to apply these changes.")
            return
        try:
            registry.apply(session, None, record.id)
        except registry.DisclosureError as error:
            raise click.ClickException(f"not imported: {error.reason}") from None
    click.echo(f"Imported (import {record.id}): {len(changes.added)} added, {len(changes.removed)} removed, "
               f"{len(changes.changed)} changed.")


def _echo_changes(changes) -> None:
    click.echo(f"added: {len(changes.added)}")
    for entry in changes.added:
        again = " (disclosed again)" if entry.get("returning") else ""
        click.echo(f"  + {entry['facility_id']}  {entry['facility_name']} ({entry['country']}){again}")
    click.echo(f"removed: {len(changes.removed)}")
    for entry in changes.removed:
        click.echo(f"  - {entry['facility_id']}  {entry['facility_name']} ({entry['country']})")
    click.echo(f"changed: {len(changes.changed)}")
    for entry in changes.changed:
        click.echo(f"  ~ {entry['facility_id']}  {entry['facility_name']}")
        for column, (old, new) in entry["fields"].items():
            click.echo(f"      {column}: {old!r} -> {new!r}")
    click.echo(f"unchanged: {changes.unchanged}")
    if changes.unmanaged:
        click.echo(f"left alone: {len(changes.unmanaged)} facilities entered by hand, without a facility_id")


@facilities_group.command("list")
def facilities_list():
    """Print the active registry."""
    from .services import registry

    settings = _settings()
    with _session_factory(settings)() as session:
        active = registry.registry(session)
        for facility in active:
            click.echo("\t".join([facility.reference or "-", facility.country, facility.name, facility.local_name,
                                  facility.supplier, facility.address.replace("\n", ", "), facility.products]))
    click.echo(f"{len(active)} active facilities", err=True)


@main.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
def audit_verify():
    """Check that no audit entry was edited, deleted or cut off."""
    settings = _settings()
    with _session_factory(settings)() as session:
        verdict = audit.verify(session)
    if not verdict.ok:
        raise click.ClickException(f"audit trail broken: {verdict.problem}")
    click.echo(f"audit trail intact: {verdict.entries} entries, head {verdict.head.hex()}")


@main.group("statistics")
def statistics_group():
    """The running counts the statistics pages read."""


@statistics_group.command("check")
@click.option("--repair", is_flag=True, help="Write the recount over the kept counts if they disagree.")
def statistics_check(repair):
    """Recount every statistic from the cases and compare it with the counts the database keeps."""
    settings = _settings()
    with _session_factory(settings)() as session:
        wrong = statistics_tallies.disagreements(session)
        if wrong and repair:
            statistics_tallies.repair(session)
            session.commit()
            click.echo(f"{len(wrong)} counts disagreed; the recount is written over them")
            wrong = statistics_tallies.disagreements(session)
    for line in wrong[:50]:
        click.echo(line, err=True)
    if wrong:
        raise click.ClickException(f"{len(wrong)} statistics counts disagree with the cases")
    click.echo("statistics counts agree with the cases")


@audit_group.command("export")
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (default: standard output).")
def audit_export(form, output):
    """Write the whole trail, oldest first, with the chain's head digest to check it against."""
    settings = _settings()
    with _session_factory(settings)() as session:
        verdict = audit.verify(session)
        handle = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            if form == "json":
                handle.write('{"head": "%s", "intact": %s, "entries": [\n' % (
                    verdict.head.hex(), "true" if verdict.ok else "false"))
                for index, row in enumerate(audit.export_rows(session)):
                    handle.write((",\n" if index else "") + json.dumps(row, ensure_ascii=False))
                handle.write("\n]}\n")
            else:
                writer = csv.DictWriter(handle, fieldnames=["id", "at", "actor_user_id", "action", "case_id",
                                                            "detail", "digest"])
                writer.writeheader()
                for row in audit.export_rows(session):
                    writer.writerow(row)
        finally:
            if output:
                handle.close()
    message = f"audit trail {'intact' if verdict.ok else 'BROKEN: ' + verdict.problem}: " \
              f"{verdict.entries} entries, head {verdict.head.hex()}"
    click.echo(message, err=True)
    if not verdict.ok:
        raise SystemExit(1)


@main.group("recovery")
def recovery_group():
    """What only the holder of the offline recovery key can do."""


def _recovery_identity(session, key_file):
    """The recovery identity in ``key_file``, if it is this instance's."""
    return _recovery_identity_from_text(session, Path(key_file).read_text())


def _recovery_identity_from_text(session, text: str):
    try:
        identities = crypto.parse_identities(text)
    except (crypto.AgeError, ValueError):
        raise click.ClickException("this is not the recovery key of this instance") from None
    recovery = instance_service.load(session).recovery_recipient
    matching = [i for i in identities if str(i.recipient) == recovery]
    if not matching:
        raise click.ClickException("this is not the recovery key of this instance")
    return matching[0]


@recovery_group.command("readmit")
@click.argument("username")
@click.option("--recovery-key", "key_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The recovery key file written by `portal init`.")
def recovery_readmit(username, key_file):
    """Admit a user's new key to every case they hold (after a lost passphrase)."""
    settings = _settings()
    with _session_factory(settings)() as session:
        user = session.scalar(select(User).where(User.username == username.lower()))
        if user is None or not user.recipient or user.activation_digest is not None:
            raise click.ClickException("no such user with an activated key")
        count = handover.readmit(session, _recovery_identity(session, key_file), user)
    click.echo(f"{username} can open their {count} cases again")


ASSIGN_REFUSALS = {
    "not_usable": "{user} has no active account with an activated key",
    "already": "{user} can already open this case",
    "not_eligible": "{user} may not receive this case: the reporter's choice of recipients, a conflict of interest "
                    "or the reporter's wish to leave them out forbids it",
    "not_recovery": "the recovery key cannot open this case: it was sent to Electronics Watch only, whose keys "
                    "keep it",
}


@recovery_group.command("assign")
@click.argument("case_reference")
@click.argument("username")
@click.option("--recovery-key", "key_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The recovery key file written by `portal init`.")
def recovery_assign(case_reference, username, key_file):
    """Give CASE_REFERENCE (e.g. 2026-00042, or the number 42) to USERNAME, with the recovery key.

    For a case nobody active can open: its keyholders left or lost their keys.
    """
    settings = _settings()
    with _session_factory(settings)() as session:
        case = session.get(Case, _case_number(case_reference))
        if case is None or case.reference != _full_reference(case_reference, case):
            raise click.ClickException(f"no case {case_reference}")
        user = session.scalar(select(User).where(User.username == username.lower()))
        if user is None:
            raise click.ClickException(f"no user {username}")
        try:
            handover.assign_with_recovery(session, _recovery_identity(session, key_file), case, user,
                                          settings["BASE_URL"])
        except handover.HandoverError as error:
            raise click.ClickException(ASSIGN_REFUSALS[error.reason].format(user=username)) from None
        click.echo(f"case {case.reference} given to {username}; the audit trail records it")


def _case_number(reference: str) -> int:
    number = reference.strip().rsplit("-", 1)[-1]
    if not number.isdigit():
        raise click.ClickException(f"no case {reference}")
    return int(number)


def _full_reference(reference: str, case) -> str:
    """The reference as typed, with the year the case has when only its number was typed."""
    reference = reference.strip()
    return reference if "-" in reference else case.reference


@main.group("notifications")
def notifications_group():
    """E-mail notifications."""


@notifications_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending, every --interval seconds.")
@click.option("--interval", default=30, show_default=True)
def notifications_send(loop, interval):
    """Send the notifications that are due; failures are retried later."""
    settings = _settings()
    backoff = notifications.Backoff()

    def send(session):
        # Found here, so no case only the recovery key can open waits unseen.
        alerted = handover.alert_administrators(session, settings["BASE_URL"])
        # Mandatory notifications that waited for a contracting authority account go out with the rest.
        caught_up = authority_notices.catch_up(session, settings["BASE_URL"])
        sent, failed = notifications.send_due(session, settings, backoff=backoff)
        line = f"sent {sent}, failed {failed}" + (f"; {alerted} cases only the recovery key can open" if alerted else "")
        line += f"; {caught_up} mandatory notifications to the contracting authority" if caught_up else ""
        return (sent or failed or alerted or caught_up), line
    _periodically(settings, send, loop, interval)


@main.group("reminders")
def reminders_group():
    """Deadline reminders to the leads of cases."""


@reminders_group.command("queue")
@click.option("--loop", is_flag=True, help="Keep queueing, every --interval seconds.")
@click.option("--interval", default=86400, show_default=True)
def reminders_queue(loop, interval):
    """Queue the deadline reminders that are due (run daily); each is queued once, however often this runs."""
    from . import create_app

    settings = _settings()
    app = create_app(settings)
    try:
        while True:
            # The app's context: each reminder is written in its lead's language, with dates in their locale.
            with app.app_context(), app.extensions["portal.sessions"]() as session:
                queued = reminders.queue(session, settings["BASE_URL"], settings["REMIND_DAYS_BEFORE"])
            if queued or not loop:
                click.echo(f"queued {queued} reminders; `portal notifications send` sends them")
            if not loop:
                return
            time.sleep(interval)
    finally:
        app.extensions["portal.engine"].dispose()


@main.command()
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
def backup(backup_file):
    """Write a consistent snapshot of the instance, encrypted to the recovery key, to BACKUP_FILE."""
    settings = _settings()
    if backup_file.exists():
        raise click.ClickException(f"{backup_file} exists: refusing to overwrite it")
    engine = make_engine(settings["DATABASE_URL"])
    partial = backup_file.with_name(backup_file.name + ".partial")
    try:
        with partial.open("wb") as destination:
            counts = backups.write(engine, destination)
        partial.rename(backup_file)
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()
    click.echo(f"Backed up {sum(counts.values())} rows of {len(counts)} tables to {backup_file}; "
               "only the recovery key opens it.")


@main.command()
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--recovery-key", "recovery_key_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The recovery key file written by `portal init` (kept offline).")
def restore(backup_file, recovery_key_file):
    """Restore BACKUP_FILE into this empty instance (its database is created if needed)."""
    settings = _settings()
    migrate.upgrade(settings["DATABASE_URL"])
    identities = crypto.parse_identities(recovery_key_file.read_text(encoding="ascii"))
    engine = make_engine(settings["DATABASE_URL"])
    try:
        with backup_file.open("rb") as source:
            counts = backups.restore(engine, source, identities[0])
    except backups.BackupError as error:
        messages = {"key": "the recovery key does not open this backup, or the file is damaged",
                    "format": "this is not a portal backup, or it is damaged",
                    "revision": "the backup was made by another version of the portal: restore it with that version",
                    "not_empty": "this instance is not empty: restore only into a new, empty database"}
        raise click.ClickException(f"nothing restored: {messages[error.reason]}") from None
    finally:
        engine.dispose()
    click.echo(f"Restored {sum(counts.values())} rows of {len(counts)} tables.")


@main.group("translations")
def translations_group():
    """The catalogues' review status and this instance's own words (overrides)."""


@translations_group.command("status")
def translations_status():
    """Print translations/README.md's review table from translations/status.toml."""
    click.echo(translation_status.markdown_table(translation_status.load()), nl=False)


@translations_group.command("export-overrides")
@click.option("--language", required=True, help="The locale, as in PORTAL_LANGUAGES (vi, zh_Hans...).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The PO file to write (standard output without it).")
def translations_export_overrides(language, output):
    """The administrators' overrides in force in one language, as a PO file Weblate can import."""
    settings = _settings()
    if language not in settings["LANGUAGES"]:
        raise click.ClickException(f"{language} is not one of PORTAL_LANGUAGES")
    with _session_factory(settings)() as session:
        data = translation_overrides.export_po(session, language)
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        output.write_bytes(data)


@main.group("retention")
def retention_group():
    """Deleting closed cases once their retention period has passed."""


@retention_group.command("run")
@click.option("--loop", is_flag=True, help="Keep running, every --interval seconds.")
@click.option("--interval", default=3600, show_default=True)
def retention_run(loop, interval):
    """Delete the closed cases whose retention period (PORTAL_RETENTION_DAYS) has passed."""
    settings = _settings()

    def purge(session):
        deleted = retention.purge(session, settings["RETENTION_DAYS"])
        # Files kept for a reporter's form whose session has surely ended (day granularity).
        files = kept_files.purge(session)
        # Attempt budgets whose window has passed, e.g. of made-up usernames nobody tries again.
        budgets = throttle.forget_expired(session)
        # Reports by text left unfinished, and replay records of SMS webhooks, past their time.
        texts = sms.forget_expired(session)
        session.commit()
        return (deleted or files or budgets or texts,
                f"deleted {deleted} closed cases, {files} kept files, {budgets} expired attempt budgets "
                f"and {texts} expired SMS records")
    _periodically(settings, purge, loop, interval)


@main.group("forwards")
def forwards_group():
    """Bundles forwarded to and from partner instances (Electronics Watch)."""


@forwards_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending, every --interval seconds.")
@click.option("--interval", default=30, show_default=True)
@click.option("--now", "everything_now", is_flag=True,
              help="Try every waiting bundle now, whatever its backoff (the partner says it is back).")
def forwards_send(loop, interval, everything_now):
    """Deliver the bundles and statuses that are due; a partner that is down is retried with backoff."""
    settings = _settings()

    def deliver(session):
        sent = forwarding.deliver_due(session, settings["BASE_URL"], everything_now)
        return sent, f"delivered {sent}"
    _periodically(settings, deliver, loop, interval)


@forwards_group.command("import")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def forwards_import(bundle_file):
    """File a bundle a partner gave as a file; its signature must match a registered partner."""
    settings = _settings()
    with _session_factory(settings)() as session:
        try:
            with bundle_file.open("rb") as stream:
                bundle = bundles.read_limited(stream, bundle_file.stat().st_size)
            filed = forwarding.import_file(session, bundle, settings["BASE_URL"])
        except bundles.BundleError as error:
            raise click.ClickException(f"refused, nothing stored: {error.reason}") from None
        case = session.get(Case, filed.received.case_id)
        click.echo(f"{'already filed as' if filed.duplicate else 'filed as'} case {case.reference}")


@forwards_group.command("rewrap")
@click.option("--recovery-key", "key_file", type=click.File("r"), required=True,
              help="The recovery key file written by `portal init`, or - to read it from standard input. "
                   "Nothing of it is stored.")
def forwards_rewrap(key_file):
    """Let monitor users who joined after a bundle arrived read it: every active monitor user with a key
    is admitted to every forwarded case they do not hold yet (each item's header gains their stanza,
    opened with the recovery key). Idempotent; the audit trail records each case."""
    settings = _settings()
    with _session_factory(settings)() as session:
        identity = _recovery_identity_from_text(session, key_file.read())
        done = handover.admit_monitors(session, identity)
    click.echo(f"admitted {done.users} monitor keys to {done.cases} forwarded cases ({done.items} items rewritten"
               f"{f', {done.unopened} the recovery key does not open' if done.unopened else ''})")


@forwards_group.command("fingerprint")
def forwards_fingerprint():
    """Print this instance's signing-key fingerprint, to give to partners out of band."""
    with _session_factory(_settings())() as session:
        click.echo(signing.readable(partners.own_fingerprint(session)))


@main.group("cases")
def cases_group():
    """Cases exported for a lawyer or a court."""


@cases_group.command("verify-export")
@click.argument("export_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--identity", "identity_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="An age identity file: EXPORT_FILE is then the encrypted .age file.")
@click.option("--fingerprint", default=None,
              help="The exporting portal's signing-key fingerprint, obtained from it out of band "
                   "(`portal forwards fingerprint`); the manifest must be signed by that key.")
def cases_verify_export(export_file, identity_file, fingerprint):
    """Check a case export: the manifest's signature and every file's size and SHA-256.

    EXPORT_FILE is the decrypted ZIP (age -d -i key.txt case.zip.age > case.zip), or the .age
    file itself with --identity. Needs no database: a court can run it anywhere."""
    if identity_file is not None:
        identities = crypto.parse_identities(identity_file.read_text(encoding="utf-8"))
        opened = io.BytesIO()
        try:
            with export_file.open("rb") as sealed:
                crypto.decrypt_stream(sealed, opened, identities)
        except crypto.AgeError as error:
            raise click.ClickException(f"cannot decrypt {export_file} with this identity: {error}") from None
        opened.seek(0)
        verification = case_exports.verify(opened, fingerprint)
    else:
        verification = case_exports.verify(export_file, fingerprint)
    manifest = verification.manifest
    if manifest:
        exporter = manifest.get("exported_by", {})
        click.echo(f"case {manifest.get('case')}, exported on {manifest.get('exported_on')} by "
                   f"{exporter.get('display_name')} ({exporter.get('username')})")
    for line in verification.checked:
        click.echo(line)
    if not verification.ok:
        for problem in verification.problems:
            click.echo(f"FAILED: {problem}", err=True)
        raise click.ClickException(f"the export does not verify: {len(verification.problems)} problem(s)")
    if fingerprint is None:
        click.echo("Compare the signing key's fingerprint above with the one the exporting portal gives "
                   "(`portal forwards fingerprint`), or pass it with --fingerprint.")
    click.echo(f"export verified: {len(manifest['files'])} files, every hash and the signature hold")


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
