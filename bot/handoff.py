"""Per-process handler threads: the webhook hands each push's job to one and waits for it only until its deadline.

`concurrent.futures` would do, but a push pays for its generality twice (a `Future` with a `Condition`, a work
item, a queue, a waiters list per wait): a tenth of a `帮助` turn's CPU time here. A job here is a slot and one
lock: the request thread sleeps on that lock until the handler thread releases it or the deadline passes.
"""
from __future__ import annotations

import _thread
import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Any, Callable

log = logging.getLogger("nanhu.handoff")

_PENDING, _RUNNING, _DONE = 0, 1, 2


class Job:
    """One job: `result(timeout)`, `cancel()` while it has not started, `when_done(fn)`."""

    __slots__ = ("fn", "args", "state", "value", "error", "then", "_finished")

    def __init__(self, fn: Callable, args: tuple) -> None:
        self.fn = fn
        self.args = args
        self.state = _PENDING
        self.value: Any = None
        self.error: BaseException | None = None
        self.then: Callable[[Job], None] | None = None
        self._finished = _thread.allocate_lock()
        self._finished.acquire()  # released once, when the job is done

    def result(self, timeout: float) -> Any:
        """The job's return value (or its exception raised); TimeoutError if not done within `timeout` s."""
        if not self._finished.acquire(timeout=max(0.0, timeout)):
            raise TimeoutError("job not done in time")
        self._finished.release()  # done for good: a later call returns at once
        if self.error is not None:
            raise self.error
        return self.value


class Pool:
    """At most `threads` handler threads, started as needed and kept; at most `max_in_flight` jobs queued or
    running, beyond which `submit` refuses. Created again in a forked child (gunicorn's workers)."""

    def __init__(self, threads: int, max_in_flight: int, name: str = "nanhu-handler") -> None:
        self.threads = threads
        self.max_in_flight = max_in_flight
        self.name = name
        self._lock = threading.Lock()
        self._pid = -1
        self._reset()
        atexit.register(self._drain)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._jobs: deque[Job] = deque()
        self._idle: list[_thread.LockType] = []  # the wake locks of threads waiting for a job
        self._started = 0
        self.in_flight = 0

    def submit(self, fn: Callable, *args) -> Job | None:
        """The job, queued for the next free thread; None when `max_in_flight` jobs are already waiting or running."""
        job = Job(fn, args)
        wake = None
        with self._lock:
            if self._pid != os.getpid():  # a fork copies the queue, not the threads
                self._reset()
            if self.in_flight >= self.max_in_flight:
                return None
            self.in_flight += 1
            self._jobs.append(job)
            if self._idle:
                wake = self._idle.pop()
            elif self._started < self.threads:
                self._started += 1
                threading.Thread(target=self._work, name=f"{self.name}-{self._started}", daemon=True).start()
        if wake is not None:
            wake.release()
        return job

    def cancel(self, job: Job) -> bool:
        """Take back a job no thread has started: True if it will never run."""
        with self._lock:
            if job.state != _PENDING:
                return False
            self._jobs.remove(job)
            job.state = _DONE
            self.in_flight -= 1
            return True

    def when_done(self, job: Job, fn: Callable[[Job], None]) -> None:
        """Call `fn(job)` once the job is done: in the handler thread that ran it, or now if it already has."""
        with self._lock:
            if job.state != _DONE:
                job.then = fn
                return
        fn(job)

    def _work(self) -> None:
        wake = _thread.allocate_lock()
        wake.acquire()
        while True:
            with self._lock:
                job = self._jobs.popleft() if self._jobs else None
                if job is None:
                    self._idle.append(wake)
                else:
                    job.state = _RUNNING
            if job is None:
                wake.acquire()  # released by `submit` once it has queued a job for this thread
                continue
            try:
                job.value = job.fn(*job.args)
            except BaseException as exc:  # the request thread raises it, as a Future would
                job.error = exc
            with self._lock:
                job.state = _DONE
                then = job.then
                self.in_flight -= 1
            job._finished.release()
            if then is not None:
                try:
                    then(job)
                except Exception:
                    log.exception("a job's follow-up failed")

    def _drain(self, wait: float = 10.0) -> None:
        """At exit (handler threads are daemons): let jobs already handed over finish, for up to `wait` s."""
        if self._pid != os.getpid():
            return
        give_up_at = time.monotonic() + wait
        while self.in_flight and time.monotonic() < give_up_at:
            time.sleep(0.01)
