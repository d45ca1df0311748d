"""Backups: a consistent snapshot of the whole database, as one age file
encrypted to the organisation's recovery recipient, and its restore into an
empty instance.

Everything the portal keeps is in the database (items are stored encrypted
in it), so the snapshot is the instance. The file is JSON lines, gzip, then
age: only the offline recovery key opens a backup, so a stolen backup
reveals no more than a stolen database, and less.
"""

import base64
import gzip
import json
import os
import secrets
import threading
from datetime import date, datetime

from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

import crypto

from ..db import Base
from ..models import Instance
from . import clock
from .statistics_tallies import TALLIES

FORMAT = "whistleblower-portal-backup/1"
# Counts the database keeps from other rows (migration 0027): not kept in a backup, made again by
# the triggers as the rows they count are restored.
DERIVED_TABLES = frozenset(model.__tablename__ for model in TALLIES)


class BackupError(ValueError):
    """A backup that cannot be restored here (``reason``: key, format, revision, not_empty)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _plain(value):
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    return value


def _typed(value):
    if isinstance(value, dict):
        if "$b" in value:
            return base64.b64decode(value["$b"])
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$d" in value:
            return date.fromisoformat(value["$d"])
    return value


def _revision(connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


class _Pipe:
    """``produce(writer)`` runs in a thread; the caller reads what it writes.

    The snapshot flows from the database through gzip into age without ever
    being whole in memory or plain on disk.
    """

    def __init__(self, produce):
        read_end, write_end = os.pipe()
        self.reader = os.fdopen(read_end, "rb")
        self.error = None

        def run():
            try:
                with os.fdopen(write_end, "wb") as writer:
                    produce(writer)
            except BaseException as error:  # handed to the reading thread
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finish(self):
        """Wait for the producer (a reader that stopped early makes it fail with a broken pipe)."""
        self.reader.close()
        self.thread.join()
        if self.error is not None:
            raise self.error


def write(engine, destination) -> dict:
    """Write the encrypted snapshot to the binary file ``destination``; return counts per table."""
    with engine.connect() as connection:
        recovery = connection.execute(select(Instance.recovery_recipient)).scalar_one()
    counts = {}
    pipe = _Pipe(lambda writer: _dump(engine, writer, counts))
    try:
        crypto.encrypt_stream(pipe.reader, destination, [recovery])
    except BaseException:
        pipe.reader.close()
        pipe.thread.join()
        raise
    pipe.finish()
    return counts


def _dump(engine, writer, counts) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            # One read transaction: SQLite in WAL mode then reads one snapshot throughout.
            connection.exec_driver_sql("BEGIN")
        with gzip.GzipFile(fileobj=writer, mode="wb", mtime=0) as lines:
            header = {"format": FORMAT, "revision": _revision(connection),
                      "created_at": clock.now().isoformat(timespec="seconds")}
            lines.write(json.dumps(header).encode() + b"\n")
            for table in Base.metadata.sorted_tables:
                if table.name in DERIVED_TABLES:
                    continue
                columns = [c.name for c in table.columns]
                lines.write(json.dumps({"table": table.name, "columns": columns}).encode() + b"\n")
                count = 0
                for row in connection.execute(select(table).order_by(*table.primary_key.columns)):
                    lines.write(json.dumps([_plain(v) for v in row], ensure_ascii=False).encode() + b"\n")
                    count += 1
                counts[table.name] = count
        connection.rollback()


def restore(engine, source, recovery_identity) -> dict:
    """Load a backup into an empty, migrated database; return counts per table."""
    pipe = _Pipe(lambda writer: crypto.decrypt_stream(source, writer, [recovery_identity]))
    try:
        counts = _load(engine, pipe.reader)
    except (BackupError, gzip.BadGzipFile, EOFError, OSError, ValueError) as failure:
        refusal = failure if isinstance(failure, BackupError) else BackupError("format")
    else:
        refusal = None
    try:
        pipe.finish()
    except crypto.AgeError:
        # Not this instance's recovery key, or a damaged file: nothing was loaded (one transaction).
        raise BackupError("key") from None
    except OSError:
        pass  # the loader stopped reading early: its refusal says why
    if refusal is not None:
        raise refusal
    return counts


def _load(engine, plain) -> dict:
    counts = {}
    tables = {table.name: table for table in Base.metadata.sorted_tables}
    with gzip.GzipFile(fileobj=plain, mode="rb") as lines, engine.begin() as connection:
        header = json.loads(lines.readline() or b"{}")
        if header.get("format") != FORMAT:
            raise BackupError("format")
        if header.get("revision") != _revision(connection):
            raise BackupError("revision")
        if connection.execute(select(func.count()).select_from(Instance)).scalar_one():
            raise BackupError("not_empty")
        if engine.dialect.name == "sqlite":
            # Rows arrive table by table in dependency order, but a table may refer to itself.
            connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        table, columns, batch = None, [], []

        def flush():
            if batch:
                connection.execute(table.insert(), batch)
                counts[table.name] = counts.get(table.name, 0) + len(batch)
                batch.clear()

        for line in lines:
            record = json.loads(line)
            if isinstance(record, dict):
                flush()
                table, columns = tables[record["table"]], record["columns"]
                counts.setdefault(table.name, 0)
                continue
            if table.name in DERIVED_TABLES:
                continue
            batch.append(dict(zip(columns, (_typed(v) for v in record), strict=True)))
            if len(batch) >= 500:
                flush()
        flush()
        # A process that ran on through the wipe keeps routing's views of some generation; the
        # restored rows start from one it cannot have seen (services/routing_cache.py).
        connection.execute(Instance.__table__.update().values(
            routing_generation=Instance.__table__.c.routing_generation + secrets.randbelow(2**40) + 1))
        if engine.dialect.name == "postgresql":
            for name, model_table in tables.items():
                if "id" in model_table.columns and counts.get(name):
                    connection.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    return counts
