"""Notices and their outbox: one delivery row per recipient, written in the transaction that caused it.

A delivery moves pending → sending → sent | failed | skipped (`storage.delivery_states`). Taking it from pending to
sending is a conditional update, so however often a delivery job runs, only one run sends. A delivery whose
worker died while sending is found by the sweeper: a template message goes out again under the
same client_msg_id (WeChat drops the duplicate); a customer-service message has no such key, so
its outcome is recorded as unknown rather than risking a second message.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from storage import audit
from storage.db import NEW_NOTICES, Database
from storage.models import Community, Delivery, Notice, PartyMember, Resident
from storage.rejections import Rejected

UNKNOWN_OUTCOME = "outcome unknown: the worker stopped while sending"


@dataclass(frozen=True)
class Audience:
    """Who an announcement goes to: everyone, one community, or the bound party members."""

    kind: str                      # everyone | community | party
    community_id: int | None = None

    def describe(self, session: Session) -> str:
        if self.kind == "community":
            return session.get(Community, self.community_id).name
        return {"everyone": "全体居民", "party": "全体党员"}[self.kind]


class AnnouncementRejected(Rejected):
    """The announcement cannot be sent as given."""

    domain = "announcement"


@dataclass(frozen=True)
class DeliveryTask:
    id: int
    notice_id: int
    kind: str
    openid: str
    title: str
    body: str
    url: str
    attempts: int
    channel: str                   # custom | template | mass
    batch_key: str | None = None   # mass sends: the clientmsgid shared by the batch


@dataclass(frozen=True)
class Outcome:
    state: str                     # sent | failed | retry | skipped
    channel: str | None = None
    errcode: int | None = None
    errmsg: str | None = None
    msgid: str | None = None
    retry_at: datetime | None = None


@dataclass
class Report:
    notice_id: int
    title: str
    audience: str
    recipients: int
    sent: int
    pending: int
    failed: dict[str, int] = field(default_factory=dict)   # errcode, or the reason when there is none → count
    skipped: int = 0
    mass_jobs: dict[str, dict] = field(default_factory=dict)  # WeChat's own counts per mass send (MASSSENDJOBFINISH)


def _recipients(session: Session, audience: Audience) -> list[tuple[int, str]]:
    query = select(Resident.id, Resident.openid).where(Resident.subscribed.is_(True))
    if audience.kind == "community":
        query = query.where(Resident.community_id == audience.community_id)
    elif audience.kind == "party":
        query = query.join(PartyMember, PartyMember.openid == Resident.openid)
    elif audience.kind != "everyone":
        raise AnnouncementRejected("unknown_audience", field="audience", kind=audience.kind)
    return [(rid, openid) for rid, openid in session.execute(query.order_by(Resident.id))]


def count_audience(db: Database, audience: Audience) -> int:
    with db.transaction(read_only=True) as s:
        return len(_recipients(s, audience))


KINDS = ("announcement", "opinion_update", "event_update", "event_reminder", "event_alert")


def new_notices(session: Session) -> tuple[int, ...]:
    return tuple(session.info.get(NEW_NOTICES, ()))


def notify(session: Session, kind: str, title: str, body: str, recipients: Iterable[tuple[int, str]],
           created_by: str, now: datetime, send_at: datetime | None = None, url: str = "",
           audience: dict | None = None) -> int:
    """Write a notice and one pending delivery per recipient inside the caller's transaction."""
    recipients = list(recipients)
    notice = Notice(kind=kind, title=title, body=body, url=url, audience=audience or {}, created_by=created_by,
                    created_at=now, send_at=send_at or now, recipients=len(recipients), mass_results={})
    session.add(notice)
    session.flush()
    due = send_at or now
    if due <= now:  # queued by Database.on_commit's callbacks after the commit (scheduled ones wait for the sweeper)
        session.info.setdefault(NEW_NOTICES, []).append(notice.id)
    if recipients:
        session.execute(Delivery.__table__.insert(), [
            {"notice_id": notice.id, "resident_id": rid, "openid": openid, "state": "pending", "attempts": 0,
             "next_attempt_at": due, "updated_at": now} for rid, openid in recipients])
    return notice.id


LATE_REPLY = "late_reply"   # the bot's own answer, sent after the reply deadline
DIRECT = "direct"           # a message staff wrote to one resident
UNHEADED = (LATE_REPLY, DIRECT)   # kinds that read as written, without a 【title】 heading


