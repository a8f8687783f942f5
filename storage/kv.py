"""Short-lived shared state: Redis when configured, else a table in the database.

Deduplication, conversation state, per-resident locks and the WeChat access token all live here,
outside the web process, so they survive a restart and are shared by every gunicorn worker.
Both backends offer the same five operations and pass the same tests.
"""
from __future__ import annotations

import logging
import random
import time
from typing import Protocol

import redis
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.models import KeyValue


log = logging.getLogger("nanhu.kv")


class KVUnavailable(Exception):
    """The shared store did not answer (Redis down or slow, database locked)."""


class KV(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl: float | None = None) -> None: ...
    def set_nx(self, key: str, value: str, ttl: float) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_if(self, key: str, value: str) -> bool: ...
    def ping(self) -> None: ...


_DELETE_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class RedisKV:
    def __init__(self, client: redis.Redis, prefix: str = "nanhu:"):
        self.redis = client
        self.prefix = prefix
        self._delete_if = client.register_script(_DELETE_IF)

    def _k(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _run(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:  # down, slow, refused: the store is unavailable
            raise KVUnavailable(str(exc)) from exc

    def get(self, key: str) -> str | None:
        value = self._run(self.redis.get, self._k(key))
        return value.decode("utf-8") if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._run(self.redis.set, self._k(key), value, px=int(ttl * 1000) if ttl else None)

    def set_nx(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._run(self.redis.set, self._k(key), value, px=int(ttl * 1000), nx=True))

    def delete(self, key: str) -> None:
        self._run(self.redis.delete, self._k(key))

    def delete_if(self, key: str, value: str) -> bool:
        return bool(self._run(self._delete_if, keys=[self._k(key)], args=[value]))

    def ping(self) -> None:
        self._run(self.redis.ping)


class SqlKV:
    """The same operations on the `kv` table, for deployments without Redis."""

    def __init__(self, db: Database):
        self.db = db
        self._insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert

    def _live(self, now: float):
        return or_(KeyValue.expires_at.is_(None), KeyValue.expires_at > now)

    def _run(self, fn):
        try:
            return fn()
        except SQLAlchemyError as exc:  # locked, timed out, unreachable: the store is unavailable
            raise KVUnavailable(str(exc)) from exc

    def get(self, key: str) -> str | None:
        def op():
            with self.db.transaction(read_only=True) as s:  # SQLite: no write lock for a read
                return s.scalar(select(KeyValue.value).where(KeyValue.key == key, self._live(time.time())))
        return self._run(op)

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        def op():
            expires = time.time() + ttl if ttl else None
            stmt = self._insert(KeyValue).values(key=key, value=value, expires_at=expires)
            stmt = stmt.on_conflict_do_update(index_elements=[KeyValue.key],
                                              set_={"value": value, "expires_at": expires})
            with self.db.transaction() as s:
                s.execute(stmt)
        self._run(op)

    def set_nx(self, key: str, value: str, ttl: float) -> bool:
        if random.random() < 0.01:
            self._sweep()
        def op():
            now = time.time()
            with self.db.transaction() as s:
                s.execute(delete(KeyValue).where(KeyValue.key == key, KeyValue.expires_at <= now))
                stmt = self._insert(KeyValue).values(key=key, value=value, expires_at=now + ttl)
                stmt = stmt.on_conflict_do_nothing(index_elements=[KeyValue.key]).returning(KeyValue.key)
                return s.execute(stmt).scalar() is not None
        return self._run(op)

    def _sweep(self, batch: int = 200) -> None:
        """Drop a batch of expired rows. Best effort, and skipping rows another sweep holds, so two
        sweeps never deadlock each other or fail the caller."""
        try:
            with self.db.transaction() as s:
                expired = (select(KeyValue.key).where(KeyValue.expires_at < time.time()).limit(batch)
                           .with_for_update(skip_locked=True))
                s.execute(delete(KeyValue).where(KeyValue.key.in_(expired.scalar_subquery())))
        except SQLAlchemyError as exc:
            log.warning("kv sweep skipped: %s", type(exc).__name__)

    def delete(self, key: str) -> None:
        def op():
            with self.db.transaction() as s:
                s.execute(delete(KeyValue).where(KeyValue.key == key))
        self._run(op)

    def delete_if(self, key: str, value: str) -> bool:
        def op():
            with self.db.transaction() as s:
                return s.execute(delete(KeyValue).where(KeyValue.key == key, KeyValue.value == value)).rowcount == 1
        return self._run(op)

    def ping(self) -> None:
        self._run(self.db.ping)
