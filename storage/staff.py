"""Staff: sub-district and community staff who run the system."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from storage import audit
from storage.db import Database
from storage.models import Staff


class StaffNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StaffView:
    id: int
    username: str
    display_name: str
    role: str                  # admin | community
    community_id: int | None


def _view(m: Staff) -> StaffView:
    return StaffView(m.id, m.username, m.display_name, m.role, m.community_id)


def for_openid(db: Database, openid: str) -> StaffView | None:
    """The active staff member who chats from this openid, if any."""
    with db.transaction(read_only=True) as s:
        m = s.scalar(select(Staff).where(Staff.openid == openid, Staff.active.is_(True)))
        return _view(m) if m else None


def link_openid(db: Database, username: str, openid: str | None, actor: str) -> StaffView:
    """Let a staff member use staff commands in chat from `openid` (None unlinks)."""
    with db.transaction() as s:
        m = s.scalar(select(Staff).where(Staff.username == username))
        if m is None:
            raise StaffNotFound(username)
        if openid:
            other = s.scalar(select(Staff).where(Staff.openid == openid, Staff.id != m.id))
            if other is not None:
                other.openid = None
        m.openid = openid
        audit.record(s, actor, "staff.link_openid" if openid else "staff.unlink_openid", "staff", m.id)
        return _view(m)