def _resident_id(s: Session, openid: str) -> int | None:
    return s.scalar(select(Resident.id).where(Resident.openid == openid))


def reply_later(db: Database, openid: str, text: str, now: datetime) -> int | None:
    """What the resident was promised ("结果稍后发给您") as a notice through the outbox: delivered,
    retried and paced like every other. None when nobody has that openid."""
    with db.transaction() as s:
        resident_id = _resident_id(s, openid)
        if resident_id is None:
            return None
        return notify(s, LATE_REPLY, "回复", text, [(resident_id, openid)], audit.SYSTEM, now)


def message_resident(db: Database, openid: str, text: str, actor: str, now: datetime) -> int:
    """A message staff wrote to one resident (`nanhu send-text`), through the outbox like every notice."""
    with db.transaction() as s:
        resident_id = _resident_id(s, openid)
        if resident_id is None:
            raise LookupError(f"no resident with openid {openid}")
        notice_id = notify(s, DIRECT, "消息", text, [(resident_id, openid)], actor, now)
        audit.record(s, actor, "notice.direct", "notice", notice_id, at=now)
        return notice_id


SAME_ANNOUNCEMENT_WINDOW = timedelta(minutes=10)


def announce(db: Database, title: str, body: str, audience: Audience, actor: str, now: datetime,
             send_at: datetime | None = None) -> int:
    """A staff announcement's notice id (see `announce_once`)."""
    return announce_once(db, title, body, audience, actor, now, send_at)[0]


def announce_once(db: Database, title: str, body: str, audience: Audience, actor: str, now: datetime,
                  send_at: datetime | None = None) -> tuple[int, bool]:
    """A staff announcement: the notice, its deliveries and the audit entry in one transaction; (id, True).
    The same announcement again from the same staff member (same title, body, audience and time) within
    SAME_ANNOUNCEMENT_WINDOW is the one already made, (id, False): a double-click or a resubmitted form
    sends nothing twice."""
    title, body = title.strip(), body.strip()
    if not title or len(title) > 64:
        raise AnnouncementRejected("title", field="title")
    if not body or len(body) > 1000:
        raise AnnouncementRejected("body", field="body")
    if send_at is not None and send_at < now - timedelta(minutes=1):
        raise AnnouncementRejected("time_passed", field="send_at")
    with db.transaction() as s:
        earlier = _same_announcement(s, title, body, audience, actor, now, send_at)
        if earlier is not None:
            return earlier, False
        recipients = _recipients(s, audience)
        if not recipients:
            raise AnnouncementRejected("nobody", field="audience")
        notice_id = notify(s, "announcement", title, body, recipients, actor, now, send_at,
                           audience={"kind": audience.kind, "community_id": audience.community_id,
                                     "label": audience.describe(s)})
        audit.record(s, actor, "announcement.create", "notice", notice_id, at=now, recipients=len(recipients),
                     audience=audience.kind, send_at=(send_at or now).isoformat())
        return notice_id, True


def _same_announcement(s: Session, title: str, body: str, audience: Audience, actor: str, now: datetime,
                       send_at: datetime | None) -> int | None:
    # one staff member's concurrent announcements one after the other, so that the second sees the first
    # (SQLite's single writer already does that)
    if s.bind.dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"announce:{actor}"})
    candidates = s.scalars(select(Notice).where(
        Notice.kind == "announcement", Notice.created_by == actor, Notice.title == title,
        Notice.created_at >= now - SAME_ANNOUNCEMENT_WINDOW).order_by(Notice.id.desc()))
    for notice in candidates:
        chosen = notice.audience or {}
        same_time = notice.send_at == (send_at or notice.created_at)
        if (notice.body == body and chosen.get("kind") == audience.kind
                and chosen.get("community_id") == audience.community_id and same_time):
            return notice.id
    return None


def due(db: Database, now: datetime, notice_id: int | None = None, requeue_after: timedelta | None = None,
        limit: int = 1000) -> list[int]:
    """Ids of pending deliveries whose time has come and that are not waiting in the queue already:
    never handed to it, or (with `requeue_after`) handed to it that long ago and still pending.
    Marks them as queued now."""
    deliveries = Delivery.__table__
    with db.transaction() as s:
        query = select(Delivery.id).where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
        if notice_id is not None:
            query = query.where(Delivery.notice_id == notice_id)
        if requeue_after is None:
            query = query.where(Delivery.enqueued_at.is_(None))
        else:
            query = query.where(or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at < now - requeue_after))
        ids = list(s.scalars(query.order_by(Delivery.id).limit(limit)))
        if ids:
            s.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(enqueued_at=now))
        return ids


