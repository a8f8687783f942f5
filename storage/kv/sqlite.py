"""The shared store in a SQLite file of its own beside the database, through the driver itself."""
from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Sequence

from storage.kv.base import Claimed, KVUnavailable
from storage.kv.keys import carried
from storage.models import KeyValue

log = logging.getLogger("nanhu.kv")


class SqliteKV:
    """The store in a SQLite file of its own beside the database (`<database>.<boot>.kv`), through the driver itself:
    every write is one statement in autocommit, on a small pool of this process's own connections. Its contents
    may be lost without harm beyond conversations in progress. A `volatile` store does not wait for the disk, so its
    path must be one that no later boot writes to (`for_database`)."""

    # No index on expires_at: every write would change two of its pages besides the row's own, and the sweep
    # walks the table in key order instead (`_sweep`). Files of the previous version had one.
    SCHEMA = (f"CREATE TABLE IF NOT EXISTS {KeyValue.__tablename__} (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
              "expires_at REAL) WITHOUT ROWID",
              "DROP INDEX IF EXISTS ix_kv_expires_at")

    def __init__(self, path: str, timeout: float, owner: str | None = None, volatile: bool = False):
        """`owner`: a file whose owner the store's file takes when this process, as root, creates it (the database:
        a CLI run under sudo must not leave a file the service cannot write)."""
        self.path = path
        self.volatile = volatile
        self.timeout = timeout
        self.owner = owner
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._generation = 0  # connections of an earlier generation are closed, not kept
        t = KeyValue.__tablename__
        live = "(expires_at IS NULL OR expires_at > ?)"
        self._get = f"SELECT value FROM {t} WHERE key = ? AND {live}"
        self._get_many_by_size: dict[int, str] = {}
        self._claim_by_size: dict[int, str] = {}
        self._apply_by_size: dict[int, str] = {}
        self._upsert = (f"INSERT INTO {t} (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                        "SET value = excluded.value, expires_at = excluded.expires_at")
        # set_nx in one statement: insert, or take over a row that has expired; one row changed if taken
        self._take = self._upsert + f" WHERE {t}.expires_at <= ?"
        self._delete = f"DELETE FROM {t} WHERE key = ?"
        # incr in one statement: a new count, or one more on a live one, or a new count over an expired row
        self._incr = (f"INSERT INTO {t} (key, value, expires_at) VALUES (?1, '1', ?2) ON CONFLICT (key) DO UPDATE SET "
                      f"value = CASE WHEN {t}.expires_at IS NULL OR {t}.expires_at > ?3 "
                      f"THEN CAST({t}.value AS INTEGER) + 1 ELSE 1 END, "
                      f"expires_at = CASE WHEN {t}.expires_at IS NULL OR {t}.expires_at > ?3 "
                      f"THEN coalesce({t}.expires_at, ?2) ELSE ?2 END RETURNING value")
        self._delete_if = f"DELETE FROM {t} WHERE key = ? AND value = ? AND {live}"  # an expired row holds nothing
        self._sweep_end = f"SELECT key FROM {t} WHERE key > ? ORDER BY key LIMIT 1 OFFSET ?"
        self._sweep_upto = f"DELETE FROM {t} WHERE key > ? AND key <= ? AND expires_at < ?"
        self._sweep_rest = f"DELETE FROM {t} WHERE key > ? AND expires_at < ?"
        self._swept_to = ""  # this process's sweep goes on from this key
        self._live = live
        self._prepare()
        _open_stores.add(self)

    def _prepare(self) -> None:
        """The file in WAL mode (which it keeps) with its table, created if missing. Processes starting together
        may all find it new, and SQLite can then refuse the journal-mode change with "locked" without waiting, so
        each tries again until `timeout`."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        new = not os.path.exists(self.path)
        give_up = time.monotonic() + self.timeout
        while True:
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    for statement in self.SCHEMA:
                        conn.execute(statement)
                finally:
                    conn.close()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= give_up:
                    raise KVUnavailable(f"{self.path}: {exc}") from exc
                time.sleep(0.01)
            except sqlite3.Error as exc:
                raise KVUnavailable(f"{self.path}: {exc}") from exc
        if new and self.owner is not None:
            _own_like(self.path, self.owner)

    def _get_many(self, n: int) -> str:
        if n not in self._get_many_by_size:
            marks = ", ".join("?" * n)
            self._get_many_by_size[n] = (f"SELECT key, value FROM {KeyValue.__tablename__} "
                                         f"WHERE key IN ({marks}) AND {self._live}")
        return self._get_many_by_size[n]

    def _claim_sql(self, n: int) -> str:
        """set_nx of keys 1..n in one statement, stopping at the first one held: that key's place is worked out
        once, before any row is written, and only the keys before it are inserted (or take over an expired row).
        The statement's change count is how many were taken."""
        if n not in self._claim_by_size:
            t = KeyValue.__tablename__
            rows = ", ".join(f"(?{3 * i + 1}, ?{3 * i + 2}, ?{3 * i + 3}, {i + 1})" for i in range(n))
            places = ", ".join(f"(?{3 * i + 1}, {i + 1})" for i in range(n))
            now = f"?{3 * n + 1}"
            self._claim_by_size[n] = (
                f"INSERT INTO {t} (key, value, expires_at) SELECT column1, column2, column3 FROM (VALUES {rows}) "
                f"WHERE column4 < (SELECT coalesce(min(p.column2), {n + 1}) FROM (VALUES {places}) AS p "
                f"JOIN {t} ON {t}.key = p.column1 WHERE {t}.expires_at IS NULL OR {t}.expires_at > {now}) "
                f"ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
                f"WHERE {t}.expires_at <= {now}")
        return self._claim_by_size[n]

    def _apply_sql(self, n: int) -> str:
        """Sets, deletes and releases as one upsert of n rows. A delete is a row that expired long ago, as every
        read sees it (the sweep drops it); a release (expires_at `_RELEASE`) expires its key only while the key
        still holds the releaser's value."""
        if n not in self._apply_by_size:
            t = KeyValue.__tablename__
            self._apply_by_size[n] = (
                f"INSERT INTO {t} (key, value, expires_at) VALUES {', '.join(['(?, ?, ?)'] * n)} "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
                f"WHERE excluded.expires_at IS NOT {_RELEASE} OR {t}.value = excluded.value")
        return self._apply_by_size[n]

    # connections
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA synchronous={'OFF' if self.volatile else 'NORMAL'}")
            conn.execute(f"PRAGMA journal_size_limit={_WAL_KEPT}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _checkout(self) -> tuple[sqlite3.Connection, int]:
        with self._lock:
            generation = self._generation
            if self._idle:
                return self._idle.pop(), generation
        return self._open(), generation

    def _checkin(self, conn: sqlite3.Connection, generation: int) -> None:
        if not conn.in_transaction:  # never a connection with a transaction left open
            with self._lock:
                if generation == self._generation:
                    self._idle.append(conn)
                    return
        _close(conn)

    def close(self) -> None:
        """Close the idle connections (those in use are closed when given back)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            _close(conn)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._idle = []
        self._generation += 1

    def _run(self, op):
        """`op(connection)` on a connection of the pool; each of its statements commits on its own."""
        try:
            conn, generation = self._checkout()
        except sqlite3.Error as exc:
            raise KVUnavailable(str(exc)) from exc
        try:
            return op(conn)
        except sqlite3.Error as exc:  # locked past the busy timeout, disk full, file gone: unavailable
            raise KVUnavailable(str(exc)) from exc
        finally:
            self._checkin(conn, generation)

    def _get_on(self, c: sqlite3.Connection, key: str, now: float) -> str | None:
        row = c.execute(self._get, (key, now)).fetchone()
        return row[0] if row else None

    def get(self, key: str) -> str | None:
        return self._run(lambda c: self._get_on(c, key, time.time()))

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._run(lambda c: c.execute(self._upsert, (key, value, time.time() + ttl if ttl else None)))

    def set_nx(self, key: str, value: str, ttl: float) -> bool:
        self._maybe_sweep()
        now = time.time()
        return self._run(lambda c: c.execute(self._take, (key, value, now + ttl, now)).rowcount == 1)

    def incr(self, key: str, ttl: float) -> int:
        now = time.time()
        return self._run(lambda c: int(c.execute(self._incr, (key, now + ttl, now)).fetchall()[0][0]))

    def delete(self, key: str) -> None:
        self._run(lambda c: c.execute(self._delete, (key,)))

    def delete_if(self, key: str, value: str) -> bool:
        return self._run(lambda c: c.execute(self._delete_if, (key, value, time.time())).rowcount == 1)

    def ping(self) -> None:
        self._run(lambda c: c.execute("SELECT 1").fetchall())

    def connect(self) -> None:
        """One more idle connection, opened now (each of the webhook's handler threads asks once when it starts,
        so a resident's push finds one open)."""
        try:
            conn = self._open()
        except sqlite3.Error as exc:
            raise KVUnavailable(str(exc)) from exc
        with self._lock:
            self._idle.append(conn)

    def claim(self, keys: Sequence[tuple[str, str, float]], reads: Sequence[str] = ()) -> Claimed:
        if len({key for key, _, _ in keys}) != len(keys):
            raise ValueError("claim: the keys must be distinct")
        self._maybe_sweep()

        def op(c):
            now = time.time()
            params = [x for key, value, ttl in keys for x in (key, value, now + ttl)]
            params.append(now)
            taken = c.execute(self._claim_sql(len(keys)), params).rowcount if keys else 0
            try:
                holder = self._get_on(c, keys[taken][0], now) if taken < len(keys) else None
                # read after the write: the lease just taken keeps what a turn reads the resident's meanwhile
                found = dict(c.execute(self._get_many(len(reads)), (*reads, now)).fetchall()) if reads else {}
            except BaseException:  # the write committed on its own: give back what it took, as if never claimed
                self._give_back(c, keys[:taken])
                raise
            return Claimed(taken, holder, tuple(found.get(k) for k in reads))
        return self._run(op)

    def _give_back(self, c: sqlite3.Connection, taken: Sequence[tuple[str, str, float]]) -> None:
        if not taken:
            return
        try:
            c.execute(self._apply_sql(len(taken)), [x for key, value, _ in taken for x in (key, value, _RELEASE)])
        except BaseException as exc:  # the error that led here is the one to raise; the keys expire by themselves
            log.warning("kv: could not give back a claim that failed half-way (%s)", type(exc).__name__)

    def apply(self, sets: Sequence[tuple[str, str, float | None]] = (), deletes: Sequence[str] = (),
              releases: Sequence[tuple[str, str]] = ()) -> None:
        if not (sets or deletes or releases):
            return

        def op(c):
            now = time.time()
            params: list = []
            for key, value, ttl in sets:
                params += (key, value, now + ttl if ttl else None)
            for key in deletes:
                params += (key, "", 0.0)
            for key, value in releases:
                params += (key, value, _RELEASE)
            c.execute(self._apply_sql(len(params) // 3), params)
        self._run(op)

    def _maybe_sweep(self) -> None:
        if random.random() < 0.01:
            self._sweep()

    def _sweep(self, batch: int = 500) -> None:
        """Drop the expired rows among the next `batch` in key order, starting over at the first key after the last;
        best effort. Each claim has a 1 % chance to sweep and adds at most three rows, so the walk keeps up."""
        def op(c):
            after = self._swept_to
            row = c.execute(self._sweep_end, (after, batch - 1)).fetchone()
            if row is None:
                c.execute(self._sweep_rest, (after, time.time()))
                self._swept_to = ""
            else:
                c.execute(self._sweep_upto, (after, row[0], time.time()))
                self._swept_to = row[0]
        try:
            self._run(op)
        except KVUnavailable as exc:
            log.warning("kv sweep skipped: %s", exc)


    def carry_from(self, earlier: str) -> None:
        """Copy the rows of the store file `earlier` that have not expired into this one where it has no such key,
        once (the first process to start does it; a marker row tells the others). A file the machine's crash left
        corrupt is not copied: it must pass SQLite's quick_check. Best effort."""
        name = os.path.basename(earlier)
        marker = carried(name)
        if self.get(marker) is not None:
            return
        try:
            old = sqlite3.connect(earlier, timeout=self.timeout, isolation_level=None)
            try:
                if old.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    log.warning("kv: %s did not pass SQLite's quick_check: not carried over", name)
                    return
                rows = old.execute(f"SELECT key, value, expires_at FROM {KeyValue.__tablename__} WHERE {self._live}",
                                   (time.time(),)).fetchall()
            finally:
                old.close()
        except sqlite3.Error as exc:
            log.warning("kv: could not read %s (%s): not carried over", name, exc)
            return

        def op(c):
            c.execute("BEGIN IMMEDIATE")
            try:
                if self._get_on(c, marker, time.time()) is None:
                    c.executemany(f"INSERT OR IGNORE INTO {KeyValue.__tablename__} (key, value, expires_at) "
                                  "VALUES (?, ?, ?)", rows)
                    c.execute(self._upsert, (marker, "1", time.time() + 86400))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        try:
            self._run(op)
        except KVUnavailable as exc:
            log.warning("kv: could not carry %s over (%s)", name, exc)


_RELEASE = -1.0  # in `SqliteKV.apply`'s rows: expire the key if it still holds this value
_WAL_KEPT = 32 * 1024 * 1024  # a write-ahead log that grew beyond this in a burst is cut back when it starts over


def _own_like(path: str, model: str) -> None:
    """Give `path` the owner and group of `model`, when this process is root and they differ (best effort)."""
    try:
        st = os.stat(model)
        if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
            os.chown(path, st.st_uid, st.st_gid)
    except OSError as exc:
        log.warning("kv: could not give %s the database's owner (%s)", path, type(exc).__name__)


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error as exc:
        log.warning("could not close a kv connection (%s)", type(exc).__name__)


# SQLite forbids carrying an open connection across fork(): the child would share the parent's record of the
# file's locks and take none of its own. So idle connections are closed just before this process forks. One that
# another thread is using then still goes into the child: a process that forks must not use the store in other
# threads meanwhile (none of nanhu's do).
_open_stores: "weakref.WeakSet[SqliteKV]" = weakref.WeakSet()


def _close_before_fork() -> None:
    for store in list(_open_stores):
        store.close()


def _reset_in_child() -> None:
    for store in list(_open_stores):
        store._after_fork_in_child()


os.register_at_fork(before=_close_before_fork, after_in_child=_reset_in_child)
