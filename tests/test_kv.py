"""The shared store behaves the same on Redis and on the database table, and its lock excludes."""
from __future__ import annotations

import os
import threading
import time

import pytest

from storage.attempts import Attempts
from storage.kv import Claimed, KVUnavailable, RedisKV, SqliteKV, SqlKV, boot_id, for_database, keys
from storage.locks import LockTimeout, lease


@pytest.fixture(params=["redis", "sql-sqlite", pytest.param("sql-postgresql", marks=pytest.mark.postgres)])
def kv(request, make_stack):
    if request.param == "redis":
        return make_stack("sqlite+redis").rt.kv
    if request.param == "sql-sqlite":
        return make_stack("sqlite+sqlkv").rt.kv
    return SqlKV(make_stack("postgresql+redis").rt.db)


def test_set_get_delete_and_expiry(kv):
    assert kv.get("a") is None
    kv.set("a", "一")
    assert kv.get("a") == "一"
    kv.set("b", "short", ttl=0.2)
    time.sleep(0.3)
    assert kv.get("b") is None
    kv.delete("a")
    assert kv.get("a") is None


def test_set_nx_takes_a_free_or_expired_key_only(kv):
    assert kv.set_nx("k", "first", 0.3)
    assert not kv.set_nx("k", "second", 10)
    assert kv.get("k") == "first"
    time.sleep(0.4)
    assert kv.set_nx("k", "third", 10) and kv.get("k") == "third"


def test_delete_if_removes_only_the_holders_value(kv):
    kv.set("lock", "mine")
    assert not kv.delete_if("lock", "yours") and kv.get("lock") == "mine"
    assert kv.delete_if("lock", "mine") and kv.get("lock") is None
    kv.set("short", "mine", ttl=0.05)
    time.sleep(0.1)
    assert not kv.delete_if("short", "mine")  # expired: nobody holds it any more, as on Redis


def _winners(take) -> list[int]:
    """Eight threads call `take(i)` at once; the ones it returned True for."""
    winners = []
    barrier = threading.Barrier(8)

    def race(i):
        barrier.wait()
        if take(i):
            winners.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return winners


def test_set_nx_has_exactly_one_winner_under_contention(kv):
    assert len(_winners(lambda i: kv.set_nx("contested", str(i), 10))) == 1


def test_claim_takes_keys_in_order_up_to_the_first_held_one_and_reads_in_the_same_call(kv):
    kv.set("conv", "a conversation")
    first = kv.claim([("nonce", "n1", 10), ("dedup", "P", 10), ("lease", "me", 10)], ["conv", "missing"])
    assert (first.taken, first.holder, first.values) == (3, None, ("a conversation", None))

    kv.delete("lease")  # the same nonce again: nothing after it is taken, and the holder's value is told
    again = kv.claim([("nonce", "n2", 10), ("dedup", "P", 10), ("lease", "you", 10)], ["conv"])
    assert (again.taken, again.holder, again.values) == (0, "n1", ("a conversation",))
    assert kv.get("lease") is None

    third = kv.claim([("dedup", "P", 10), ("lease", "you", 10)])  # a held first key stops there
    assert (third.taken, third.holder, third.values) == (0, "P", ())
    middle = kv.claim([("nonce-2", "n", 10), ("dedup", "Q", 10), ("lease", "you", 10)])  # so does one in the middle
    assert (middle.taken, middle.holder) == (1, "P")
    assert (kv.get("nonce-2"), kv.get("dedup"), kv.get("lease")) == ("n", "P", None)
    assert kv.claim([("lease", "you", 10)], ["conv"]).taken == 1 and kv.get("lease") == "you"


def test_claim_takes_an_expired_key(kv):
    assert kv.claim([("k", "old", 0.2)]).taken == 1
    time.sleep(0.3)
    assert kv.claim([("k", "new", 10)]).taken == 1 and kv.get("k") == "new"


