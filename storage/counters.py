"""Per-day sequences that stay gap-free and unique under concurrent writers."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import DailyCounter


def next_value(session: Session, name: str, day: str) -> int:
    """Increment and return the counter `name` for `day` (YYYYMMDD) inside the caller's transaction."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(DailyCounter).values(name=name, day=day, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[DailyCounter.name, DailyCounter.day],
                                      set_={"value": DailyCounter.value + 1}).returning(DailyCounter.value)
    return session.execute(stmt).scalar_one()
