"""Per-process handler threads: the webhook hands each push's job to one and waits for it only until its deadline.

`concurrent.futures` would do, but each push would pay for its generality (a `Future` with a `Condition`, a work
item, a queue, a waiters list per wait): in a tight loop here a hand-off cost 97–131 µs of CPU that way and 80–97
µs this way, most of either being the two thread switches. A job here is a slot and one lock: the request thread
sleeps on that lock until the handler thread releases it or the deadline passes.
"""
from __future__ import annotations

import _thread
import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable

log = logging.getLogger("nanhu.handoff")

_PENDING, _RUNNING, _DONE = 0, 1, 2


class Cancelled(Exception):
    """The job was taken back before any thread started it."""


class Job:
    """One job handed to a `Pool`: wait for it with `result`; `Pool.cancel` and `Pool.when_done` take it back or
    follow it up."""

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
        if self.state != _DONE:  # once done, value and error are set and never change: no need for the lock
            if not self._finished.acquire(timeout=max(0.0, timeout)):
                raise TimeoutError("job not done in time")
            self._finished.release()  # for anyone else waiting
        if self.error is not None:
            raise self.error
        return self.value


class Pool:
    """At most `threads` handler threads, started as needed (or all at once, `start`) and kept; at most
    `max_in_flight` jobs queued or running, beyond which `submit` refuses. A forked child (a gunicorn worker)
    starts with an empty pool."""

    def __init__(self, threads: int, max_in_flight: int, name: str = "nanhu-handler") -> None:
        self.threads = threads
        self.max_in_flight = max_in_flight
        self.name = name
        self._reset()
        me = weakref.ref(self)
        # a fork copies the queue, not the threads, and maybe a lock one of them held at that moment
        os.register_at_fork(after_in_child=lambda: (pool := me()) and pool._reset())
        atexit.register(lambda: (pool := me()) and pool._drain())

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._jobs: deque[Job] = deque()
        self._idle: list[_thread.LockType] = []  # the wake locks of threads waiting for a job
        self._started = 0
        self.in_flight = 0

    def submit(self, fn: Callable, *args) -> Job | None:
        """The job, queued for the next free thread; None when `max_in_flight` jobs are already waiting or running."""
        job = Job(fn, args)
        wake, number = None, 0
        with self._lock:
            if self.in_flight >= self.max_in_flight:
                return None
            self.in_flight += 1
            self._jobs.append(job)
            if self._idle:
                wake = self._idle.pop()
            elif self._started < self.threads:
                self._started += 1
                number = self._started
        if wake is not None:
            wake.release()
        elif number:
            self._spawn(number)  # if it cannot start, the job waits for a running thread, or its deadline
        return job

    def start(self, on_start: Callable[[], None] | None = None) -> None:
        """Start every thread now rather than as pushes come (a gunicorn worker, once forked), each running
        `on_start` first (to open its own connections): a worker's threads and connections are then all there
        before its first push, and their number does not grow under load."""
        with self._lock:
            numbers = range(self._started + 1, self.threads + 1)
            self._started = self.threads
        for number in numbers:
            self._spawn(number, on_start)

    def _spawn(self, number: int, on_start: Callable[[], None] | None = None) -> None:
        try:
            threading.Thread(target=self._work, args=(on_start,), name=f"{self.name}-{number}", daemon=True).start()
        except RuntimeError:  # can't start new thread: counted out, so that a later job tries again
            with self._lock:
                self._started -= 1
            log.exception("could not start a handler thread")

    def cancel(self, job: Job) -> bool:
        """Take back a job no thread has started: True if it will never run."""
        with self._lock:
            if job.state != _PENDING:
                return False
            self._jobs.remove(job)
            job.error = Cancelled()
            job.state = _DONE
            self.in_flight -= 1
        job._finished.release()
        return True

    def when_done(self, job: Job, fn: Callable[[Job], None]) -> None:
        """Call `fn(job)` once the job is done: in the handler thread that ran it, or now if it already has."""
        with self._lock:
            if job.state != _DONE:
                job.then = fn
                return
        fn(job)

    def _work(self, on_start: Callable[[], None] | None = None) -> None:
        if on_start is not None:
            try:
                on_start()
            except Exception as exc:  # Redis down at start-up, say: the thread connects when it first needs to
                log.warning("handler thread set-up failed (%s: %s)", type(exc).__name__, exc)
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
            job._finished.release()
            try:
                if then is not None:
                    then(job)
            except Exception:
                log.exception("a job's follow-up failed")
            finally:
                with self._lock:  # counted out only now: at exit, `_drain` waits for the follow-up too
                    self.in_flight -= 1

    def _drain(self, wait: float = 10.0) -> None:
        """At exit (handler threads are daemons): let jobs already handed over finish, and their follow-ups (a late
        reply promised to a resident), for up to `wait` s: gunicorn's graceful timeout is as long."""
        give_up_at = time.monotonic() + wait
        while self.in_flight and time.monotonic() < give_up_at:
            time.sleep(0.01)