def test_apply_sets_deletes_and_releases_only_what_is_still_ours(kv):
    kv.set("gone", "x")
    kv.set("mine", "token-a")
    kv.set("theirs", "token-b")
    kv.apply(sets=[("reply", "答复", 10), ("short", "s", 0.2), ("forever", "f", None)], deletes=["gone"],
             releases=[("mine", "token-a"), ("theirs", "token-a")])
    assert kv.get("reply") == "答复" and kv.get("forever") == "f" and kv.get("gone") is None
    assert kv.get("mine") is None and kv.get("theirs") == "token-b"
    time.sleep(0.3)
    assert kv.get("short") is None
    kv.apply()  # nothing to do is not an error
    # what was deleted or released is free again, for a claim as for set_nx
    assert kv.claim([("gone", "y", 10), ("mine", "token-c", 10)]).taken == 2 and kv.get("mine") == "token-c"
    assert not kv.set_nx("theirs", "token-c", 10)


def test_claim_has_exactly_one_winner_under_contention(kv):
    assert len(_winners(lambda i: kv.claim([("nonce:x", "same", 10), ("dedup:x", str(i), 10)]).taken == 2)) == 1


def test_a_redis_connection_dropped_by_the_server_is_replaced_on_the_next_call(make_stack):
    kv = make_stack("sqlite+redis").rt.kv
    assert kv.claim([("a", "1", 10)]).taken == 1
    conn = kv._thread_connection()  # the claim scripts run on this thread's own connection
    conn.send_command("CLIENT", "ID")
    kv.redis.client_kill_filter(_id=conn.read_response())  # as a Redis restart or an idle timeout would
    assert kv.claim([("b", "1", 10)], ["a"]) == Claimed(1, None, ("1",))
    kv.redis.script_flush()  # a flushed or restarted Redis has forgotten the scripts
    assert kv.claim([("c", "1", 10)]).taken == 1


def test_incr_counts_within_a_window_that_runs_from_the_first(kv):
    assert [kv.incr("fails:a", 0.5) for _ in range(3)] == [1, 2, 3]
    assert kv.get("fails:a") == "3" and kv.incr("fails:b", 10) == 1
    time.sleep(0.3)
    assert kv.incr("fails:a", 0.5) == 4  # adding to the count does not move its expiry
    time.sleep(0.3)
    assert kv.get("fails:a") is None
    assert kv.incr("fails:a", 10) == 1  # expired: it starts over


def test_incr_loses_no_count_under_contention(kv):
    counts = []
    _winners(lambda i: counts.extend(kv.incr("fails:c", 10) for _ in range(5)))
    assert sorted(counts) == list(range(1, 41)) and kv.get("fails:c") == "40"


def test_attempts_block_at_the_limit_and_clear_on_success(kv):
    attempts = Attempts(kv, keys.bind_failures, limit=3, window=10)
    for n in (1, 2, 3):
        assert not attempts.blocked("o") and attempts.failed("o") == n
    assert attempts.blocked("o") and not attempts.blocked("p")
    assert kv.get("bindfail:o") == "3"
    attempts.clear("o")
    assert not attempts.blocked("o")


def test_the_lease_excludes_and_times_out(kv):
    inside = []
    with lease(kv, "resident:x", ttl=5, wait=0.1):
        inside.append(1)
        with pytest.raises(LockTimeout):
            with lease(kv, "resident:x", ttl=5, wait=0.2):
                inside.append(2)
    with lease(kv, "resident:x", ttl=5, wait=0.1):  # released on exit
        inside.append(3)
    assert inside == [1, 3]


def test_an_unreachable_redis_raises_kv_unavailable():
    import redis
    kv = RedisKV(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2))
    with pytest.raises(KVUnavailable):
        kv.get("x")
    with pytest.raises(KVUnavailable):
        kv.claim([("k", "v", 1)], ["r"])
    with pytest.raises(KVUnavailable):
        kv.apply(sets=[("k", "v", 1)])
    with pytest.raises(KVUnavailable):
        kv.connect()


