"""Background jobs: RQ when Redis is configured, else a small thread pool inside the web process.

Both take the same job functions (module-level callables in `jobs/`, or their dotted names), so a job
behaves the same way in development and in production.
"""
from __future__ import annotations

import importlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Callable

import redis
from rq import Queue, Retry

log = logging.getLogger("nanhu.queue")


class QueueUnavailable(Exception):
    """The job could not be queued (Redis down)."""


Job = Callable[..., Any] | str  # a function, or its dotted name ("jobs.delivery.deliver")


def _name(func: Job) -> str:
    # RQ logs a job's description; the default repeats the arguments (openids, residents' words)
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


def _function(func: Job) -> Callable[..., Any]:
    if not isinstance(func, str):
        return func
    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)


class RQJobs:
    kind = "rq"

    def __init__(self, connection: redis.Redis, name: str):
        self.queue = Queue(name, connection=connection)

    def enqueue(self, func: Job, *args: Any, **kwargs: Any) -> str:
        try:
            return self.queue.enqueue(func, args=args, kwargs=kwargs, retry=Retry(max=3, interval=[5, 30, 120]),
                                      description=_name(func)).id
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from exc

    def enqueue_in(self, delay: timedelta, func: Job, *args: Any, **kwargs: Any) -> str:
        try:
            return self.queue.enqueue_in(delay, func, args=args, kwargs=kwargs, description=_name(func)).id
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from exc


class InProcessJobs:
    """Runs jobs on threads of this process, in the runtime that queued them."""

    kind = "in-process"

    def __init__(self, runtime_scope: Callable[[], Any], workers: int = 2):
        self._scope = runtime_scope
        self._pool: ThreadPoolExecutor | None = None
        self._workers = workers
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:  # created on first use, so that a pre-forked parent starts no threads
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="nanhu-job")
            return self._pool

    def _run(self, func: Job, args: tuple, kwargs: dict) -> None:
        with self._scope():
            try:
                _function(func)(*args, **kwargs)
            except Exception:
                log.exception("job %s failed", getattr(func, "__name__", func))

    def enqueue(self, func: Job, *args: Any, **kwargs: Any) -> str:
        try:
            self._executor().submit(self._run, func, args, kwargs)
        except RuntimeError as exc:  # the pool was shut down (the command or process is ending)
            raise QueueUnavailable(str(exc)) from exc
        return "in-process"

    def enqueue_in(self, delay: timedelta, func: Job, *args: Any, **kwargs: Any) -> str:
        timer = threading.Timer(delay.total_seconds(), lambda: self.enqueue(func, *args, **kwargs))
        timer.daemon = True
        timer.start()
        return "in-process-timer"

    def shutdown(self) -> None:
        if self._pool:
            self._pool.shutdown(wait=True)
