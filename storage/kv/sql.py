"""The shared store in PostgreSQL's `kv` table, through SQLAlchemy Core, for deployments without Redis."""
from __future__ import annotations

import logging
import random
import time
from typing import Sequence

from sqlalchemy import Integer, Text, bindparam, case, cast, delete, func, literal, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database, DatabaseUnavailable
from storage.kv.base import Claimed, KVUnavailable
from storage.models import KeyValue

log = logging.getLogger("nanhu.kv")


class SqlKV:
    """The same operations on the `kv` table of PostgreSQL, for deployments without Redis (SQLAlchemy Core:
    these statements run several times per message; rows lock one by one)."""

    def __init__(self, db: Database):
        if db.dialect != "postgresql":
            raise ValueError("SqlKV is the store on PostgreSQL; on SQLite it is SqliteKV (`for_database`)")
        self.db = db
        insert = postgresql.insert
        t = KeyValue.__table__
        live = or_(t.c.expires_at.is_(None), t.c.expires_at > bindparam("now"))
        self._get = select(t.c.value).where(t.c.key == bindparam("key"), live)
        self._live = live
        self._get_many_by_size: dict[int, object] = {}  # a statement per number of keys read
        row = insert(t).values(key=bindparam("key"), value=bindparam("value"), expires_at=bindparam("expires"))
        replace = {"value": row.excluded.value, "expires_at": row.excluded.expires_at}
        self._upsert = row.on_conflict_do_update(index_elements=[t.c.key], set_=replace)
        # set_nx in one statement: insert, or take over a row that has expired; a row comes back only if taken
        self._take = row.on_conflict_do_update(index_elements=[t.c.key], set_=replace,
                                               where=t.c.expires_at <= bindparam("now")).returning(t.c.key)
        self._delete = delete(t).where(t.c.key == bindparam("key"))
        # incr in one statement: a new count, or one more on a live one, or a new count over an expired row
        first = insert(t).values(key=bindparam("key"), value=literal("1"), expires_at=bindparam("expires"))
        self._incr = first.on_conflict_do_update(index_elements=[t.c.key], set_={
            "value": case((live, cast(cast(t.c.value, Integer) + 1, Text)), else_=literal("1")),
            "expires_at": case((live, func.coalesce(t.c.expires_at, first.excluded.expires_at)),
                               else_=first.excluded.expires_at),
        }).returning(t.c.value)
        self._delete_if = delete(t).where(t.c.key == bindparam("key"), t.c.value == bindparam("value"), live)

    def _get_many(self, n: int):
        """`key IN (:k0, ... :kn-1)` with plain parameters: cheaper per call than an expanding IN."""
        if n not in self._get_many_by_size:
            t = KeyValue.__table__
            self._get_many_by_size[n] = select(t.c.key, t.c.value).where(
                t.c.key.in_([bindparam(f"k{i}") for i in range(n)]), self._live)
        return self._get_many_by_size[n]

    def _run(self, fn):
        try:
            return fn()
        except (SQLAlchemyError, DatabaseUnavailable) as exc:  # locked, timed out, unreachable: unavailable
            raise KVUnavailable(str(exc)) from exc

    def _write(self, op):
        """`op(connection)` in a write transaction."""
        def run():
            with self.db.connection() as c:
                return op(c)
        return self._run(run)

    def get(self, key: str) -> str | None:
        def op():
            with self.db.connection(read_only=True) as c:
                return c.execute(self._get, {"key": key, "now": time.time()}).scalar()
        return self._run(op)

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        def op(c):
            c.execute(self._upsert, {"key": key, "value": value, "expires": time.time() + ttl if ttl else None})
        self._write(op)

    def _set_nx(self, c, key: str, value: str, ttl: float, now: float) -> bool:
        return c.execute(self._take, {"key": key, "value": value, "expires": now + ttl, "now": now}).first() is not None

    def set_nx(self, key: str, value: str, ttl: float) -> bool:
        self._maybe_sweep()
        return self._write(lambda c: self._set_nx(c, key, value, ttl, time.time()))

    def claim(self, keys: Sequence[tuple[str, str, float]], reads: Sequence[str] = ()) -> Claimed:
        self._maybe_sweep()
        def op(c):
            now = time.time()
            taken, holder = 0, None
            for key, value, ttl in keys:
                if not self._set_nx(c, key, value, ttl, now):
                    holder = c.execute(self._get, {"key": key, "now": now}).scalar()
                    break
                taken += 1
            found = {}
            if reads:
                params = {f"k{i}": k for i, k in enumerate(reads)}
                found = dict(c.execute(self._get_many(len(reads)), {**params, "now": now}).all())
            return Claimed(taken, holder, tuple(found.get(k) for k in reads))
        return self._write(op)

    def apply(self, sets: Sequence[tuple[str, str, float | None]] = (), deletes: Sequence[str] = (),
              releases: Sequence[tuple[str, str]] = ()) -> None:
        if not (sets or deletes or releases):
            return
        def op(c):
            now = time.time()
            ops = ([(key, self._upsert, {"key": key, "value": value, "expires": now + ttl if ttl else None})
                    for key, value, ttl in sets]
                   + [(key, self._delete, {"key": key}) for key in deletes]
                   + [(key, self._delete_if, {"key": key, "value": value, "now": now}) for key, value in releases])
            ops.sort(key=lambda op: op[0])  # rows locked in one order by every caller: no deadlock (PostgreSQL)
            for _, stmt, params in ops:
                c.execute(stmt, params)
        self._write(op)

    def _maybe_sweep(self) -> None:
        if random.random() < 0.01:
            self._sweep()

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

    def incr(self, key: str, ttl: float) -> int:
        def op(c):
            now = time.time()
            return int(c.execute(self._incr, {"key": key, "expires": now + ttl, "now": now}).scalar_one())
        return self._write(op)

    def delete(self, key: str) -> None:
        def op(c):
            c.execute(self._delete, {"key": key})
        self._write(op)

    def delete_if(self, key: str, value: str) -> bool:
        return self._write(lambda c: c.execute(self._delete_if, {"key": key, "value": value, "now": time.time()}
                                               ).rowcount == 1)

    def ping(self) -> None:
        self._run(self.db.ping)

    def connect(self) -> None:
        """Nothing to open: the table is reached through the database's pool."""

    def close(self) -> None:
        """Nothing of its own: the database's pool is closed with it."""

