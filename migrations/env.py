"""Alembic environment: the URL comes from the portal's configuration."""

from alembic import context

import portal.models  # noqa: F401  (registers every table)
from portal.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection):
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a SQLite table by copy and drop; with foreign keys on,
        # dropping a table that other rows point at fails. They are checked after.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # Renaming the rebuilt table back must not re-check the triggers that name it (migration
        # 0021's unread marks read ``cases`` from ``keyholders``): with the table briefly gone,
        # SQLite would refuse the rename.
        connection.exec_driver_sql("PRAGMA legacy_alter_table=ON")
        connection.commit()
    # Batch mode lets SQLite alter tables the way PostgreSQL can.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
        connection.commit()
        if problems:
            raise RuntimeError(f"the migration broke foreign keys: {problems[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
