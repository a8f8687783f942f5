"""Opinions (社情民意): what residents raise, known publicly by a ticket number."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage import audit, counters, notices, opinion_states
from storage.db import Database
from storage.models import Opinion, OpinionEvent, Resident

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


SAME_OPINION_WINDOW = timedelta(hours=24)


def recent_same(db: Database, resident_id: int, content: str, now: datetime) -> OpinionView | None:
    """The resident's opinion with exactly this content from the last day, if any (a re-send, not a new issue)."""
    with db.transaction() as s:
        o = s.scalar(select(Opinion).where(Opinion.resident_id == resident_id, Opinion.content == content.strip(),
                                           Opinion.created_at >= now - SAME_OPINION_WINDOW)
                     .order_by(Opinion.id.desc()).limit(1))
        return OpinionView(o.ticket_no, o.content, o.status, o.created_at) if o else None


# --- the lifecycle: staff move opinions, residents are told -----------------------------------------

@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    state: str
    note: str


@dataclass(frozen=True)
class StaffOpinionView:
    ticket_no: str
    status: str
    content: str
    community_id: int | None
    assignee: str | None
    created_at: datetime
    timeline: tuple[TimelineEntry, ...]


def _ticket(s, ticket_no: str) -> Opinion:
    opinion = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no.strip().upper()))
    if opinion is None:
        raise LookupError(f"no opinion {ticket_no}")
    return opinion


def _tell_resident(s, opinion: Opinion, text: str, now: datetime) -> None:
    """A notice to the resident who raised it, in the same transaction as the change (the outbox)."""
    resident = s.get(Resident, opinion.resident_id)
    if resident is not None and resident.subscribed:
        notices.notify(s, "opinion_update", f"工单 {opinion.ticket_no} 有新进展", text,
                       [(resident.id, resident.openid)], "system", now)


def change_state(db: Database, ticket_no: str, to_state: str, actor: str, now: datetime, note: str = "",
                 assignee: str | None = None) -> StaffOpinionView:
    """Move an opinion along the state table, record who, when and why, and tell the resident."""
    with db.transaction() as s:
        opinion = _ticket(s, ticket_no)
        opinion_states.check(opinion.status, to_state)
        before = opinion.status
        opinion.status, opinion.updated_at = to_state, now
        if to_state == "resolved":
            opinion.resolved_at, opinion.satisfaction, opinion.feedback_at = now, None, None
        if assignee:
            opinion.assignee = assignee.strip()[:64]
        s.add(OpinionEvent(opinion_id=opinion.id, at=now, actor=actor, from_state=before, to_state=to_state,
                           note=note.strip()))
        audit.record(s, actor, "opinion.change_state", "opinion", opinion.ticket_no, at=now, before=before,
                     after=to_state, assignee=opinion.assignee)
        message = f"您反映的问题（工单 {opinion.ticket_no}）状态：{opinion_states.label(to_state)}"
        if note.strip():
            message += f"\n说明：{note.strip()}"
        if to_state == "resolved":
            message += "\n您对处理结果满意吗？请回复「满意」或「不满意」。"
        _tell_resident(s, opinion, message, now)
        s.flush()
        return _staff_view(s, opinion)


def reply(db: Database, ticket_no: str, actor: str, note: str, now: datetime) -> StaffOpinionView:
    """A note to the resident without a change of state."""
    if not note.strip():
        raise OpinionRejected("回复内容是空的")
    with db.transaction() as s:
        opinion = _ticket(s, ticket_no)
        opinion.updated_at = now
        s.add(OpinionEvent(opinion_id=opinion.id, at=now, actor=actor, from_state=opinion.status,
                           to_state=opinion.status, note=note.strip()))
        audit.record(s, actor, "opinion.reply", "opinion", opinion.ticket_no, at=now)
        _tell_resident(s, opinion, f"关于您反映的问题（工单 {opinion.ticket_no}）：{note.strip()}", now)
        s.flush()
        return _staff_view(s, opinion)


def staff_list(db: Database, status: str | None = None, limit: int = 50) -> list[StaffOpinionView]:
    with db.transaction(read_only=True) as s:
        query = select(Opinion).order_by(Opinion.created_at.desc(), Opinion.id.desc()).limit(limit)
        if status:
            query = query.where(Opinion.status == status)
        return [_staff_view(s, o, with_timeline=False) for o in s.scalars(query)]


def staff_show(db: Database, ticket_no: str) -> StaffOpinionView:
    with db.transaction(read_only=True) as s:
        return _staff_view(s, _ticket(s, ticket_no))


def timeline_of_own(db: Database, resident_id: int, ticket_no: str) -> StaffOpinionView | None:
    """The resident's own ticket with its timeline; None for anyone else's."""
    with db.transaction(read_only=True) as s:
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no.upper(), Opinion.resident_id == resident_id))
        return _staff_view(s, o) if o else None


def _staff_view(s, o: Opinion, with_timeline: bool = True) -> StaffOpinionView:
    timeline: tuple[TimelineEntry, ...] = ()
    if with_timeline:
        events = s.scalars(select(OpinionEvent).where(OpinionEvent.opinion_id == o.id)
                           .order_by(OpinionEvent.at, OpinionEvent.id))
        timeline = (TimelineEntry(o.created_at, "submitted", ""),
                    *(TimelineEntry(e.at, e.to_state, e.note) for e in events))
    return StaffOpinionView(o.ticket_no, o.status, o.content, o.community_id, o.assignee, o.created_at, timeline)


@dataclass(frozen=True)
class Feedback:
    ticket_no: str
    satisfied: bool
    reopened: bool


def feedback(db: Database, resident_id: int, ticket_no: str, satisfied: bool, now: datetime,
             comment: str = "") -> Feedback | None:
    """The resident's 满意 / 不满意 on their resolved opinion; 不满意 reopens it. None when the ticket
    is not theirs or not waiting for an answer."""
    with db.transaction() as s:
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no, Opinion.resident_id == resident_id))
        if o is None or o.status != "resolved" or o.satisfaction is not None:
            return None
        actor = audit.resident_actor(resident_id)
        o.satisfaction, o.feedback_at, o.updated_at = ("satisfied" if satisfied else "unsatisfied"), now, now
        if not satisfied:
            o.status = "in_progress"
            s.add(OpinionEvent(opinion_id=o.id, at=now, actor=actor, from_state="resolved", to_state="in_progress",
                               note=("居民不满意：" + comment.strip()) if comment.strip() else "居民不满意，重新处理"))
        audit.record(s, actor, "opinion.feedback", "opinion", o.ticket_no, at=now, satisfied=satisfied)
        return Feedback(o.ticket_no, satisfied, not satisfied)


def resident_openid(db: Database, ticket_no: str) -> str | None:
    with db.transaction(read_only=True) as s:
        return s.scalar(select(Resident.openid).join(Opinion, Opinion.resident_id == Resident.id)
                        .where(Opinion.ticket_no == ticket_no.strip().upper()))
