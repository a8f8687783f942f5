"""Per-day sequences that stay gap-free and unique under concurrent writers."""
from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.models import DailyCounter
from storage.performance.prepared import Prepared


@cache
def _increment(dialect: str) -> Prepared:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    t = DailyCounter.__table__
    stmt = insert(t).values(name=bindparam("name"), day=bindparam("day"), value=bindparam("by"))
    return Prepared(stmt.on_conflict_do_update(index_elements=[t.c.name, t.c.day],
                                               set_={"value": t.c.value + bindparam("by")}).returning(t.c.value))


def next_value(conn: Session | Connection, name: str, day: str, by: int = 1) -> int:
    """Increment the counter `name` for `day` (YYYYMMDD) by `by` inside the caller's transaction and return
    its new value (numbers value - by + 1 ... value are the caller's)."""
    params = {"name": name, "day": day, "by": by}
    if isinstance(conn, Session):
        return conn.execute(_increment(conn.bind.dialect.name).statement, params).scalar_one()
    return _increment(conn.dialect.name).first(conn, params)[0]
