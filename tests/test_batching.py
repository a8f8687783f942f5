"""Group commit (`storage.performance.batching`): submissions that arrive while one is written are stored together
in one transaction, and each is still checked, numbered and answered as if it had come alone."""
from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from storage import opinions, residents
from storage.db import Database, DatabaseUnavailable
from storage.models import AuditEntry, DailyCounter, Opinion
from storage.performance.batching import Batcher
from tests.conftest import DATABASES


def _pending(rt, resident_id: int, words: str, max_per_hour: int = 5, community_id=None):
    rules = opinions.Rules.from_config(rt.config.opinions)
    category, route = rules.route("其他")
    now = rt.now()
    return opinions._Pending(resident_id, opinions.Draft(words, community_id), words, category, route, now,
                             now.astimezone(rt.tz).strftime("%Y%m%d"), max_per_hour)


@pytest.mark.storage(*DATABASES)
def test_a_batch_of_submissions_is_checked_in_order_and_numbered_without_gaps(demo):
    rt = demo.rt
    a, b, c = (residents.touch(rt.db, f"o_batch_{n}", rt.now()).id for n in "abc")
    batch = [_pending(rt, a, "路灯坏了"), _pending(rt, b, "井盖丢了"), _pending(rt, a, "路灯坏了"),
             _pending(rt, c, "垃圾没人清理", max_per_hour=0)]
    with rt.db.connection() as conn:
        first, second, again, limited = opinions._store(conn, batch)
    assert first.ticket_no.endswith("001") and second.ticket_no.endswith("002")
    assert isinstance(again, opinions.AlreadyReported) and again.earlier.ticket_no == first.ticket_no
    assert isinstance(limited, opinions.TooManyOpinions)
    with rt.db.transaction(read_only=True) as s:
        assert [o.ticket_no for o in s.scalars(select(Opinion).order_by(Opinion.id))] == [first.ticket_no,
                                                                                          second.ticket_no]
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "opinion.submit")) == 2
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "opinion")) == 2


@pytest.fixture
def db(sqlite_template, tmp_path):
    path = tmp_path / "b.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}", timeout=2.0)
    yield database
    database.dispose()


class Gate:
    """A batch function that holds the first batch until `open()`, so that the others queue behind it."""

    def __init__(self):
        self.opened = threading.Event()
        self.batches: list[list[str]] = []

    def write(self, conn, items: list[str]) -> list:
        if not self.batches:
            self.batches.append(list(items))
            self.opened.wait(5)
        else:
            self.batches.append(list(items))
        for item in items:
            if item == "bad":  # as a foreign key would, after the others of the batch were written
                conn.execute(text("INSERT INTO daily_counters (name, day, value) VALUES ('w', 'bad', 1)"))
                raise ValueError("refused")
            conn.execute(text("INSERT INTO daily_counters (name, day, value) VALUES ('w', :day, 1)"), {"day": item})
        return [f"stored {item}" for item in items]


def _queued(batcher: Batcher, count: int) -> None:
    give_up = time.monotonic() + 5
    while len(batcher._queue) < count and time.monotonic() < give_up:
        time.sleep(0.01)


def test_writes_queued_behind_a_batch_go_in_together_and_one_refused_fails_only_itself(db):
    gate = Gate()
    batcher = Batcher(db, gate.write)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(batcher.run, "d0", 5)
        time.sleep(0.1)  # the first leads, and waits at the gate
        rest = [pool.submit(batcher.run, item, 5) for item in ("d1", "bad", "d2", "d3")]
        _queued(batcher, 4)
        gate.opened.set()
        assert first.result() == "stored d0"
        with pytest.raises(ValueError):
            rest[1].result()
        assert [f.result() for f in (rest[0], rest[2], rest[3])] == ["stored d1", "stored d2", "stored d3"]
    assert gate.batches[1] == ["d1", "bad", "d2", "d3"]  # the four queued went in as one batch, then alone
    with db.transaction(read_only=True) as s:
        days = sorted(s.scalars(select(DailyCounter.day).where(DailyCounter.name == "w")))
    assert days == ["d0", "d1", "d2", "d3"]  # each once; nothing of the refused one


def test_a_write_no_batch_takes_in_time_is_refused_and_never_written(db):
    gate = Gate()
    batcher = Batcher(db, gate.write)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.run, "d0", 5)
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            batcher.run("late", 0.2)
        assert time.monotonic() - started < 1.0
        gate.opened.set()
        assert first.result() == "stored d0"
    assert batcher.run("d1", 5) == "stored d1"  # the lead was handed on: the next write is not stuck
    with db.transaction(read_only=True) as s:
        assert sorted(s.scalars(select(DailyCounter.day).where(DailyCounter.name == "w"))) == ["d0", "d1"]


def test_a_leader_the_database_refuses_before_its_batch_hands_on_and_later_writes_go_through(sqlite_template,
                                                                                            tmp_path):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    path = tmp_path / "locked.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}", timeout=0.2)
    batcher = Batcher(db, Gate().write)
    blocker = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a writer outside nanhu's queue: BEGIN fails after the busy timeout
    try:
        with pytest.raises(OperationalError):
            batcher.run("d0", 1)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    gate = Gate()
    gate.opened.set()
    batcher.write = gate.write
    assert batcher.run("d1", 1) == "stored d1"  # not left queued behind a lead nobody holds
    db.dispose()


def _days_written(db: Database) -> list[str]:
    with db.transaction(read_only=True) as s:
        return sorted(s.scalars(select(DailyCounter.day).where(DailyCounter.name == "w")))


def test_the_leaders_keep_one_connection_which_a_failed_batch_and_dispose_give_back(db):
    gate = Gate()
    gate.opened.set()
    batcher = Batcher(db, gate.write)
    pool = db.engine.pool
    assert batcher.run("d0", 5) == "stored d0"
    kept = batcher._conn
    assert [batcher.run(day, 5) for day in ("d1", "d2")] == ["stored d1", "stored d2"]
    assert batcher._conn is kept and pool.checkedout() == 1  # one connection for every batch
    with pytest.raises(ValueError):
        batcher.run("bad", 5)
    assert pool.checkedout() == 0  # let go: whatever failed may have left it in doubt
    assert batcher.run("d3", 5) == "stored d3"
    kept = batcher._conn
    assert pool.checkedout() == 1 and not kept.closed
    db.dispose()
    assert kept.closed and not db._kept
    assert batcher.run("d4", 5) == "stored d4"  # a disposed database opens again, as the engine does
    assert _days_written(db) == ["d0", "d1", "d2", "d3", "d4"]


def test_a_forked_child_takes_its_own_connection_and_leaves_the_parents_alone(db):
    gate = Gate()
    gate.opened.set()
    batcher = Batcher(db, gate.write)
    assert batcher.run("parent-before", 5) == "stored parent-before"
    parents = batcher._conn
    pid = os.fork()
    if pid == 0:  # the child: as a gunicorn worker forked from a master that had written
        ok = False
        try:
            db.engine.dispose(close=False)  # as Runtime.after_fork
            ok = batcher.run("child", 5) == "stored child" and batcher._conn is not parents
            db.dispose()
            ok = ok and not parents.closed  # the parent's is neither used nor closed here
        finally:
            os._exit(0 if ok else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert batcher.run("parent-after", 5) == "stored parent-after" and batcher._conn is parents
    assert _days_written(db) == ["child", "parent-after", "parent-before"]
