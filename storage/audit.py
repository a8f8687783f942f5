"""The audit log: every change of state records who, what and when, in the same transaction as the change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.models import AuditEntry, utcnow
from storage.performance.prepared import Prepared

if TYPE_CHECKING:
    from storage.db import Database

SYSTEM = "system"


def resident_actor(resident_id: int) -> str:
    return f"resident:{resident_id}"


def staff_actor(username: str) -> str:
    return f"staff:{username}"


def record(session: Session | Connection, actor: str, action: str, object_type: str, object_id: object,
           at: datetime | None = None, **detail: Any) -> None:
    # a plain INSERT rather than an ORM object: no entry is read back, and this runs in every action
    params = _entry(actor, action, object_type, object_id, at or utcnow(), detail)
    if isinstance(session, Session):  # the ORM's statements go through the session (it flushes first)
        session.execute(_INSERT.statement, params)
    else:
        _INSERT.rows(session, params)


def record_many(conn: Connection, entries: list[tuple[str, str, str, object, datetime, dict]]) -> None:
    """Several entries (actor, action, object type, object id, at, detail) in one statement."""
    _INSERT.many(conn, [_entry(*entry) for entry in entries])


def _entry(actor: str, action: str, object_type: str, object_id: object, at: datetime, detail: dict) -> dict:
    return {"actor": actor, "action": action, "object_type": object_type, "object_id": str(object_id), "at": at,
            "detail": detail}


_INSERT = Prepared(insert(AuditEntry.__table__), ["actor", "action", "object_type", "object_id", "at", "detail"])



# --- reading the log (the admin web) ------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRow]
    total: int
    page: int
    pages: int


def log(db: Database, actor: str, action: str, object_type: str, object_id: object, at: datetime,
        **detail: object) -> None:
    """An entry on its own (for reads worth recording, like exporting phone numbers)."""
    with db.transaction() as s:
        record(s, actor, action, object_type, object_id, at=at, **detail)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(db: Database, *, actor: str = "", action_prefix: str = "", object_type: str = "",
           since: datetime | None = None, until: datetime | None = None, page: int = 1,
           per_page: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """The log newest first, one page at a time: `actor` is a fragment of the actor (staff:admin, resident:3),
    `action_prefix` the start of the action (project. or project.close), `object_type` exact, [since, until)."""
    query = select(AuditEntry)
    if actor.strip():
        query = query.where(AuditEntry.actor.like(f"%{_like(actor.strip())}%", escape="\\"))
    if action_prefix.strip():
        query = query.where(AuditEntry.action.like(f"{_like(action_prefix.strip())}%", escape="\\"))
    if object_type.strip():
        query = query.where(AuditEntry.object_type == object_type.strip())
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    page = max(1, page)
    with db.transaction(read_only=True) as s:
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = s.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                         .offset((page - 1) * per_page).limit(per_page))
        entries = [AuditRow(e.id, e.at, e.actor, e.action, e.object_type, e.object_id, dict(e.detail or {}))
                   for e in rows]
    return AuditPage(entries, total, page, max(1, -(-total // per_page)))


def object_types(db: Database) -> list[str]:
    """The kinds of object the log names, for a filter."""
    with db.transaction(read_only=True) as s:
        return list(s.scalars(select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)))
