"""Opinions (社情民意): what residents raise, known publicly by a ticket number."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select

from storage import audit, counters, notices, opinion_states
from storage.conversations import Conversation, ConversationStore
from storage.db import Database
from storage.kv import KV
from storage.models import Opinion, OpinionEvent, Resident
from storage.performance.batching import Batcher
from storage.performance.prepared import Prepared
from storage.rejections import Rejected

MAX_CONTENT = 1000
MAX_PHOTOS = 3


class OpinionRejected(Rejected):
    """The opinion, or a staff action on it, cannot be taken as given."""

    domain = "opinion"


class TooManyOpinions(OpinionRejected):
    """The resident reached opinions.max_per_hour."""


class AlreadyReported(OpinionRejected):
    """The same words from the same resident are still open from the last day: a re-send."""

    def __init__(self, earlier: "OpinionView"):
        super().__init__("already_reported", ticket_no=earlier.ticket_no)
        self.earlier = earlier

    def __reduce__(self):
        return AlreadyReported, (self.earlier,)


@dataclass(frozen=True)
class Route:
    department: str
    hours: float


@dataclass(frozen=True)
class Rules:
    """The sub-district's choices from [opinions]: each category's department and deadline, the hourly limit."""

    categories: dict[str, Route]
    max_per_hour: int

    @classmethod
    def from_config(cls, section) -> "Rules":
        return cls({name: Route(spec["department"].strip(), float(spec["hours"]))
                    for name, spec in section.categories.items()}, section.max_per_hour)

    def route(self, category: str) -> tuple[str, Route]:
        """The category as configured (unknown ones become 其他) and its route."""
        name = category if category in self.categories else "其他"
        return name, self.categories[name]


@dataclass(frozen=True)
class Draft:
    """What the resident told us in chat, before it becomes a ticket."""

    content: str
    community_id: int | None
    category: str = "其他"
    location: str = ""
    latitude: float | None = None
    longitude: float | None = None
    photos: tuple[dict, ...] = ()
    public_name: str | None = None


@dataclass(frozen=True)
class OpinionView:
    ticket_no: str
    content: str
    status: str
    created_at: datetime
    category: str = "其他"
    department: str | None = None
    due_at: datetime | None = None


def _view(o: Opinion) -> OpinionView:
    return OpinionView(o.ticket_no, o.content, o.status, o.created_at, o.category, o.department, o.due_at)


def check_content(content: str) -> str:
    """The description as it will be stored, or OpinionRejected saying what is wrong with it."""
    content = content.strip()
    if not content:
        raise OpinionRejected("empty", field="content")
    if len(content) > MAX_CONTENT:
        raise OpinionRejected("too_long", field="content", length=len(content), limit=MAX_CONTENT)
    return content


def _submitted_in_last_hour(conn, resident_id: int, now: datetime) -> int:
    return conn.execute(_COUNT_SINCE, {"resident_id": resident_id, "since": now - timedelta(hours=1)}).scalar() or 0


def can_submit(db: Database, resident_id: int, now: datetime, rules: Rules) -> bool:
    """Whether the resident is still under the hourly limit (asked before walking them through the flow)."""
    with db.transaction(read_only=True) as s:
        return _submitted_in_last_hour(s, resident_id, now) < rules.max_per_hour


def submit(db: Database, resident_id: int, draft: Draft, now: datetime, tz: ZoneInfo, rules: Rules) -> OpinionView:
    """Store the resident's opinion whole, routed to its category's department with its deadline.
    AlreadyReported if it is a re-send of one still open; TooManyOpinions past the hourly limit.
    Submissions that arrive together are stored together (`storage.performance.batching`), each checked alone."""
    content = check_content(draft.content)
    category, route = rules.route(draft.category)
    pending = _Pending(resident_id, draft, content, category, route, now, now.astimezone(tz).strftime("%Y%m%d"),
                       rules.max_per_hour)
    return db.shared("opinions", lambda: Batcher(db, _store)).run(pending, db.timeout * 2)


@dataclass(frozen=True)
class _Pending:
    resident_id: int
    draft: Draft
    content: str
    category: str
    route: Route
    now: datetime
    day: str
    max_per_hour: int


def _store(conn, batch: list[_Pending]) -> list[OpinionView | OpinionRejected]:
    """One transaction for the batch: the checks of each submission see the ones before it in the batch."""
    residents = sorted({p.resident_id for p in batch})
    if conn.dialect.name == "postgresql":  # SQLite's write transactions are serial already
        # the residents' row locks (in id order: no deadlock) make the checks exact under concurrent submissions
        conn.execute(_LOCK_RESIDENTS, {"ids": residents})
    # one read for every check: the residents' opinions of the last day, newest first
    params = {f"r{i}": r for i, r in enumerate(residents)}
    params["since"] = min(p.now for p in batch) - SAME_OPINION_WINDOW
    recent: dict[int, list[OpinionView]] = {r: [] for r in residents}
    for resident_id, *row in _recent(len(residents)).rows(conn, params):
        recent[resident_id].append(OpinionView(*row))
    # each submission: ("new", its view) or ("again", the open one with the same words), or a rejection;
    # a view new in this batch gets its ticket number once the batch is counted, so outcomes keep the view
    outcomes: list[tuple[str, OpinionView] | OpinionRejected] = []
    new: list[tuple[_Pending, OpinionView]] = []
    for p in batch:
        mine = [o for o in recent[p.resident_id] if o.created_at >= p.now - SAME_OPINION_WINDOW]
        # the same words still open: a re-send, not a new issue (the same words about a problem that was
        # resolved or closed are a new report)
        earlier = next((o for o in mine if o.content == p.content and o.status in opinion_states.OPEN_STATES), None)
        if earlier is not None:
            outcomes.append(("again", earlier))
        elif sum(o.created_at > p.now - timedelta(hours=1) for o in mine) >= p.max_per_hour:
            outcomes.append(TooManyOpinions("too_many", limit=p.max_per_hour))
        else:
            view = OpinionView("", p.content, "submitted", p.now, p.category, p.route.department,
                               p.now + timedelta(hours=p.route.hours))
            recent[p.resident_id].insert(0, view)
            outcomes.append(("new", view))
            new.append((p, view))
    numbered: dict[int, OpinionView] = {}  # id() of a view new in this batch -> with its ticket number
    for day in sorted({p.day for p, _ in new}):
        today = [v for p, v in new if p.day == day]
        last = counters.next_value(conn, "opinion", day, by=len(today))
        for seq, v in enumerate(today, start=last - len(today) + 1):
            numbered[id(v)] = OpinionView(f"MY{day}{seq:03d}", v.content, v.status, v.created_at, v.category,
                                          v.department, v.due_at)
    if new:
        stored = [(p, numbered[id(v)]) for p, v in new]
        # Core on a plain connection, not ORM objects: this is the write behind every submission
        _INSERT.many(conn, [_row(p, v) for p, v in stored])
        audit.record_many(conn, [(audit.resident_actor(p.resident_id), "opinion.submit", "opinion", v.ticket_no,
                                  p.now, {"community_id": p.draft.community_id, "category": p.category})
                                 for p, v in stored])
    result: list[OpinionView | OpinionRejected] = []
    for outcome in outcomes:
        if isinstance(outcome, OpinionRejected):
            result.append(outcome)
        else:
            kind, view = outcome
            view = numbered.get(id(view), view)
            result.append(view if kind == "new" else AlreadyReported(view))
    return result


def _row(p: _Pending, v: OpinionView) -> dict:
    d = p.draft
    return {"ticket_no": v.ticket_no, "resident_id": p.resident_id, "community_id": d.community_id,
            "content": v.content, "status": v.status, "created_at": v.created_at, "category": v.category,
            "department": v.department, "due_at": v.due_at, "location": d.location.strip()[:256],
            "latitude": d.latitude, "longitude": d.longitude, "photos": list(d.photos[:MAX_PHOTOS]),
            "public_name": (d.public_name or "").strip()[:32] or None}


_OPINIONS = Opinion.__table__
_COUNT_SINCE = (select(func.count()).select_from(_OPINIONS)
                .where(_OPINIONS.c.resident_id == bindparam("resident_id"),
                       _OPINIONS.c.created_at > bindparam("since")))
_RESIDENTS = Resident.__table__
_LOCK_RESIDENTS = (select(_RESIDENTS.c.id).where(_RESIDENTS.c.id.in_(bindparam("ids", expanding=True)))
                   .order_by(_RESIDENTS.c.id).with_for_update())


@lru_cache(maxsize=64)
def _recent(residents: int) -> Prepared:
    """The opinions of `residents` residents (bound as r0, r1, ...) since `since`, newest first."""
    return Prepared(
        select(_OPINIONS.c.resident_id, _OPINIONS.c.ticket_no, _OPINIONS.c.content, _OPINIONS.c.status,
               _OPINIONS.c.created_at, _OPINIONS.c.category, _OPINIONS.c.department, _OPINIONS.c.due_at)
        .where(_OPINIONS.c.resident_id.in_([bindparam(f"r{i}") for i in range(residents)]),
               _OPINIONS.c.created_at >= bindparam("since"))
        .order_by(_OPINIONS.c.id.desc()))


_INSERT = Prepared(insert(_OPINIONS), ["ticket_no", "resident_id", "community_id", "content", "status", "created_at",
                                       "category", "department", "due_at", "location", "latitude", "longitude",
                                       "photos", "public_name"])
SAME_OPINION_WINDOW = timedelta(hours=24)


def of_resident(db: Database, resident_id: int, limit: int = 10) -> list[OpinionView]:
    with db.transaction() as s:
        rows = s.scalars(select(Opinion).where(Opinion.resident_id == resident_id)
                         .order_by(Opinion.created_at.desc(), Opinion.id.desc()).limit(limit))
        return [_view(o) for o in rows]


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
    category: str = "其他"
    department: str | None = None
    due_at: datetime | None = None
    location: str = ""
    photos: tuple[str, ...] = ()          # picture URLs
    public_name: str | None = None
    merged_into: str | None = None        # ticket number
    merged_into_status: str | None = None
    merged: tuple[str, ...] = ()          # tickets merged into this one
    latitude: float | None = None
    longitude: float | None = None

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and now > self.due_at and self.status in opinion_states.OPEN_STATES


def _ticket(s, ticket_no: str, lock: bool = True) -> Opinion:
    """The ticket, locked for the rest of the transaction unless only read (two staff acting on one ticket
    at once take turns; SQLite's write transactions already do)."""
    query = select(Opinion).where(Opinion.ticket_no == ticket_no.strip().upper())
    opinion = s.scalar(query.with_for_update() if lock else query)
    if opinion is None:
        raise LookupError(f"no opinion {ticket_no}")
    return opinion


def _subscribed(s, resident_id: int) -> bool:
    return bool(s.scalar(select(Resident.subscribed).where(Resident.id == resident_id)))


def _tell(s, resident_id: int, ticket_no: str, text: str, now: datetime) -> None:
    resident = s.get(Resident, resident_id)
    if resident is not None and resident.subscribed:
        notices.notify(s, "opinion_update", f"工单 {ticket_no} 有新进展", text,
                       [(resident.id, resident.openid)], "system", now)


def _tell_residents(s, opinion: Opinion, text: str, now: datetime, to_followers: str | None = None) -> None:
    """A notice to the resident who raised it and, with `to_followers`, to those whose tickets were merged
    into it; in the same transaction as the change (the outbox). Followers hear only of changes of
    state: staff notes are written to the ticket's own resident and may be about them alone."""
    _tell(s, opinion.resident_id, opinion.ticket_no, text, now)
    if to_followers is None:
        return
    followers = s.execute(select(Opinion.resident_id, Opinion.ticket_no).where(Opinion.merged_into_id == opinion.id)
                          .order_by(Opinion.id)).all()
    told = {opinion.resident_id}
    for resident_id, their_ticket in followers:
        if resident_id not in told:
            told.add(resident_id)
            _tell(s, resident_id, their_ticket,
                  f"您反映的问题（工单 {their_ticket}）已并入工单 {opinion.ticket_no} 一并处理。{to_followers}", now)


def _staff_step(s, opinion: Opinion, actor: str, to_state: str, note: str, now: datetime) -> None:
    """One step on the timeline; the first one by staff is the ticket's first response."""
    s.add(OpinionEvent(opinion_id=opinion.id, at=now, actor=actor, from_state=opinion.status, to_state=to_state,
                       note=note.strip()))
    opinion.updated_at = now
    if opinion.first_response_at is None and actor.startswith("staff:"):
        opinion.first_response_at = now


def change_state(db: Database, ticket_no: str, to_state: str, actor: str, now: datetime, note: str = "",
                 assignee: str | None = None) -> StaffOpinionView:
    """Move an opinion along the state table, record who, when and why, and tell the resident."""
    if to_state == "duplicate":
        raise opinion_states.InvalidTransition("a ticket becomes duplicate by merging it into another (merge)")
    with db.transaction() as s:
        opinion = _ticket(s, ticket_no)
        opinion_states.check(opinion.status, to_state)
        before = opinion.status
        if to_state == "accepted" and not note.strip():
            note = f"已交由{(assignee or '').strip() or opinion.assignee or opinion.department or '相关部门'}办理"
        _staff_step(s, opinion, actor, to_state, note, now)
        opinion.status = to_state
        if to_state == "resolved":
            opinion.resolved_at, opinion.satisfaction, opinion.feedback_at = now, None, None
        if assignee and assignee.strip():
            opinion.assignee = assignee.strip()[:64]
        elif to_state == "accepted" and not opinion.assignee:
            opinion.assignee = opinion.department  # routed by category when submitted
        audit.record(s, actor, "opinion.change_state", "opinion", opinion.ticket_no, at=now, before=before,
                     after=to_state, assignee=opinion.assignee)
        state = f"状态：{opinion_states.label(to_state)}"
        # the title names the ticket
        message = f"您反映的问题{state}" + (f"\n说明：{note.strip()}" if note.strip() else "")
        if to_state == "resolved":
            message += "\n您对处理结果满意吗？请回复「满意」或「不满意」。"
            opinion.feedback_asked_at = now if _subscribed(s, opinion.resident_id) else None
        _tell_residents(s, opinion, message, now, to_followers=state)
        s.flush()
        return _staff_view(s, opinion)


def reply(db: Database, ticket_no: str, actor: str, note: str, now: datetime) -> StaffOpinionView:
    """A note to the resident without a change of state."""
    if not note.strip():
        raise OpinionRejected("empty_reply", field="note")
    with db.transaction() as s:
        opinion = _ticket(s, ticket_no)
        _staff_step(s, opinion, actor, opinion.status, note, now)
        audit.record(s, actor, "opinion.reply", "opinion", opinion.ticket_no, at=now)
        _tell_residents(s, opinion, f"工作人员答复：{note.strip()}", now)
        s.flush()
        return _staff_view(s, opinion)


def reassign(db: Database, ticket_no: str, assignee: str, actor: str, now: datetime,
             note: str = "") -> StaffOpinionView:
    """Hand an open ticket to another department or person, without changing its state."""
    assignee = assignee.strip()[:64]
    if not assignee:
        raise OpinionRejected("empty_department", field="assignee")
    with db.transaction() as s:
        opinion = _ticket(s, ticket_no)
        if opinion.status not in opinion_states.OPEN_STATES:
            raise OpinionRejected("reassign_closed", ticket_no=opinion.ticket_no, status=opinion.status)
        before = opinion.assignee
        opinion.assignee = assignee
        _staff_step(s, opinion, actor, opinion.status, note.strip() or f"改由{assignee}办理", now)
        audit.record(s, actor, "opinion.reassign", "opinion", opinion.ticket_no, at=now, before=before, after=assignee)
        _tell_residents(s, opinion,
                        f"您反映的问题改由{assignee}办理。" + (f"\n说明：{note.strip()}" if note.strip() else ""),
                        now)
        s.flush()
        return _staff_view(s, opinion)


def categorize(db: Database, ticket_no: str, category: str, actor: str, now: datetime,
               rules: Rules) -> StaffOpinionView:
    """Staff correct the suggested category: the ticket goes to that category's department, and its
    deadline becomes the category's, counted from submission."""
    if category not in rules.categories:
        raise OpinionRejected("unknown_category", field="category", category=category,
                              categories=list(rules.categories))
    with db.transaction() as s:
        opinion = _ticket(s, ticket_no)
        if opinion.status not in opinion_states.OPEN_STATES:
            # the deadline it was judged by stays: a late resolution cannot be made on time afterwards
            raise OpinionRejected("category_closed", ticket_no=opinion.ticket_no, status=opinion.status)
        before, route = opinion.category, rules.categories[category]
        opinion.category, opinion.department = category, route.department
        opinion.due_at = opinion.created_at + timedelta(hours=route.hours)
        opinion.updated_at = now
        s.add(OpinionEvent(opinion_id=opinion.id, at=now, actor=actor, from_state=opinion.status,
                           to_state=opinion.status, note=f"类别改为{category}（{route.department}负责）"))
        audit.record(s, actor, "opinion.categorize", "opinion", opinion.ticket_no, at=now, before=before,
                     after=category, department=route.department)
        s.flush()
        return _staff_view(s, opinion)


def merge(db: Database, ticket_no: str, into_ticket_no: str, actor: str, now: datetime,
          note: str = "") -> StaffOpinionView:
    """Close a ticket as a duplicate of another: its resident is told, and hears of the other ticket's
    progress from then on. Tickets already merged into it move along to the other one."""
    with db.transaction() as s:
        wanted = {ticket_no.strip().upper(), into_ticket_no.strip().upper()}
        s.scalars(select(Opinion.id).where(Opinion.ticket_no.in_(wanted)).order_by(Opinion.id).with_for_update()).all()
        opinion, target = _ticket(s, ticket_no), _ticket(s, into_ticket_no)  # already locked, in id order
        if opinion.id == target.id:
            raise OpinionRejected("merge_into_itself", field="into")
        if target.status == "duplicate":
            parent = s.get(Opinion, target.merged_into_id)
            raise OpinionRejected("merge_into_merged", field="into", target=target.ticket_no, parent=parent.ticket_no)
        opinion_states.check(opinion.status, "duplicate")
        if opinion_states.STATES[target.status].kind is opinion_states.Kind.CLOSED:
            raise OpinionRejected("merge_into_closed", field="into", target=target.ticket_no, status=target.status)
        _staff_step(s, opinion, actor, "duplicate", note or f"并入工单 {target.ticket_no}", now)
        opinion.status, opinion.merged_into_id = "duplicate", target.id
        for child in s.scalars(select(Opinion).where(Opinion.merged_into_id == opinion.id)):
            child.merged_into_id = target.id
        s.add(OpinionEvent(opinion_id=target.id, at=now, actor=actor, from_state=target.status,
                           to_state=target.status, note=f"合并了工单 {opinion.ticket_no}"))
        audit.record(s, actor, "opinion.merge", "opinion", opinion.ticket_no, at=now, into=target.ticket_no)
        state = opinion_states.label(target.status)
        _tell(s, opinion.resident_id, opinion.ticket_no,
              f"您反映的问题（工单 {opinion.ticket_no}）与工单 {target.ticket_no} 是同一件事，已合并处理，"
              f"目前状态：{state}。后续进展会继续通知您。", now)
        s.flush()
        return _staff_view(s, opinion)


def staff_list(db: Database, status: str | None = None, limit: int = 50, *, category: str | None = None,
               community_id: int | None = None, overdue_at: datetime | None = None) -> list[StaffOpinionView]:
    """The latest opinions, optionally only one state, category or community, or only those open past
    their deadline at `overdue_at`."""
    with db.transaction(read_only=True) as s:
        query = select(Opinion).order_by(Opinion.created_at.desc(), Opinion.id.desc()).limit(limit)
        if status:
            query = query.where(Opinion.status == status)
        if category:
            query = query.where(Opinion.category == category)
        if community_id is not None:
            query = query.where(Opinion.community_id == community_id)
        if overdue_at is not None:
            query = query.where(Opinion.status.in_(opinion_states.OPEN_STATES), Opinion.due_at < overdue_at)
        return [_staff_view(s, o, with_timeline=False) for o in s.scalars(query)]


def staff_show(db: Database, ticket_no: str) -> StaffOpinionView:
    with db.transaction(read_only=True) as s:
        return _staff_view(s, _ticket(s, ticket_no, lock=False))


def timeline_of_own(db: Database, resident_id: int, ticket_no: str) -> StaffOpinionView | None:
    """The resident's own ticket with its timeline; None for anyone else's."""
    with db.transaction(read_only=True) as s:
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no.strip().upper(),
                                           Opinion.resident_id == resident_id))
        return _staff_view(s, o) if o else None