def forget_queued(db: Database, ids: list[int]) -> None:
    """These never reached the queue after all: let the sweeper queue them."""
    deliveries = Delivery.__table__
    with db.transaction() as s:
        s.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(enqueued_at=None))


def claim(db: Database, delivery_ids: list[int], now: datetime, cs_window: timedelta,
          mass_threshold: int = 0, daily_cap: int = 0) -> list[DeliveryTask]:
    """Take due pending deliveries to `sending`, choosing each one's channel. Only rows this call
    moved are returned: a second run of the same job gets nothing to send.

    Channels: an announcement to at least `mass_threshold` residents (0: never) goes by mass send;
    otherwise a customer-service message inside the 48-hour window, a template message outside it.
    A mass batch is claimed whole, whatever ids the job was given, so that a resend under its
    clientmsgid always names the same residents."""
    deliveries = Delivery.__table__  # Core statements: no ORM bookkeeping on thousands of rows
    with db.transaction() as s:
        batch_keys = select(Delivery.batch_key).where(Delivery.id.in_(delivery_ids), Delivery.batch_key.is_not(None))
        rows = s.execute(
            select(Delivery.id, Delivery.openid, Delivery.attempts, Delivery.batch_key, Notice.id.label("notice_id"),
                   Notice.kind, Notice.title, Notice.body, Notice.url, Notice.recipients, Notice.audience,
                   Resident.last_interaction_at, Resident.refuses_templates, Resident.subscribed)
            .join(Notice, Notice.id == Delivery.notice_id)
            .join(Resident, Resident.id == Delivery.resident_id)
            .where(or_(Delivery.id.in_(delivery_ids), Delivery.batch_key.in_(batch_keys)),
                   Delivery.state == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.id)
        ).all()

        def channel_of(row) -> str:
            if row.batch_key or (mass_threshold and row.kind == "announcement" and row.recipients >= mass_threshold):
                return "mass"
            seen = row.last_interaction_at
            return "custom" if seen is not None and now - seen < cs_window else "template"

        channels = {row.id: channel_of(row) for row in rows}
        skip: dict[int, str] = {}
        if daily_cap:
            skip.update(_over_cap(s, rows, now, daily_cap))
        skip.update({row.id: REFUSES_TEMPLATES for row in rows
                     if channels[row.id] == "template" and row.refuses_templates and row.id not in skip})
        skip.update({row.id: UNFOLLOWED for row in rows
                     if not row.subscribed and not row.batch_key and row.id not in skip})
        skip.update({row_id: STALE_REMINDER for row_id in _stale_reminders(s, rows) if row_id not in skip})
        if skip:
            for reason in set(skip.values()):
                s.execute(update(deliveries)
                          .where(deliveries.c.id.in_([i for i, r in skip.items() if r == reason]),
                                 deliveries.c.state == "pending")
                          .values(state="skipped", errmsg=reason, updated_at=now))
        rows = [row for row in rows if row.id not in skip]

        # one clientmsgid per notice's new mass batch, random so that no two batches ever share one
        keys = {row.id: row.batch_key for row in rows}
        for notice_id in {row.notice_id for row in rows if channels[row.id] == "mass" and not row.batch_key}:
            key = f"nanhu-n{notice_id}-{uuid.uuid4().hex[:16]}"
            keys.update({row.id: key for row in rows
                         if row.notice_id == notice_id and channels[row.id] == "mass" and not row.batch_key})
        taken: set[int] = set()
        groups: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            groups.setdefault((channels[row.id], keys[row.id] or ""), []).append(row.id)
        for (channel, key), ids in groups.items():
            taken.update(s.scalars(update(deliveries)
                                   .where(deliveries.c.id.in_(ids), deliveries.c.state == "pending")
                                   .values(state="sending", channel=channel, batch_key=key or None,
                                           attempts=deliveries.c.attempts + 1, updated_at=now, sending_since=None)
                                   .returning(deliveries.c.id)))
        return [DeliveryTask(r.id, r.notice_id, r.kind, r.openid, r.title, r.body, r.url, r.attempts + 1,
                             channels[r.id], keys[r.id]) for r in rows if r.id in taken]


