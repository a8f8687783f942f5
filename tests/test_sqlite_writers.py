"""SQLite has one writer at a time: writers from every process queue for it (an flock beside the database)
instead of sleeping in SQLite's busy-retry, and none of them fails while another holds it briefly."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import counters
from storage.db import Database
from storage.models import DailyCounter

pytestmark = [pytest.mark.fork]


ROOT = Path(__file__).resolve().parent.parent

HOLD_THEN_WRITE = textwrap.dedent("""
    import sys, time
    from storage.db import Database
    from storage import counters
    db = Database(sys.argv[1], timeout=float(sys.argv[3]))
    with db.transaction() as s:
        print("holding", flush=True)
        counters.next_value(s, "test", "20261129")
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
""")


def _holder(url: str, hold: float, timeout: float = 5.0) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_THEN_WRITE, url, str(hold), str(timeout)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_writer_waits_for_another_process_and_then_writes(sqlite_template, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    (tmp_path / "w.db").write_bytes(Path(sqlite_template).read_bytes())
    db = Database(url, timeout=3.0)
    holder = _holder(url, 0.6)
    fd = os.open(tmp_path / "w.db.writers", os.O_RDWR)
    try:  # the other process holds the writers' queue, not only SQLite's lock
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    started = time.monotonic()
    with db.transaction() as s:
        waited = time.monotonic() - started
        counters.next_value(s, "test", "20261129")
    assert holder.wait(5) == 0 and holder.stdout.read().strip() == "released"
    assert 0.4 < waited < 2.5  # queued behind the other process, woken soon after it let go
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "test")) == 2


def test_a_reader_does_not_wait_for_a_writer_in_another_process(sqlite_template, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    (tmp_path / "r.db").write_bytes(Path(sqlite_template).read_bytes())
    db = Database(url, timeout=3.0)
    holder = _holder(url, 1.0)
    started = time.monotonic()
    with db.transaction(read_only=True) as s:
        s.scalar(select(func.count()).select_from(DailyCounter))
    assert time.monotonic() - started < 0.5
    assert holder.wait(5) == 0


def test_many_writers_in_two_processes_all_commit(sqlite_template, tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    (tmp_path / "m.db").write_bytes(Path(sqlite_template).read_bytes())
    script = textwrap.dedent("""
        import sys, threading
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
    procs = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read()
    db = Database(url)
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "many")) == 2 * 4 * 50


def test_without_a_usable_lock_file_writers_fall_back_to_sqlites_own_locking(sqlite_template, tmp_path):
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


def test_a_lock_file_another_user_made_read_only_still_queues_writers(sqlite_template, tmp_path):
    path = tmp_path / "ro.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    lock = Path(f"{path}.writers")
    lock.touch()
    lock.chmod(0o444)
    db = Database(f"sqlite:///{path}", timeout=3.0)
    holder = _holder(f"sqlite:///{path}", 0.5)
    started = time.monotonic()
    with db.transaction() as s:
        counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started > 0.3 and holder.wait(5) == 0


def test_a_writer_gives_up_at_its_timeout_and_the_next_one_is_not_held_up_after(sqlite_template, tmp_path):
    from sqlalchemy.exc import OperationalError

    path = tmp_path / "g.db"
    path.write_bytes(Path(sqlite_template).read_bytes())
    url = f"sqlite:///{path}"
    db = Database(url, timeout=0.3)
    holder = _holder(url, 1.5)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"):  # the queue, then SQLite's busy wait, each 0.3 s
        with db.transaction() as s:
            counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started < 1.2
    assert holder.wait(5) == 0
    time.sleep(0.1)
    fd = os.open(f"{path}.writers", os.O_RDONLY)
    try:  # the lock won for the writer that gave up was let go at once: another process may take it
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    started = time.monotonic()
    with db.transaction() as s:
        counters.next_value(s, "test", "20261129")
    assert time.monotonic() - started < 0.25
    with db.transaction(read_only=True) as s:
        assert s.scalar(select(DailyCounter.value).where(DailyCounter.name == "test")) == 2