def _staff_view(s, o: Opinion, with_timeline: bool = True) -> StaffOpinionView:
    timeline: tuple[TimelineEntry, ...] = ()
    merged: tuple[str, ...] = ()
    if with_timeline:
        events = s.scalars(select(OpinionEvent).where(OpinionEvent.opinion_id == o.id)
                           .order_by(OpinionEvent.at, OpinionEvent.id))
        timeline = (TimelineEntry(o.created_at, "submitted", ""),
                    *(TimelineEntry(e.at, e.to_state, e.note) for e in events))
        merged = tuple(s.scalars(select(Opinion.ticket_no).where(Opinion.merged_into_id == o.id).order_by(Opinion.id)))
    parent = s.execute(select(Opinion.ticket_no, Opinion.status).where(Opinion.id == o.merged_into_id)).first() \
        if o.merged_into_id else None
    return StaffOpinionView(o.ticket_no, o.status, o.content, o.community_id, o.assignee, o.created_at, timeline,
                            o.category, o.department, o.due_at, o.location,
                            tuple(p.get("url", "") for p in (o.photos or [])), o.public_name,
                            parent[0] if parent else None, parent[1] if parent else None, merged,
                            o.latitude, o.longitude)


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
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no, Opinion.resident_id == resident_id)
                     .with_for_update())
        if o is None or o.status != "resolved" or o.satisfaction is not None:
            return None
        actor = audit.resident_actor(resident_id)
        o.satisfaction, o.feedback_at, o.updated_at = ("satisfied" if satisfied else "unsatisfied"), now, now
        if not satisfied:
            o.status = "in_progress"
            s.add(OpinionEvent(opinion_id=o.id, at=now, actor=actor, from_state="resolved", to_state="in_progress",
                               note=_unsatisfied_note(comment)))
        audit.record(s, actor, "opinion.feedback", "opinion", o.ticket_no, at=now, satisfied=satisfied)
        return Feedback(o.ticket_no, satisfied, not satisfied)