CAP_REACHED = "announcement cap for the day reached"
UNFOLLOWED = "resident has unfollowed"
STALE_REMINDER = "event moved or registration cancelled since the reminder was planned"


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _stale_reminders(s: Session, rows: list) -> list[int]:
    """Reminders whose event has moved or whose registration is no longer confirmed (a last check at
    sending time: the change that planned them skips them too, unless they were already in flight)."""
    from storage.models import Event, Registration

    wanted = {row.id: row.audience for row in rows if row.kind == "event_reminder" and row.audience}
    if not wanted:
        return []
    ids = {a.get("registration_id") for a in wanted.values()}
    current = {r.id: (r.status, utc_iso(e.starts_at), e.status) for r, e in s.execute(
        select(Registration, Event).join(Event, Event.id == Registration.event_id).where(Registration.id.in_(ids)))}
    stale = []
    for row_id, audience in wanted.items():
        now_is = current.get(audience.get("registration_id"))
        if now_is is None or now_is[0] != "confirmed" or now_is[2] != "open" or now_is[1] != audience.get("starts_at"):
            stale.append(row_id)
    return stale
REFUSES_TEMPLATES = "resident refuses template messages (43101)"


def _over_cap(s: Session, rows: list, now: datetime, cap: int) -> dict[int, str]:
    """Announcements that would take a resident past `cap` in 24 hours, counting those already sent,
    those being sent, and those earlier in this batch."""
    openids = {row.openid for row in rows if row.kind == "announcement"}
    if not openids:
        return {}
    # two workers claiming announcements for the same residents count one after the other
    # (PostgreSQL row locks; SQLite's BEGIN IMMEDIATE already serialises whole claims)
    s.execute(select(Resident.id).where(Resident.openid.in_(openids)).order_by(Resident.id).with_for_update())
    since = now - timedelta(hours=24)
    counted = dict(s.execute(
        select(Delivery.openid, func.count()).join(Notice, Notice.id == Delivery.notice_id)
        .where(Delivery.openid.in_(openids), Notice.kind == "announcement",
               or_(and_(Delivery.state == "sent", Delivery.sent_at >= since),
                   and_(Delivery.state == "sending", Delivery.updated_at >= since)))
        .group_by(Delivery.openid)).all())
    over = {}
    for row in rows:
        if row.kind != "announcement":
            continue
        if counted.get(row.openid, 0) >= cap:
            over[row.id] = CAP_REACHED
        else:
            counted[row.openid] = counted.get(row.openid, 0) + 1
    return over


def start_sending(db: Database, tasks: list[DeliveryTask], now: datetime) -> bool:
    """Just before the HTTP call: confirm these deliveries are still ours (not recovered and re-claimed
    while they waited for a free sender or a rate-limit token) and note that sending has begun."""
    deliveries = Delivery.__table__
    with db.transaction() as s:
        mine = s.scalars(update(deliveries)
                         .where(deliveries.c.id.in_([t.id for t in tasks]), deliveries.c.state == "sending",
                                deliveries.c.attempts == tasks[0].attempts)
                         .values(sending_since=now, updated_at=now)
                         .returning(deliveries.c.id)).all()
        return len(mine) == len(tasks)


def finish(db: Database, tasks: DeliveryTask | list[DeliveryTask], outcome: Outcome, now: datetime) -> None:
    """Record how a delivery (or a mass batch) went; only rows still ours (same attempt) change."""
    tasks = tasks if isinstance(tasks, list) else [tasks]
    values: dict = {"updated_at": now, "errcode": outcome.errcode, "errmsg": (outcome.errmsg or None)}
    if outcome.channel:
        values["channel"] = outcome.channel
    if outcome.state == "sent":
        values.update(state="sent", sent_at=now, msgid=outcome.msgid, errcode=None, errmsg=None)
    elif outcome.state == "retry":
        # the retry is scheduled for its time; the sweeper only looks again well after that
        values.update(state="pending", next_attempt_at=outcome.retry_at or now, enqueued_at=outcome.retry_at or now)
    else:
        values.update(state=outcome.state)
    deliveries = Delivery.__table__
    with db.transaction() as s:
        s.execute(update(deliveries).where(deliveries.c.id.in_([t.id for t in tasks]),
                                           deliveries.c.state == "sending",
                                           deliveries.c.attempts == tasks[0].attempts)
                  .values(**values))


