"""Residents: whoever follows the official account, known by openid."""
from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage import audit
from storage.db import Database
from storage.models import Community, Resident

# last_interaction_at feeds WeChat's 48-hour customer-service window; minute precision is plenty,
# and skipping the write saves a database round trip on most messages.
_TOUCH_GRANULARITY = timedelta(seconds=60)
# A turn keeps the resident it looked up in the shared store for as long as `touch` would not write again,
# so a resident writing several messages a minute costs no database read. Whatever changes a resident's
# view drops that copy (see `watching_changes`).
CACHE_SECONDS = _TOUCH_GRANULARITY.total_seconds()


@dataclass(frozen=True)
class ResidentView:
    id: int
    openid: str
    subscribed: bool             # as of the lookup: sending reads the database again (`is_subscribed`)
    community_id: int | None
    community_name: str | None
    last_interaction_at: datetime | None


def encode(view: ResidentView) -> str:
    at = view.last_interaction_at
    return json.dumps([view.id, view.openid, view.subscribed, view.community_id, view.community_name,
                       at.timestamp() if at else None], ensure_ascii=False)


def decode(raw: str) -> ResidentView | None:
    """The cached view; None if it is not in the form `encode` writes (an older release's, say)."""
    try:
        id_, openid, subscribed, community_id, community_name, at = json.loads(raw)
        return ResidentView(int(id_), openid, bool(subscribed), community_id, community_name,
                            datetime.fromtimestamp(at, timezone.utc) if at is not None else None)
    except (ValueError, TypeError):
        return None


_changes: ContextVar[set[str] | None] = ContextVar("nanhu_resident_changes", default=None)


@contextlib.contextmanager
def watching_changes() -> Iterator[set[str]]:
    """The openids of residents changed by this module inside the block (their cached views are stale)."""
    changed: set[str] = set()
    token = _changes.set(changed)
    try:
        yield changed
    finally:
        _changes.reset(token)


def _changed(openid: str) -> None:
    changed = _changes.get()
    if changed is not None:
        changed.add(openid)


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
        _changed(openid)
        return _view(s, resident)


def unsubscribe(db: Database, openid: str, now: datetime) -> None:
    """Marks the resident so that nothing more is sent to them."""
    with db.transaction() as s:
        resident = _ensure(s, openid, now)
        resident.subscribed = False
        resident.unsubscribed_at = now
        audit.record(s, audit.resident_actor(resident.id), "resident.unsubscribe", "resident", resident.id, at=now)
        _changed(openid)


def set_community(db: Database, resident_id: int, community_id: int, actor: str) -> None:
    with db.transaction() as s:
        resident = s.get(Resident, resident_id)
        before = resident.community_id
        if before == community_id:
            return
        resident.community_id = community_id
        audit.record(s, actor, "resident.set_community", "resident", resident_id, before=before, after=community_id)
        _changed(resident.openid)


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
