"""Opinions (社情民意): what residents raise, known publicly by a ticket number."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage import audit, counters
from storage.db import Database
from storage.models import Opinion

MAX_CONTENT = 1000


class OpinionRejected(ValueError):
    """The opinion cannot be taken as given; the message says why, for the resident."""


@dataclass(frozen=True)
class OpinionView:
    ticket_no: str
    content: str
    status: str
    created_at: datetime


def submit(db: Database, resident_id: int, community_id: int | None, content: str, now: datetime,
           tz: ZoneInfo) -> OpinionView:
    content = content.strip()
    if not content:
        raise OpinionRejected("内容是空的")
    if len(content) > MAX_CONTENT:
        raise OpinionRejected(f"内容超过 {MAX_CONTENT} 字")
    day = now.astimezone(tz).strftime("%Y%m%d")
    with db.transaction() as s:
        seq = counters.next_value(s, "opinion", day)
        ticket_no = f"MY{day}{seq:03d}"
        opinion = Opinion(ticket_no=ticket_no, resident_id=resident_id, community_id=community_id,
                          content=content, status="submitted", created_at=now)
        s.add(opinion)
        s.flush()
        audit.record(s, audit.resident_actor(resident_id), "opinion.submit", "opinion", ticket_no, at=now,
                     community_id=community_id)
        return OpinionView(ticket_no, content, opinion.status, now)


def of_resident(db: Database, resident_id: int, limit: int = 10) -> list[OpinionView]:
    with db.transaction() as s:
        rows = s.scalars(select(Opinion).where(Opinion.resident_id == resident_id)
                         .order_by(Opinion.created_at.desc(), Opinion.id.desc()).limit(limit))
        return [OpinionView(o.ticket_no, o.content, o.status, o.created_at) for o in rows]


def find_own(db: Database, resident_id: int, ticket_no: str) -> OpinionView | None:
    """The resident's own opinion with this ticket number; None for anyone else's, so none is revealed."""
    with db.transaction() as s:
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no.upper(), Opinion.resident_id == resident_id))
        return OpinionView(o.ticket_no, o.content, o.status, o.created_at) if o else None


SAME_OPINION_WINDOW = timedelta(hours=24)


def recent_same(db: Database, resident_id: int, content: str, now: datetime) -> OpinionView | None:
    """The resident's opinion with exactly this content from the last day, if any (a re-send, not a new issue)."""
    with db.transaction() as s:
        o = s.scalar(select(Opinion).where(Opinion.resident_id == resident_id, Opinion.content == content.strip(),
                                           Opinion.created_at >= now - SAME_OPINION_WINDOW)
                     .order_by(Opinion.id.desc()).limit(1))
        return OpinionView(o.ticket_no, o.content, o.status, o.created_at) if o else None