def backoff(attempt: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


def recover_stale(db: Database, now: datetime, older_than: timedelta) -> list[int]:
    """Deliveries left `sending` by a worker that died. Never started: back to pending. Started:
    template and mass ones back to pending (resent under the same client_msg_id / clientmsgid, which
    WeChat recognises), customer-service ones recorded as outcome unknown. Returns the ids to resend."""
    cutoff = now - older_than
    stale = and_(Delivery.state == "sending", Delivery.updated_at < cutoff)
    with db.transaction() as s:
        resend = list(s.scalars(update(Delivery)
                                .where(stale, or_(Delivery.sending_since.is_(None),
                                                  Delivery.channel.in_(("template", "mass"))))
                                .values(state="pending", next_attempt_at=now, updated_at=now, enqueued_at=None)
                                .returning(Delivery.id)))
        s.execute(update(Delivery).where(stale, Delivery.channel == "custom")
                  .values(state="failed", errcode=None, errmsg=UNKNOWN_OUTCOME, updated_at=now))
    return resend


def report(db: Database, notice_id: int) -> Report:
    with db.transaction(read_only=True) as s:
        notice = s.get(Notice, notice_id)
        if notice is None:
            raise LookupError(f"no notice {notice_id}")
        counts = dict(s.execute(select(Delivery.state, func.count()).where(Delivery.notice_id == notice_id)
                                .group_by(Delivery.state)).all())
        failed: dict[str, int] = {}
        for code, msg, n in s.execute(
                select(Delivery.errcode, Delivery.errmsg, func.count())
                .where(Delivery.notice_id == notice_id, Delivery.state == "failed")
                .group_by(Delivery.errcode, Delivery.errmsg)).all():
            reason = str(code) if code is not None else (msg or "unknown")  # errmsg varies under one errcode
            failed[reason] = failed.get(reason, 0) + n
        return Report(notice_id, notice.title, (notice.audience or {}).get("label", ""), sum(counts.values()),
                      counts.get("sent", 0), counts.get("pending", 0) + counts.get("sending", 0), failed,
                      counts.get("skipped", 0), dict(notice.mass_results or {}))


def template_job_finished(db: Database, msgid: str, status: str, now: datetime) -> bool:
    """WeChat's TEMPLATESENDJOBFINISH report: a template message that was accepted may still fail
    (the resident blocked it, a system failure). True when it matched one of our deliveries."""
    if not msgid:
        return False
    values: dict = {"updated_at": now}
    if status != "success":
        values.update(state="failed", errmsg=status[:256])
    with db.transaction() as s:
        return s.execute(update(Delivery).where(Delivery.msgid == msgid, Delivery.channel == "template")
                         .values(**values).returning(Delivery.id)).scalar() is not None


def mass_job_finished(db: Database, msg_id: str, counts: dict[str, int], now: datetime) -> bool:
    """WeChat's MASSSENDJOBFINISH report for one mass send: kept on its notice for the delivery report."""
    with db.transaction() as s:
        notice_id = s.scalar(select(Delivery.notice_id).where(Delivery.msgid == msg_id, Delivery.channel == "mass")
                             .limit(1))
        if notice_id is None:
            return False
        notice = s.get(Notice, notice_id, with_for_update=True)  # reports for many batches arrive at once
        notice.mass_results = {**(notice.mass_results or {}), msg_id: {**counts, "at": now.isoformat()}}
        return True


def latest_announcements(db: Database, limit: int = 3, community_id: int | None = None) -> list[int]:
    """The newest announcements; with `community_id`, only those sent to that community."""
    with db.transaction(read_only=True) as s:
        query = select(Notice.id, Notice.audience).where(Notice.kind == "announcement").order_by(Notice.id.desc())
        if community_id is None:
            return list(s.scalars(select(Notice.id).where(Notice.kind == "announcement")
                                  .order_by(Notice.id.desc()).limit(limit)))
        found = []
        for notice_id, audience in s.execute(query.limit(limit * 20)):  # the audience is JSON: filtered here
            if (audience or {}).get("kind") == "community" and (audience or {}).get("community_id") == community_id:
                found.append(notice_id)
        return found[:limit]


def audience_of(db: Database, notice_id: int) -> Audience | None:
    """Whom an announcement went to (None for a notice that is not an announcement)."""
    with db.transaction(read_only=True) as s:
        notice = s.get(Notice, notice_id)
        if notice is None or notice.kind != "announcement":
            return None
        given = notice.audience or {}
        return Audience(given.get("kind", "everyone"), given.get("community_id"))
