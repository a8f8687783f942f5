"""Everything a request or a job needs, built once per process from the configuration."""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Iterator
from zoneinfo import ZoneInfo

import redis

from bot.config import Config
from bot.wechat.client import KVSessionStorage, NanhuWeChatClient
from jobs import outbox
from jobs.queue import InProcessJobs, RQJobs
from storage.db import Database
from storage.kv import KV, RedisKV, for_database

log = logging.getLogger("nanhu")

_current: contextvars.ContextVar["Runtime | None"] = contextvars.ContextVar("nanhu_runtime", default=None)
_process_default: "Runtime | None" = None


@dataclass
class Runtime:
    config: Config
    db: Database
    kv: KV
    redis: redis.Redis | None
    jobs: RQJobs | InProcessJobs = field(init=False)

    _pid: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._pid = os.getpid()
        if self.redis is not None:
            self.jobs = RQJobs(self.redis, self.config.redis.queue)
        else:
            self.jobs = InProcessJobs(lambda: use(self))
        self.db.on_commit(outbox.relay_after_commit(self.db, self.jobs, self.config.notices.batch_size,
                                                    lambda: self.now()))

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.app.timezone)

    @cached_property
    def send_bucket(self):
        """Paces calls that push messages, to notices.rate_per_second across all workers."""
        from bot.wechat.ratelimit import bucket
        return bucket(self.redis, self.config.notices.rate_per_second)

    @cached_property
    def wechat(self) -> NanhuWeChatClient:
        w = self.config.wechat
        return NanhuWeChatClient(w.app_id, w.app_secret, w.api_base_url, KVSessionStorage(self.kv), w.http_timeout)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def after_fork(self) -> None:
        """Drop connections inherited from a forking parent (gunicorn --preload, RQ's work horse)."""
        self.db.engine.dispose(close=False)
        if self.redis is not None:
            self.redis.connection_pool.reset()
        self.__dict__.pop("wechat", None)  # its HTTP connection pool belongs to the parent
        self._pid = os.getpid()

    def close(self) -> None:
        if isinstance(self.jobs, InProcessJobs):
            self.jobs.shutdown()
        self.kv.close()
        self.db.dispose()
        if self.redis is not None:
            self.redis.close()


def connect_redis(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=30)


def build(config: Config) -> Runtime:
    db = Database(config.database.url, config.database.timeout)
    if config.redis_enabled:
        client = connect_redis(config.redis.url, config.redis.timeout)
        return Runtime(config, db, RedisKV(client), client)
    return Runtime(config, db, for_database(db), None)


@contextlib.contextmanager
def use(runtime: Runtime) -> Iterator[Runtime]:
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)


def set_process_default(runtime: Runtime) -> None:
    global _process_default
    _process_default = runtime


def current() -> Runtime:
    """The runtime of the running job or request; in an RQ worker, the one built from NANHU_CONFIG."""
    rt = _current.get() or _process_default
    if rt is None:
        from bot import config as config_module
        rt = build(config_module.load())
        set_process_default(rt)
    elif rt._pid != os.getpid():  # first use in a forked child, e.g. RQ's work horse
        rt.after_fork()
    return rt