def awaiting_feedback(db: Database, resident_id: int, now: datetime, feedback_days: int) -> str | None:
    """The resident's latest resolved ticket whose 满意吗 was asked within `feedback_days` and not yet answered."""
    with db.transaction(read_only=True) as s:
        return s.scalar(select(Opinion.ticket_no).where(
            Opinion.resident_id == resident_id, Opinion.status == "resolved", Opinion.satisfaction.is_(None),
            Opinion.feedback_asked_at > now - timedelta(days=feedback_days))
            .order_by(Opinion.feedback_asked_at.desc(), Opinion.id.desc()).limit(1))


def _unsatisfied_note(comment: str) -> str:
    said = comment.strip()
    if not said or len(re.sub(r"[\W_]|不|太|很|非常|满意|了|啊|呢", "", said)) == 0:  # only the verdict itself
        return "居民不满意，重新处理"
    return "居民不满意：" + said


def add_resident_note(db: Database, resident_id: int, ticket_no: str, text: str, now: datetime) -> bool:
    """The resident's own words on their ticket's timeline (why they were not satisfied)."""
    text = text.strip()[:MAX_CONTENT]
    with db.transaction() as s:
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket_no, Opinion.resident_id == resident_id))
        if o is None or not text:
            return False
        s.add(OpinionEvent(opinion_id=o.id, at=now, actor=audit.resident_actor(resident_id), from_state=o.status,
                           to_state=o.status, note=f"居民补充：{text}"))
        o.updated_at = now
        audit.record(s, audit.resident_actor(resident_id), "opinion.resident_note", "opinion", o.ticket_no, at=now)
        return True


def resident_openid(db: Database, ticket_no: str) -> str | None:
    with db.transaction(read_only=True) as s:
        return s.scalar(select(Resident.openid).join(Opinion, Opinion.resident_id == Resident.id)
                        .where(Opinion.ticket_no == ticket_no.strip().upper()))


FEEDBACK_FLOW = "opinion.feedback"   # the chat flow that takes the resident's 满意 / 不满意


def await_feedback(db: Database, kv: KV, ticket_no: str, days: int) -> bool:
    """After staff resolve a ticket: the resident's next 满意 / 不满意 answers for it, for `days`
    (opinions.feedback_days). Not when the resident is in the middle of something else; an answer
    then still finds the ticket (`awaiting_feedback`)."""
    openid = resident_openid(db, ticket_no)
    if openid is None:
        return False
    store = ConversationStore(kv, days * 86400)
    return store.ask_unless_busy(openid, Conversation(FEEDBACK_FLOW, "rate", {"ticket_no": ticket_no.strip().upper()}))
