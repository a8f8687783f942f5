"""SQLite has one writer at a time: writers from every process queue for it (a shared mutex in a file beside
the database, or an flock on it where there is no such mutex) instead of sleeping in SQLite's busy-retry,
and none of them fails while another holds it briefly. Each test runs with each kind of queue."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import counters, writers
from storage.db import Database
from storage.models import DailyCounter
from storage.writers import SqliteWriters

ROOT = Path(__file__).resolve().parent.parent

HOLD_THEN_WRITE = textwrap.dedent("""
    import sys, time
    from storage import writers
    writers.ROBUST_MUTEXES = sys.argv[4] == "mutex"
    from storage.db import Database
    from storage import counters
    db = Database(sys.argv[1], timeout=float(sys.argv[3]))
    with db.transaction() as s:
        print("holding", flush=True)
        counters.next_value(s, "test", "20261129")
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
""")


@pytest.fixture(params=["mutex", "flock"])
def queue(request, monkeypatch) -> str:
    """The kind of queue this process and the holders it starts use."""
    if request.param == "mutex" and not writers.ROBUST_MUTEXES:
        pytest.skip("no robust process-shared mutexes on this platform")
    monkeypatch.setattr(writers, "ROBUST_MUTEXES", request.param == "mutex")
    return request.param


def _holder(url: str, hold: float, queue: str, timeout: float = 5.0) -> subprocess.Popen:
    """Another process, in a write transaction for `hold` seconds."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_THEN_WRITE, url, str(hold), str(timeout), queue], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def _queue_is_free(db_path: Path) -> bool:
    """Whether another writer (a queue of its own, as in another process) gets in at once."""
    other = SqliteWriters(str(db_path), timeout=0.05)
    if not other.acquire():
        return False
    other.release()
    return True


def test_a_writer_waits_for_another_process_and_then_writes(sqlite_template, tmp_path, queue):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    (tmp_path / "w.db").write_bytes(Path(sqlite_template).read_bytes())
    db = Database(url, timeout=3.0)
    holder = _holder(url, 0.6, queue)
    assert not _queue_is_free(tmp_path / "w.db")  # the other process holds the writers' queue, not only SQLite's lock
    started = time.monotonic()
    with db.transaction() as s:
        waited = time.monotonic() - started
        counters.next_value(s, "test", "20261129")
    assert holder.wait(5) == 0 and holder.stdout.read().strip() == "released"
    assert 0.4 < waited < 2.5  # queued behind the other process, woken soon after it let go
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "test")) == 2


def test_a_reader_does_not_wait_for_a_writer_in_another_process(sqlite_template, tmp_path, queue):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    (tmp_path / "r.db").write_bytes(Path(sqlite_template).read_bytes())
    db = Database(url, timeout=3.0)
    holder = _holder(url, 1.0, queue)
    started = time.monotonic()
    with db.transaction(read_only=True) as s:
        s.scalar(select(func.count()).select_from(DailyCounter))
    assert time.monotonic() - started < 0.5
    assert holder.wait(5) == 0


def test_many_writers_in_two_processes_all_commit(sqlite_template, tmp_path, queue):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    (tmp_path / "m.db").write_bytes(Path(sqlite_template).read_bytes())
    script = textwrap.dedent("""
        import sys, threading
        from storage import writers
        writers.ROBUST_MUTEXES = sys.argv[2] == "mutex"
        from storage.db import Database
        from storage import counters
        db = Database(sys.argv[1], timeout=5)
        def work():
            for _ in range(50):
                with db.transaction() as s:
                    counters.next_value(s, "many", "20261129")
        threads = [threading.Thread(target=work) for _ in range(4)]
        [t.start() for t in threads]; [t.join() for t in threads]
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, url, queue], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read()
    db = Database(url)
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "many")) == 2 * 4 * 50


def test_without_a_usable_lock_file_writers_fall_back_to_sqlites_own_locking(sqlite_template, tmp_path, queue):
    import logging
    import threading

    class Kept(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.lines = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    path = tmp_path / "q.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    os.mkdir(f"{path}.writers")  # stands in for a lock file this process cannot open
    db = Database(f"sqlite:///{path}", timeout=0.5)
    kept = Kept()
    logging.getLogger("nanhu.db").addHandler(kept)
    try:
        with db.transaction() as s:
            counters.next_value(s, "t", "20261129")
    finally:
        logging.getLogger("nanhu.db").removeHandler(kept)
    assert any("writers queue off" in line for line in kept.lines)
    took = []

    def write():  # another thread is not left waiting for a lock nobody holds
        started = time.monotonic()
        with db.transaction() as s:
            counters.next_value(s, "t", "20261129")
        took.append(time.monotonic() - started)

    t = threading.Thread(target=write)
    t.start()
    t.join()
    assert took and took[0] < 0.25
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "t")) == 2


def test_a_lock_file_another_user_made_read_only_still_queues_writers(sqlite_template, tmp_path, queue):
    path = tmp_path / "ro.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    lock = Path(f"{path}.writers")
    lock.touch()
    lock.chmod(0o444)
    db = Database(f"sqlite:///{path}", timeout=3.0)
    holder = _holder(f"sqlite:///{path}", 0.5, queue)
    started = time.monotonic()
    with db.transaction() as s:
        counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started > 0.3 and holder.wait(5) == 0


def test_a_writer_gives_up_at_its_timeout_and_the_next_one_is_not_held_up_after(sqlite_template, tmp_path, queue):
    from sqlalchemy.exc import OperationalError

    path = tmp_path / "g.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    url = f"sqlite:///{path}"
    db = Database(url, timeout=0.3)
    holder = _holder(url, 1.5, queue)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"):  # the queue, then SQLite's busy wait, each 0.3 s
        with db.transaction() as s:
            counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started < 1.2
    assert holder.wait(5) == 0
    time.sleep(0.1)
    assert _queue_is_free(path)  # a lock won for the writer that gave up was let go at once
    started = time.monotonic()
    with db.transaction() as s:
        counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started < 0.25
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "test")) == 2


def test_a_writer_takes_over_at_once_from_a_process_killed_while_writing(sqlite_template, tmp_path, queue):
    path = tmp_path / "k.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    url = f"sqlite:///{path}"
    db = Database(url, timeout=3.0)
    holder = _holder(url, 30, queue)
    assert not _queue_is_free(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(5)
    started = time.monotonic()
    with db.transaction() as s:
        counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started < 0.5
    with db.transaction(read_only=True) as s:  # the killed writer's increment was never committed
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "test")) == 1


def test_a_lock_file_this_process_creates_takes_the_databases_mode(sqlite_template, tmp_path, queue):
    path = tmp_path / "mode.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    path.chmod(0o660)
    db = Database(f"sqlite:///{path}")
    with db.transaction() as s:
        counters.next_value(s, "test", "20261129")
    assert os.stat(f"{path}.writers").st_mode & 0o777 == 0o660