def test_handler_threads_started_with_their_redis_connections_open_none_more_under_load(make_stack):
    from bot.webhook.handoff import Pool

    kv = make_stack("sqlite+redis").rt.kv
    name = f"nanhu-test-{time.monotonic_ns()}"
    kv.redis.client_setname(name)  # not a handler's: counted out below by its name

    db = str(kv.redis.connection_pool.connection_kwargs.get("db", 0))

    def handlers_connected() -> int:  # on this worker's Redis database: other test workers connect to theirs
        return sum(1 for c in kv.redis.client_list()
                   if c.get("name") != name and c["id"] not in before and c.get("db") == db)

    before = {c["id"] for c in kv.redis.client_list()}
    pool = Pool(threads=3, max_in_flight=16)
    pool.start(kv.connect)
    deadline = time.monotonic() + 5
    while handlers_connected() < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert handlers_connected() == 3
    jobs = [pool.submit(kv.claim, [(f"k{i}", "v", 5)], ["r"]) for i in range(12)]
    assert all(job.result(timeout=5).taken == 1 for job in jobs)
    assert handlers_connected() == 3


def test_the_sql_store_sweeps_expired_and_deleted_rows_without_failing_concurrent_callers(kv):
    if isinstance(kv, RedisKV):
        pytest.skip("Redis expires keys itself")
    for i in range(50):
        kv.set(f"old{i}", "x", ttl=0.05)
    kv.set("keep", "y")
    kv.set("deleted", "z")
    kv.apply(deletes=["deleted"], releases=[("keep", "not its value")])
    time.sleep(0.1)
    threads = [threading.Thread(target=kv._sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _rows(kv) == [("keep", "y")]


def test_the_sqlite_store_sweeps_a_batch_at_a_time_in_key_order_and_starts_over(make_stack):
    kv = make_stack("sqlite+sqlkv").rt.kv
    for i in range(30):
        kv.set(f"old{i:02d}", "x", ttl=0.05)
    for i in range(5):
        kv.set(f"live{i}", "y", ttl=600)
    kv.set("forever", "z")
    time.sleep(0.1)
    kv._sweep(batch=10)  # forever, live0..4, old00..03
    assert [k for k, _ in _rows(kv)][:7] == ["forever", "live0", "live1", "live2", "live3", "live4", "old04"]
    kv._sweep(batch=10)  # old04..old13
    assert [k for k, _ in _rows(kv)][6] == "old14"
    kv._sweep(batch=10)
    kv._sweep(batch=10)  # the last few, and back to the start
    assert [k for k, _ in _rows(kv)] == ["forever", "live0", "live1", "live2", "live3", "live4"]
    kv.set("a-new-one", "x", ttl=0.05)
    time.sleep(0.1)
    kv._sweep(batch=10)
    assert [k for k, _ in _rows(kv)] == ["forever", "live0", "live1", "live2", "live3", "live4"]


def _rows(kv) -> list[tuple[str, str]]:
    """Every row of the store's table, expired or not."""
    if isinstance(kv, SqliteKV):
        import sqlite3
        conn = sqlite3.connect(kv.path)
        try:
            return conn.execute("SELECT key, value FROM kv ORDER BY key").fetchall()
        finally:
            conn.close()
    from sqlalchemy import select

    from storage.models import KeyValue
    with kv.db.transaction() as s:
        return [tuple(r) for r in s.execute(select(KeyValue.key, KeyValue.value).order_by(KeyValue.key))]


def test_the_sqlite_store_is_a_file_of_its_own_that_a_long_database_write_does_not_hold_up(make_stack):
    import sqlite3

    rt = make_stack("sqlite+sqlkv").rt
    kv = rt.kv
    assert isinstance(kv, SqliteKV) and kv.path.startswith(rt.db.sqlite_file + ".") and kv.path.endswith(".kv")
    blocker = sqlite3.connect(rt.db.sqlite_file, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a transaction holding the database's writer, as a long import would
    try:
        started = time.monotonic()
        assert kv.claim([("dedup:x", "P", 10), ("lock:resident:x", "t", 10)], ["conv:x"]).taken == 2
        kv.apply([("dedup:x", "R<xml/>", 600)], releases=[("lock:resident:x", "t")])
        assert time.monotonic() - started < 0.5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert kv.get("dedup:x") == "R<xml/>"


def test_a_locked_sqlite_is_reported_as_the_store_being_unavailable(sqlite_template, tmp_path):
    import shutil
    import sqlite3

    from storage.db import Database

    path = tmp_path / "locked.db"
    shutil.copy(sqlite_template, path)
    kv = for_database(Database(f"sqlite:///{path}", timeout=0.2))
    assert isinstance(kv, SqliteKV)
    blocker = sqlite3.connect(kv.path, timeout=0.1, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a writer that holds on to the store's file (another program, say)
    try:
        with pytest.raises(KVUnavailable):
            kv.claim([("dedup:x", "P", 10)], ["conv:x"])
        with pytest.raises(KVUnavailable):
            kv.set("k", "v")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert kv.claim([("dedup:x", "P", 10)]).taken == 1


def test_a_write_that_fails_half_way_leaves_nothing_written_and_the_store_usable(make_stack):
    kv = make_stack("sqlite+sqlkv").rt.kv
    kv.set("lease", "mine")
    with pytest.raises(KVUnavailable):  # the driver refuses the second value: the first is rolled back
        kv.apply([("conv", "step 2", None), ("reply", object(), None)], releases=[("lease", "mine")])
    assert (kv.get("conv"), kv.get("reply"), kv.get("lease")) == (None, None, "mine")
    kv.apply([("conv", "step 2", None)], releases=[("lease", "mine")])
    assert (kv.get("conv"), kv.get("lease")) == ("step 2", None)


def test_a_signal_in_the_middle_of_a_write_leaves_nothing_written_and_the_writer_free(make_stack):
    kv = make_stack("sqlite+sqlkv").rt.kv

    class Interrupting:  # what RQ's job timeout or Ctrl-C raise, mid-write
        def __conform__(self, _protocol):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kv.apply([("conv", "step 2", None), ("reply", Interrupting(), None)])
    assert kv.get("conv") is None
    done = []  # another thread writes at once: the writer was let go
    writer = threading.Thread(target=lambda: done.append(kv.set_nx("other", "x", 10)))
    writer.start()
    writer.join(timeout=1.5)
    assert done == [True]
    kv.set("conv", "step 3")
    assert kv.get("conv") == "step 3"


def test_a_claim_whose_reads_fail_gives_back_the_keys_it_took(make_stack):
    kv = make_stack("sqlite+sqlkv").rt.kv

    class Interrupting:  # what RQ's job timeout or Ctrl-C raise, once the keys are taken
        def __conform__(self, _protocol):
            raise KeyboardInterrupt

    keys = [("nonce:s", "digest", 10), ("dedup:m", "P", 10), ("lock:resident:o", "token", 10)]
    with pytest.raises(KeyboardInterrupt):
        kv.claim(keys, ["conv:o", Interrupting()])
    assert (kv.get("nonce:s"), kv.get("dedup:m"), kv.get("lock:resident:o")) == (None, None, None)
    assert kv.claim(keys, ["conv:o"]).taken == 3  # WeChat's retry is handled, not left waiting


def test_the_sqlite_store_refuses_a_claim_of_the_same_key_twice(make_stack):
    kv = make_stack("sqlite+sqlkv").rt.kv
    with pytest.raises(ValueError):
        kv.claim([("a", "1", 10), ("a", "2", 10), ("b", "1", 10)])
    assert kv.get("a") is None and kv.get("b") is None


@pytest.fixture
def database(sqlite_template, tmp_path):
    """A SQLite database file `nanhu.db`, migrated, alone in a folder of its own."""
    import shutil

    path = tmp_path / "nanhu.db"
    shutil.copy(sqlite_template, path)
    return path


def _open(database):
    from storage.db import Database
    return for_database(Database(f"sqlite:///{database}", timeout=1.0))


def _earlier_boot() -> str:
    return "0123456789ab" if boot_id() != "0123456789ab" else "ba9876543210"


def _synchronous(kv: SqliteKV) -> int:
    return kv._run(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])


@pytest.mark.skipif(boot_id() is None, reason="the system does not say which boot this is")
def test_the_sqlite_store_is_this_boots_and_does_not_wait_for_the_disk(database):
    kv = _open(database)
    try:
        assert kv.path == f"{database}.{boot_id()}.kv" and len(boot_id()) == 12
        assert _synchronous(kv) == 0  # OFF: the file is this boot's, and a crashed process loses nothing
        kv.set("conv:o", "step 2")
    finally:
        kv.close()
    again = _open(database)  # a restart within the same boot
    try:
        assert again.path == kv.path and again.get("conv:o") == "step 2"
    finally:
        again.close()


@pytest.mark.skipif(boot_id() is None, reason="the system does not say which boot this is")
def test_opening_the_store_removes_the_files_of_earlier_boots_and_nothing_else(database, tmp_path):
    earlier = _earlier_boot()
    gone = [f"nanhu.db.{earlier}.kv", f"nanhu.db.{earlier}.kv-wal", f"nanhu.db.{earlier}.kv-shm",
            "nanhu.db.kv", "nanhu.db.kv-wal", "nanhu.db.kv-shm"]  # the undated file of earlier versions too
    kept = ["nanhu.db.writers", "nanhu.db.kv.bak", "nanhu.db.notes.kv", "other.db.0123456789ab.kv"]
    for name in gone + kept:
        (tmp_path / name).write_bytes(b"x")
    kv = _open(database)
    try:
        kv.set("k", "v")
        names = set(os.listdir(tmp_path))
        assert not names & set(gone)
        assert set(kept) <= names and os.path.basename(kv.path) in names and "nanhu.db" in names
        assert kv.get("k") == "v"
    finally:
        kv.close()


@pytest.mark.skipif(boot_id() is None, reason="the system does not say which boot this is")
def test_after_a_restart_of_the_machine_what_was_still_live_is_carried_over(database, tmp_path):
    earlier = _earlier_boot()
    before = SqliteKV(f"{database}.{earlier}.kv", timeout=1.0, volatile=True)  # the last boot's store
    before.set("conv:feedback:o", "rate ticket MY20261130001", ttl=7 * 86400)
    before.set("token:wx", "cached")
    before.set("nonce:gone", "x", ttl=0.05)
    before.set("conv:o2", "older")
    before.close()
    (tmp_path / f"nanhu.db.{'f' * 12}.kv").write_bytes(b"not a database: a crash left it so" * 10)
    time.sleep(0.1)
    kv = _open(database)
    try:
        assert kv.get("conv:feedback:o") == "rate ticket MY20261130001" and kv.get("token:wx") == "cached"
        assert kv.get("nonce:gone") is None
        assert [n for n in os.listdir(tmp_path) if ".kv" in n and boot_id() not in n] == []
        kv.set("conv:o2", "newer")
    finally:
        kv.close()
    again = _open(database)
    try:
        assert again.get("conv:o2") == "newer"
    finally:
        again.close()


@pytest.mark.fork
@pytest.mark.skipif(boot_id() is None, reason="the system does not say which boot this is")
def test_an_earlier_store_that_a_process_still_has_open_is_kept(database, tmp_path):
    import subprocess
    import sys


    legacy = f"{database}.kv"  # an older version's RQ worker, still running during an upgrade
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('PRAGMA journal_mode=WAL'); c.execute('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)'); "
        "c.execute(\"INSERT INTO kv VALUES ('conv:o', 'step 2')\"); print('open', flush=True); sys.stdin.read()"),
        legacy], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        kv = _open(database)
        kv.close()
        assert os.path.exists(legacy) and os.path.exists(legacy + "-shm") and os.path.exists(legacy + "-wal")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    kv = _open(database)  # once it has let go
    kv.close()
    assert not os.path.exists(legacy) and not os.path.exists(legacy + "-shm")


def test_a_write_ahead_log_that_grew_while_a_reader_held_it_is_cut_back_once_it_starts_over(make_stack):
    import sqlite3

    import storage.kv.sqlite

    kv = make_stack("sqlite+sqlkv").rt.kv
    reader = sqlite3.connect(kv.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM kv").fetchall()  # a snapshot held: no checkpoint can finish meanwhile
    for i in range(48):
        kv.set(f"big:{i}", "x" * 1_000_000)
    grown = os.path.getsize(kv.path + "-wal")
    reader.execute("COMMIT")
    reader.close()
    for i in range(3):  # the next writes checkpoint, and then the log starts over
        kv.set(f"small:{i}", "y")
    assert grown > storage.kv.sqlite._WAL_KEPT >= os.path.getsize(kv.path + "-wal")
    assert kv.get("big:47") == "x" * 1_000_000


def test_where_the_system_does_not_say_which_boot_it_is_the_store_waits_for_the_disk(database, tmp_path,
                                                                                   monkeypatch):
    import storage.kv

    monkeypatch.setattr(storage.kv, "boot_id", lambda: None)  # as on macOS: no /proc
    (tmp_path / "nanhu.db.0123456789ab.kv").write_bytes(b"x")  # no boot known: nothing is an earlier boot's
    kv = _open(database)
    try:
        assert kv.path == f"{database}.kv" and _synchronous(kv) == 1  # NORMAL, as the database
        assert (tmp_path / "nanhu.db.0123456789ab.kv").exists()
    finally:
        kv.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root creates files for another user")
def test_a_store_file_root_creates_belongs_to_the_databases_owner(tmp_path):
    database = tmp_path / "nanhu.db"
    database.touch()
    os.chown(database, 65534, 65534)  # the service's user; the CLI runs under sudo
    kv = SqliteKV(f"{database}.kv", timeout=1.0, owner=str(database))
    try:
        st = os.stat(kv.path)
        assert (st.st_uid, st.st_gid) == (65534, 65534)
    finally:
        kv.close()


def test_a_signal_while_a_write_waits_for_the_writer_leaves_it_free(make_stack):
    import signal
    import sqlite3

    kv = make_stack("sqlite+sqlkv").rt.kv
    blocker = sqlite3.connect(kv.path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another writer: the store's write waits in SQLite's busy handler
    threading.Timer(0.3, lambda: blocker.execute("ROLLBACK")).start()

    class Alarm(Exception):
        pass

    def ring(*_):
        raise Alarm

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, 0.1)  # rings while the write waits; raised once it has returned
    try:
        with pytest.raises(Alarm):
            kv.set("conv", "step 2")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # nothing left holding the writer
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    kv.set("conv", "step 3")
    assert kv.get("conv") == "step 3"


def test_threads_that_come_and_go_reuse_the_stores_connections(make_stack):
    import os

    kv = make_stack("sqlite+sqlkv").rt.kv
    kv.get("warm")
    before = len(os.listdir("/proc/self/fd"))
    for i in range(30):  # as werkzeug's dev server: a thread per request
        t = threading.Thread(target=lambda i=i: kv.set(f"k{i}", "v"))
        t.start()
        t.join()
    assert len(os.listdir("/proc/self/fd")) <= before + 3


def test_a_forked_child_writes_with_locks_of_its_own(make_stack):
    """SQLite forbids carrying a connection across fork(): a child sharing the parent's would take no locks of
    its own, and the parent closing its last connection would then fold away the WAL the child still writes to."""
    import os
    import select
    import signal
    import sqlite3

    def heard(fd: int) -> bool:  # a byte from the other process within 10 s; EOF if it died
        return bool(select.select([fd], [], [], 10)[0]) and os.read(fd, 1) != b""

    rt = make_stack("sqlite+sqlkv").rt
    kv = rt.kv
    kv.set("parent", "p")  # a connection of the parent's, idle in the store
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            os.close(parent_reads)
            os.close(parent_writes)
            rt.after_fork()  # as gunicorn's post_fork
            kv.set("child-1", "a")
            os.write(child_writes, b"1")
            if heard(child_reads):  # the parent has closed every connection it had
                kv.set("child-2", "b")
                ok = kv.get("parent") == "p"
        finally:
            os._exit(0 if ok else 1)
    os.close(child_reads)
    os.close(child_writes)
    try:
        assert heard(parent_reads), "the child did not write"
        assert kv.get("child-1") == "a"
        kv.close()
        rt.db.dispose()  # the parent lets go of the files altogether, as a master that exits
        os.write(parent_writes, b"2")
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(parent_reads)
        os.close(parent_writes)
    fresh = sqlite3.connect(kv.path)
    try:
        assert dict(fresh.execute("SELECT key, value FROM kv WHERE key LIKE 'child-%'").fetchall()) == {
            "child-1": "a", "child-2": "b"}
    finally:
        fresh.close()
