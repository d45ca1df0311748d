"""The database: engine, sessions, and the declarative base of every model.

SQLite (in WAL mode) is the embedded default; PostgreSQL is the production
database. Nothing here is specific to either beyond the SQLite pragmas.
"""

from contextlib import contextmanager

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.orm import DeclarativeBase, sessionmaker

# Stable constraint names, so Alembic migrations match on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _HintedSQLiteCompiler(SQLiteCompiler):
    """Writes a statement's table hints for SQLite (``Select.with_hint(..., "sqlite")``), e.g.
    ``INDEXED BY``: SQLite keeps no statistics unless asked, and may otherwise read a wide
    row where a narrow index holds all a query needs (services/inbox.py)."""

    def get_from_hint_text(self, table, text):
        return text


def make_engine(url: str):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        engine.dialect.statement_compiler = _HintedSQLiteCompiler

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_session_factory(engine):
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(session_factory):
    """A session whose work is committed whole or rolled back whole."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

# The largest id an integer column holds on every engine (PostgreSQL's INTEGER).
LARGEST_ID = 2**31 - 1
