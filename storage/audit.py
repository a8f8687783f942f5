"""The audit log: every change of state records who, what and when, in the same transaction as the change."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.models import AuditEntry, utcnow

SYSTEM = "system"


def resident_actor(resident_id: int) -> str:
    return f"resident:{resident_id}"


def staff_actor(username: str) -> str:
    return f"staff:{username}"


def record(session: Session, actor: str, action: str, object_type: str, object_id: object,
           at: datetime | None = None, **detail: Any) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, object_type=object_type, object_id=str(object_id),
                       at=at or utcnow(), detail=detail)
    session.add(entry)
    return entry
