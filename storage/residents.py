"""Residents: whoever follows the official account, known by openid."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage import audit
from storage.db import Database
from storage.models import Community, Resident

# last_interaction_at feeds WeChat's 48-hour customer-service window; minute precision is plenty,
# and skipping the write saves a database round trip on most messages.
_TOUCH_GRANULARITY = timedelta(seconds=60)


@dataclass(frozen=True)
class ResidentView:
    id: int
    openid: str
    subscribed: bool
    community_id: int | None
    community_name: str | None
    last_interaction_at: datetime | None


def _view(session: Session, resident: Resident) -> ResidentView:
    name = session.get(Community, resident.community_id).name if resident.community_id else None
    return ResidentView(resident.id, resident.openid, resident.subscribed, resident.community_id, name,
                        resident.last_interaction_at)


def _ensure(session: Session, openid: str, now: datetime) -> Resident:
    resident = session.scalar(select(Resident).where(Resident.openid == openid))
    if resident is None:
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(Resident).values(openid=openid, subscribed=True, created_at=now,
                                                last_interaction_at=now)
                        .on_conflict_do_nothing(index_elements=[Resident.openid]))
        resident = session.scalar(select(Resident).where(Resident.openid == openid))
    return resident


def touch(db: Database, openid: str, now: datetime) -> ResidentView:
    """The resident who just wrote to us, created on first contact; records the interaction time.
    Most messages come from a known resident seen moments ago: that is one read, with no write lock."""
    with db.transaction(read_only=True) as s:
        resident = s.scalar(select(Resident).where(Resident.openid == openid))
        if (resident is not None and resident.last_interaction_at is not None
                and now - resident.last_interaction_at < _TOUCH_GRANULARITY):
            return _view(s, resident)
    with db.transaction() as s:
        resident = _ensure(s, openid, now)
        if resident.last_interaction_at is None or now - resident.last_interaction_at >= _TOUCH_GRANULARITY:
            s.execute(update(Resident).where(Resident.id == resident.id).values(last_interaction_at=now))
            resident.last_interaction_at = now
        return _view(s, resident)


def subscribe(db: Database, openid: str, now: datetime, scene: str | None = None) -> ResidentView:
    with db.transaction() as s:
        resident = _ensure(s, openid, now)
        resident.subscribed = True
        resident.subscribed_at = now
        resident.last_interaction_at = now
        if scene:
            resident.subscribe_scene = scene[:64]
        audit.record(s, audit.resident_actor(resident.id), "resident.subscribe", "resident", resident.id,
                     at=now, scene=scene)
        return _view(s, resident)


def unsubscribe(db: Database, openid: str, now: datetime) -> None:
    """Marks the resident so that nothing more is sent to them."""
    with db.transaction() as s:
        resident = _ensure(s, openid, now)
        resident.subscribed = False
        resident.unsubscribed_at = now
        audit.record(s, audit.resident_actor(resident.id), "resident.unsubscribe", "resident", resident.id, at=now)


def set_community(db: Database, resident_id: int, community_id: int, actor: str) -> None:
    with db.transaction() as s:
        resident = s.get(Resident, resident_id)
        before = resident.community_id
        if before == community_id:
            return
        resident.community_id = community_id
        audit.record(s, actor, "resident.set_community", "resident", resident_id, before=before, after=community_id)


def is_subscribed(db: Database, openid: str) -> bool:
    with db.transaction(read_only=True) as s:
        return bool(s.scalar(select(Resident.subscribed).where(Resident.openid == openid)))


def refuse_templates(db: Database, openid: str) -> None:
    """WeChat said 43101: this resident has turned template messages off."""
    with db.transaction() as s:
        resident = s.scalar(select(Resident).where(Resident.openid == openid))
        if resident is not None and not resident.refuses_templates:
            resident.refuses_templates = True
            audit.record(s, audit.SYSTEM, "resident.refuses_templates", "resident", resident.id)


# --- looking residents up (the admin web) -------------------------------------------------------------------

@dataclass(frozen=True)
class ResidentRow:
    """A resident as staff look them up: never a phone."""

    id: int
    openid: str
    community_name: str | None
    subscribed: bool
    last_interaction_at: datetime | None
    opinions: int
    registrations: int           # sign-ups not cancelled


def staff_search(db: Database, openid_fragment: str = "", community_id: int | None = None,
                 limit: int = 100) -> list[ResidentRow]:
    """Residents whose openid contains the fragment (and of one community, if given), latest contact first."""
    from sqlalchemy import func

    from storage.models import Opinion, Registration

    opinions = (select(Opinion.resident_id, func.count().label("n")).group_by(Opinion.resident_id).subquery())
    registrations = (select(Registration.resident_id, func.count().label("n"))
                     .where(Registration.status != "cancelled").group_by(Registration.resident_id).subquery())
    query = (select(Resident, Community.name, func.coalesce(opinions.c.n, 0), func.coalesce(registrations.c.n, 0))
             .outerjoin(Community, Community.id == Resident.community_id)
             .outerjoin(opinions, opinions.c.resident_id == Resident.id)
             .outerjoin(registrations, registrations.c.resident_id == Resident.id))
    fragment = openid_fragment.strip()
    if fragment:
        escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Resident.openid.like(f"%{escaped}%", escape="\\"))
    if community_id is not None:
        query = query.where(Resident.community_id == community_id)
    query = query.order_by(Resident.last_interaction_at.desc().nulls_last(), Resident.id.desc()).limit(limit)
    with db.transaction(read_only=True) as s:
        return [ResidentRow(r.id, r.openid, name, bool(r.subscribed), r.last_interaction_at, int(ops), int(regs))
                for r, name, ops, regs in s.execute(query)]
