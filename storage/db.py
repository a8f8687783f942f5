"""The one place that owns engines, sessions and transactions.

Every service function runs one action in one transaction: `with db.transaction() as s: ...`
commits on success and rolls back on any exception, so nothing is half-written.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, timeout: float = 2.0) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,  # errors end up in logs; parameters can hold residents' words and phones
            connect_args={"timeout": timeout, "check_same_thread": False},
            pool_size=8,
            max_overflow=8,
            pool_timeout=timeout,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; issue it ourselves. A transaction that may
        # write takes the write lock up front (BEGIN IMMEDIATE): one that reads first and writes later
        # cannot be upgraded while another writer commits, and SQLite fails it at once ("database is
        # locked") instead of waiting out the busy timeout.
        event.listen(engine, "connect", lambda c, r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", lambda c: c.exec_driver_sql(
            "BEGIN" if c.get_execution_options().get("read_only") else "BEGIN IMMEDIATE"))
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    ms = int(timeout * 1000)
    return create_engine(
        parsed,
        hide_parameters=True,
        connect_args={"connect_timeout": max(1, int(timeout + 0.999)),
                      "options": f"-c statement_timeout={ms * 2} -c lock_timeout={ms}"},
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout,
        pool_pre_ping=True,
    )


class Database:
    def __init__(self, url: str, timeout: float = 2.0):
        self.url = url
        self.engine = make_engine(url, timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time: this process's writers queue here and are woken the moment the
        # lock frees, instead of sleeping in SQLite's busy-retry (1-100 ms steps); other processes still
        # wait in SQLite itself
        self._writers = threading.RLock() if self.engine.dialect.name == "sqlite" else None
        self._timeout = timeout
        self._read_sessions = sessionmaker(self.engine.execution_options(read_only=True), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[Session]:
        """One action, one transaction: commit on success, roll back on error. `read_only` lets SQLite
        run it beside a writer (a transaction that writes waits for the write lock from its start)."""
        queued = (not read_only and self._writers is not None
                  and self._writers.acquire(timeout=self._timeout))  # not had in time: SQLite decides
        session = (self._read_sessions if read_only else self._sessions)()
        try:
            with session.begin():
                yield session
        finally:
            session.close()
            if queued:
                self._writers.release()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
