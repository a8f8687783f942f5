"""Per-day sequences that stay gap-free and unique under concurrent writers."""
from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.models import DailyCounter


@cache
def _increment(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    t = DailyCounter.__table__
    stmt = insert(t).values(name=bindparam("name"), day=bindparam("day"), value=1)
    return stmt.on_conflict_do_update(index_elements=[t.c.name, t.c.day],
                                      set_={"value": t.c.value + 1}).returning(t.c.value)


def next_value(conn: Session | Connection, name: str, day: str) -> int:
    """Increment and return the counter `name` for `day` (YYYYMMDD) inside the caller's transaction."""
    return conn.execute(_increment(conn.bind.dialect.name if isinstance(conn, Session) else conn.dialect.name),
                        {"name": name, "day": day}).scalar_one()
