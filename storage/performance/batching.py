"""Group commit: writes of one kind that arrive while one is being written go in together, in one transaction
that the first caller leads; each caller still gets its own answer or its own error. The batch function must only
touch the database: when a batch fails, each of its callers writes its item again, alone."""
from __future__ import annotations

import _thread
import contextlib
import os
import threading
from typing import Callable, Generic, Iterator, TypeVar

from sqlalchemy.engine import Connection

from storage.db import Database, DatabaseUnavailable

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 32


class _Slot(Generic[T]):
    __slots__ = ("item", "wake", "lead", "taken", "result", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        # a caller that queues sleeps on this lock until woken, once: to lead, or with its batch written
        self.wake: _thread.LockType | None = None
        self.lead = False    # woken to lead the next batch
        self.taken = False   # in a batch being written
        self.result = None
        self.error: BaseException | None = None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class Batcher(Generic[T, R]):
    """`Batcher(db, write).run(item)`: `write(conn, items)` returns, for each item in order, its result or the
    exception to raise for it (a rejection decided without writing it)."""

    def __init__(self, db: Database, write: Callable[[Connection, list[T]], list[R | BaseException]]):
        self.db = db
        self.write = write
        self._mutex = threading.Lock()
        self._queue: list[_Slot[T]] = []
        self._busy = False  # a caller leads (or is woken to lead) a batch
        self._pid = os.getpid()
        self._conn: Connection | None = None  # SQLite: the leaders' own connection (one leader at a time)

    def run(self, item: T, timeout: float) -> R:
        """`item` written (with whatever queued beside it); DatabaseUnavailable if no batch took it within
        `timeout` seconds."""
        slot = _Slot(item)
        with self._mutex:
            if self._pid != os.getpid():  # a fork copies the queue, not the threads waiting in it
                self._queue, self._busy, self._pid = [], False, os.getpid()
                self._conn = None  # nor the parent's connection (still kept, never closed, in its Database)
            lead = not self._busy
            if not lead:
                slot.wake = _thread.allocate_lock()
                slot.wake.acquire()
                self._queue.append(slot)
            self._busy = True
        if not lead:
            if not slot.wake.acquire(timeout=timeout):
                with self._mutex:
                    if not slot.taken and not slot.lead:
                        self._queue.remove(slot)
                        raise DatabaseUnavailable("no batch took the write in time")
                slot.wake.acquire()  # taken: its batch ends within the database's own timeouts
        if lead or slot.lead:
            try:
                self._lead(slot)
            finally:
                self._hand_on()
        if slot.result is _ALONE:
            return self._alone(item)
        return slot.outcome()

    def _take(self, leader: _Slot[T]) -> list[_Slot[T]]:
        with self._mutex:  # the leader is not in the queue: it leads its batch
            batch = [leader] + self._queue[:MAX_BATCH - 1]
            del self._queue[:MAX_BATCH - 1]
            for s in batch:
                s.taken = True
        return batch

    def _lead(self, leader: _Slot[T]) -> None:
        batch: list[_Slot[T]] = [leader]
        try:
            with self._transaction() as conn:
                # taken once the writer is ours: whatever queued while we waited for it comes along
                batch = self._take(leader)
                outcomes = self.write(conn, [s.item for s in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
        except Exception as exc:
            if len(batch) == 1:
                self._finish(batch, [exc])
            else:
                # each tries again alone, in its own thread and transaction, within its own timeouts: one
                # refused write (a foreign key, a row lock held too long) then fails only itself
                self._finish(batch, [_ALONE] * len(batch))
            return
        except BaseException:  # the leader is being stopped: the others of its batch try again alone
            self._finish(batch, [_ALONE] * len(batch))
            raise
        self._finish(batch, outcomes)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A write transaction for the leader: on SQLite on a connection the leaders keep (a connection from the
        pool costs a checkout and a reset each time, while every other writer waits), else from the pool."""
        if self.db.dialect != "sqlite":
            with self.db.connection() as conn:
                yield conn
            return
        if self._conn is None or self._conn.closed:  # closed: the database was disposed
            self._conn = self.db.keep_connection()
        conn = self._conn
        try:
            with self.db.transaction_on(conn):
                yield conn
        except BaseException:
            # whatever failed may have left the connection in doubt: back to the pool, which rolls it back
            self._conn = None
            self.db.let_go(conn)
            raise

    def _alone(self, item: T) -> R:
        with self.db.connection() as conn:
            outcome = self.write(conn, [item])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _finish(self, batch: list[_Slot[T]], outcomes: list) -> None:
        for s, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                s.error = outcome
            else:
                s.result = outcome
            if s.wake is not None:
                s.wake.release()

    def _hand_on(self) -> None:
        with self._mutex:
            if self._queue:
                nxt = self._queue.pop(0)
                nxt.lead = True
                nxt.wake.release()
            else:
                self._busy = False


_ALONE = object()  # the batch failed: write this item again on its own
