"""The webhook's handler threads (`bot.webhook.handoff`): a job's answer, its deadline, and what happens past it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.webhook.handoff import Cancelled, Pool


def test_a_job_returns_its_value_and_raises_its_error():
    pool = Pool(threads=2, max_in_flight=4)
    assert pool.submit(lambda a, b: a + b, 2, 3).result(timeout=5) == 5

    def fails():
        raise LookupError("no such ticket")

    job = pool.submit(fails)
    with pytest.raises(LookupError, match="no such ticket"):
        job.result(timeout=5)
    with pytest.raises(LookupError):  # asked again: the same outcome, at once
        job.result(timeout=0)


def test_a_slow_job_times_out_for_the_waiter_and_its_follow_up_runs_when_it_ends():
    pool = Pool(threads=1, max_in_flight=4)
    started, release = threading.Event(), threading.Event()
    job = pool.submit(lambda: started.set() or release.wait(5) and "late reply")
    assert started.wait(5)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        job.result(timeout=0.2)
    assert time.monotonic() - t0 >= 0.15  # it waited for the job, then gave up
    assert not pool.cancel(job)  # already running: it cannot be taken back
    followed = []
    done = threading.Event()
    pool.when_done(job, lambda j: (followed.append(j.result(timeout=0)), done.set()))
    release.set()
    assert done.wait(5)
    assert followed == ["late reply"]


def test_a_follow_up_asked_for_after_the_job_ended_runs_at_once():
    pool = Pool(threads=1, max_in_flight=4)
    job = pool.submit(lambda: "done")
    assert job.result(timeout=5) == "done"
    deadline = time.monotonic() + 5
    while pool.in_flight and time.monotonic() < deadline:  # the thread counts the job out just after
        time.sleep(0.01)
    seen = []
    pool.when_done(job, lambda j: seen.append(threading.current_thread().name))
    assert seen == [threading.current_thread().name]


def test_a_job_no_thread_has_started_can_be_cancelled_and_never_runs():
    pool = Pool(threads=1, max_in_flight=4)
    busy, release = threading.Event(), threading.Event()
    pool.submit(lambda: (busy.set(), release.wait(5)))
    assert busy.wait(5)
    ran = []
    waiting = pool.submit(ran.append, "should not run")
    with pytest.raises(TimeoutError):
        waiting.result(timeout=0.05)
    assert pool.cancel(waiting)
    assert pool.in_flight == 1
    with pytest.raises(Cancelled):  # at once, not after the timeout
        waiting.result(timeout=60)
    release.set()
    assert pool.submit(lambda: "next").result(timeout=5) == "next"
    assert ran == []


def test_past_the_limit_of_jobs_in_flight_submit_refuses_and_takes_them_again_once_they_end():
    pool = Pool(threads=2, max_in_flight=3)
    release = threading.Event()
    jobs = [pool.submit(release.wait, 5) for _ in range(3)]  # two running, one queued
    assert all(jobs)
    assert pool.submit(lambda: "one too many") is None
    release.set()
    for job in jobs:
        assert job.result(timeout=5) is True
    deadline = time.monotonic() + 5
    while pool.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.submit(lambda: "room again").result(timeout=5) == "room again"


def test_threads_are_started_as_needed_up_to_the_limit_and_reused():
    pool = Pool(threads=3, max_in_flight=10, name="test-handoff")
    release = threading.Event()
    names = []

    def record():
        names.append(threading.current_thread().name)
        release.wait(5)

    jobs = [pool.submit(record) for _ in range(5)]
    deadline = time.monotonic() + 5
    while len(names) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert len(names) == 3  # three threads busy, two jobs queued
    release.set()
    for job in jobs:
        job.result(timeout=5)
    assert len(set(names)) == 3 and all(n.startswith("test-handoff-") for n in names)


def test_a_thread_that_cannot_be_started_is_tried_again_on_the_next_job(monkeypatch):
    pool = Pool(threads=1, max_in_flight=4)
    with monkeypatch.context() as m:  # the system refuses a new thread, once
        m.setattr(threading.Thread, "start", lambda self: (_ for _ in ()).throw(RuntimeError("can't start new thread")))
        first = pool.submit(lambda: "first")
    with pytest.raises(TimeoutError):
        first.result(timeout=0.1)
    assert pool.cancel(first)  # as the webhook does at the deadline: the resident gets the apology
    assert pool.submit(lambda: "second").result(timeout=5) == "second"


def test_threads_started_ahead_each_run_their_set_up_once_and_then_take_the_jobs():
    pool = Pool(threads=3, max_in_flight=10, name="test-ahead")
    set_up = []
    pool.start(lambda: set_up.append(threading.current_thread().name))
    deadline = time.monotonic() + 5
    while len(set_up) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    ran_in = {pool.submit(lambda: threading.current_thread().name).result(timeout=5) for _ in range(20)}
    assert sorted(set_up) == ["test-ahead-1", "test-ahead-2", "test-ahead-3"]
    assert ran_in <= set(set_up)
    pool.start(lambda: set_up.append("again"))  # all started already: nothing more
    time.sleep(0.05)
    assert "again" not in set_up


def test_a_set_up_that_fails_leaves_the_thread_working():
    pool = Pool(threads=1, max_in_flight=4)

    def redis_down():
        raise ConnectionError("Redis is down")

    pool.start(redis_down)
    assert pool.submit(lambda: "answered").result(timeout=5) == "answered"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_threads():
    pool = Pool(threads=2, max_in_flight=4)
    assert pool.submit(lambda: 1).result(timeout=5) == 1  # the parent's thread exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread is not here, so the job must start a new one
        try:
            signal.alarm(10)  # a child stuck on a lock copied from the parent must not hang the suite
            ok = pool.submit(lambda: os.getpid()).result(timeout=5) == os.getpid()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1" and status == 0
    os.close(read)


@pytest.mark.fork
def test_at_exit_a_running_job_and_its_late_reply_are_let_finish(tmp_path: Path):
    out = tmp_path / "late.txt"
    script = f"""
import threading, time
from bot.webhook.handoff import Pool
pool = Pool(threads=1, max_in_flight=4)
started = threading.Event()
job = pool.submit(lambda: started.set() or time.sleep(0.5) or "the real reply")
started.wait(5)
pool.when_done(job, lambda j: (time.sleep(0.3), open({str(out)!r}, "w").write(j.result(timeout=0))))
"""  # the main thread ends here, with the job still running
    subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], check=True, timeout=30)
    assert out.read_text() == "the real reply"
