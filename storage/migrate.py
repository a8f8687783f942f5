"""`nanhu db upgrade`: Alembic migrations run from code, on nanhu's own engine."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

from storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic(connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@contextlib.contextmanager
def _migrating(db: Database) -> Iterator[Connection]:
    """One transaction for the migration. On SQLite, Alembic's batch mode recreates tables, which fails
    while other tables' foreign keys point at them; the keys are off during the migration (the pragma
    works only outside a transaction) and checked before it commits."""
    with db.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").first()):
                    raise RuntimeError(f"migration left a broken foreign key in table {broken[0]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def upgrade(db: Database, revision: str = "head") -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter buries the useful lines
    with _migrating(db) as conn:
        command.upgrade(_alembic(conn), revision)


def downgrade(db: Database, revision: str) -> None:
    with _migrating(db) as conn:
        command.downgrade(_alembic(conn), revision)


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration from the models (developers only)."""
    with db.engine.begin() as conn:
        command.revision(_alembic(conn), message=message, autogenerate=True)


def current(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    from alembic.script import ScriptDirectory
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


class SchemaOutdated(Exception):
    """The database schema is not the one this code expects."""


def require_current(db: Database) -> None:
    """Raise SchemaOutdated, with the command that fixes it, unless the schema is at head."""
    at, want = current(db), head()
    if at != want:
        state = "has no nanhu schema yet" if at is None else f"is at revision {at}, this code needs {want}"
        raise SchemaOutdated(f"the database {state}: run `nanhu db upgrade`")
