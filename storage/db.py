"""The one place that owns engines, sessions and transactions.

Every service function runs one action in one transaction: `with db.transaction() as s: ...`
commits on success and rolls back on any exception, so nothing is half-written.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.performance.prepared import driver_errors
from storage.performance.writers import SqliteWriters

log = logging.getLogger("nanhu.db")
T = TypeVar("T")
NEW_NOTICES = "nanhu.new_notices"  # session.info key: the notices due now that a transaction wrote (storage.notices)


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # straight to the driver: this runs once per transaction, several times per message. SQLAlchemy does
    # not wrap errors raised in this event, so a locked database is wrapped here as any statement's would be.
    statement = "BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE"
    with driver_errors(statement):
        conn.connection.dbapi_connection.execute(statement)


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
            max_overflow=10,  # 8 + 8 as before, and the two that group commit keeps (opinions, the SQL store)
            pool_timeout=timeout,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; issue it ourselves. A transaction that may
        # write takes the write lock up front (BEGIN IMMEDIATE): one that reads first and writes later
        # cannot be upgraded while another writer commits, and SQLite fails it at once ("database is
        # locked") instead of waiting out the busy timeout.
        event.listen(engine, "connect", lambda c, r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
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
        self._writers = SqliteWriters(self.sqlite_file, timeout) if self.dialect == "sqlite" else None
        self._timeout = timeout
        self._read_only = self.engine.execution_options(read_only=True)
        self._read_sessions = sessionmaker(self._read_only, expire_on_commit=False)
        self._shared: dict[str, object] = {}
        self._shared_lock = threading.Lock()
        self._kept: list[tuple[int, Connection]] = []  # (pid, connection): kept connections, by process
        self._on_commit: list[Callable[[tuple[int, ...]], object]] = []
        if self._writers is not None:
            _sqlite_databases.add(self)

    def shared(self, name: str, make: Callable[[], T]) -> T:
        """One object per database and name, made on first use: the group-commit queue of a kind of write
        (`storage.performance.batching`), which every caller writing to this database must share."""
        with self._shared_lock:
            if name not in self._shared:
                self._shared[name] = make()
            return self._shared[name]

    @property
    def timeout(self) -> float:
        """database.timeout: how long a connection, a lock or a statement may be waited for."""
        return self._timeout

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_file(self) -> str | None:
        """The SQLite database's file (the writers queue and the shared store sit beside it); None for PostgreSQL
        or memory."""
        path = self.engine.url.database if self.dialect == "sqlite" else None
        return path if path and path != ":memory:" else None

    @contextlib.contextmanager
    def _writing(self, read_only: bool) -> Iterator[None]:
        queued = not read_only and self._writers is not None and self._writers.acquire()
        try:
            yield
        finally:
            if queued:
                self._writers.release()

    def on_commit(self, callback: Callable[[tuple[int, ...]], object]) -> None:
        """Call `callback(notice_ids)` after each transaction that wrote notices due now has committed."""
        self._on_commit.append(callback)

    @contextlib.contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[Session]:
        """One action, one transaction: commit on success, roll back on error. `read_only` lets SQLite
        run it beside a writer (a transaction that writes waits for the write lock from its start)."""
        written: tuple[int, ...] = ()
        with self._writing(read_only):
            session = (self._read_sessions if read_only else self._sessions)()
            try:
                with session.begin():
                    yield session
                written = tuple(session.info.pop(NEW_NOTICES, ()))
            finally:
                session.close()
        if written:  # outside the writers' queue: the callbacks run transactions of their own
            self._committed(written)

    def _committed(self, notice_ids: tuple[int, ...]) -> None:
        for callback in self._on_commit:
            try:
                callback(notice_ids)
            except Exception as exc:  # the change is committed; the sweeper queues what was not
                log.error("after-commit %s failed (%s): the sweeper will queue notices %s",
                          getattr(callback, "__name__", callback), type(exc).__name__, list(notice_ids))

    @contextlib.contextmanager
    def connection(self, read_only: bool = False) -> Iterator[Connection]:
        """`transaction` without the ORM, for small statements on the hot path (the shared store)."""
        # the pool's checkout and its reset on return stay outside the writers' queue
        with (self._read_only if read_only else self.engine).connect() as conn:
            with self.transaction_on(conn, read_only):
                yield conn

    def keep_connection(self) -> Connection:
        """A connection taken out of the pool until `dispose`, for one caller at a time (a group-commit leader):
        no checkout from the pool and reset on return for each of its transactions (`transaction_on`).
        Not for a process that forks while writing: the child would inherit the transaction's locks."""
        conn = self.engine.connect()
        with self._shared_lock:
            self._kept.append((os.getpid(), conn))
        return conn

    def let_go(self, conn: Connection) -> None:
        """A kept connection returned to the pool, which rolls back whatever a failure left open (a COMMIT that
        failed, say); the next leader keeps another from the pool."""
        with self._shared_lock:
            self._kept = [(pid, c) for pid, c in self._kept if c is not conn]
        try:
            conn.close()
        except Exception as exc:  # it is being dropped anyway; the error that led here is the one to raise
            log.warning("could not close a kept connection (%s)", type(exc).__name__)

    @contextlib.contextmanager
    def transaction_on(self, conn: Connection, read_only: bool = False) -> Iterator[Connection]:
        """A transaction on `conn` (from the pool, or kept), queued for SQLite's writer unless `read_only`."""
        with self._writing(read_only), conn.begin():
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close the connections (for shutdown and tests, once writers have stopped: a kept connection is closed
        even if a leader is using it)."""
        # a connection a parent process kept is never used or closed here (as engine.dispose(close=False))
        for conn in [c for pid, c in self._kept if pid == os.getpid()]:
            self.let_go(conn)
        self.engine.dispose()


# SQLite forbids carrying an open connection across fork(): the child would share the parent's record of the
# file's locks and take none of its own, and when the parent then closed its last connection it would fold
# the WAL away under the child's feet. So the pool's idle connections are closed just before this process
# forks (gunicorn's preloading master). One checked out by another thread at that moment still goes into the
# child: a process that forks must not use the database in other threads meanwhile (none of nanhu's do).
_sqlite_databases: "weakref.WeakSet[Database]" = weakref.WeakSet()


def _close_idle_before_fork() -> None:
    for db in list(_sqlite_databases):
        db.engine.dispose()


os.register_at_fork(before=_close_idle_before_fork)
