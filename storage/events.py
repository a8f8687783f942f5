"""Events residents sign up for."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from storage.db import Database
from storage.models import Community, Event


@dataclass(frozen=True)
class EventView:
    id: int
    title: str
    place: str
    starts_at: datetime
    community_name: str | None
    places_left: int


def upcoming(db: Database, now: datetime, limit: int = 10) -> list[EventView]:
    """Open events that have not started and still take sign-ups, soonest first."""
    with db.transaction() as s:
        rows = s.execute(
            select(Event, Community.name)
            .outerjoin(Community, Community.id == Event.community_id)
            .where(Event.status == "open", Event.starts_at > now,
                   or_(Event.signup_deadline.is_(None), Event.signup_deadline > now))
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
        ).all()
        return [EventView(e.id, e.title, e.place, e.starts_at, name, max(0, e.capacity - e.places_taken))
                for e, name in rows]
