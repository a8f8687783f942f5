"""Events residents sign up for (after Decidim's meeting registrations): places taken under the event's
row lock, a waitlist promoted in order, a check-in code per registration, reminders tied to the start
time, and staff told as the event fills."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update

from storage import audit, notices
from storage.db import Database
from storage.event_states import ACTIVE_REGISTRATION, EVENT
from storage.models import Community, Delivery, Event, Registration, Resident, Staff
from storage.notices import utc_iso
from storage.rejections import Rejected
from storage.residents import _ensure as ensure_resident

ALERT_PERCENTS = (50, 80, 100)
CHECK_IN_WINDOW = timedelta(hours=12)  # a code is taken at the door from this long before the start to after the end
SKIPPED_STALE = "event moved, cancelled or registration cancelled"


class EventRejected(Rejected):
    """Staff input that cannot become (or change) an event."""

    domain = "event"


class EventNotFound(LookupError):
    pass


@dataclass(frozen=True)
class EventSpec:
    title: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    place: str = ""
    description: str = ""
    community_id: int | None = None       # None: the whole sub-district
    max_per_registration: int = 4
    signup_deadline: datetime | None = None
    waitlist: bool = True
    reminder_hours: int = 24              # 0: no reminder
    audience: str = "everyone"            # everyone | party


@dataclass(frozen=True)
class EventView:
    id: int
    title: str
    place: str
    starts_at: datetime
    community_name: str | None
    places_left: int
    capacity: int = 0
    ends_at: datetime | None = None
    status: str = "open"
    max_per_registration: int = 4
    signup_deadline: datetime | None = None
    waitlist: bool = True
    description: str = ""
    reminder_hours: int = 24
    community_id: int | None = None
    waiting: int = 0


@dataclass(frozen=True)
class RegistrationView:
    id: int
    event: EventView
    head_count: int
    status: str                 # confirmed | waitlisted | cancelled
    code: str
    position: int | None        # on the waitlist, 1 = next
    checked_in_at: datetime | None = None
    created_at: datetime | None = None
    phone: str | None = None


class SignupOutcome(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    ALREADY = "already"
    FULL = "full"                # the waitlist is offered: `position` is where they would stand
    NO_ROOM = "no_room"          # full, and no waitlist
    CANCELLED = "cancelled"      # the event is
    STARTED = "started"
    DEADLINE = "deadline"
    TOO_MANY = "too_many"
    TOO_FEW = "too_few"
    NOT_FOR_YOU = "not_for_you"  # a party members' event


@dataclass(frozen=True)
class SignupResult:
    """What happened to a sign-up."""

    outcome: SignupOutcome
    event: EventView
    registration: RegistrationView | None = None
    position: int | None = None
    notices: tuple[int, ...] = ()     # written now (staff alerts), for the caller to hand to the relay

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", SignupOutcome(self.outcome))


def _check(spec: EventSpec, now: datetime) -> EventSpec:
    title = spec.title.strip()
    if not 1 <= len(title) <= 128:
        raise EventRejected("title", field="title")
    if spec.ends_at <= spec.starts_at:
        raise EventRejected("end_before_start", field="end")
    if spec.starts_at <= now:
        raise EventRejected("start_in_past", field="start")
    if not 1 <= spec.capacity <= 100000:
        raise EventRejected("capacity", field="capacity")
    if not 1 <= spec.max_per_registration <= 50:
        raise EventRejected("max_per_registration", field="max_per_registration")
    if spec.signup_deadline is not None and spec.signup_deadline > spec.starts_at:
        raise EventRejected("deadline_after_start", field="deadline")
    if not 0 <= spec.reminder_hours <= 24 * 14:
        raise EventRejected("reminder_hours", field="reminder_hours")
    if spec.audience not in ("everyone", "party"):
        raise EventRejected("audience", field="audience")
    if len(spec.place) > 128:
        raise EventRejected("place", field="place")
    return replace(spec, title=title, place=spec.place.strip(), description=spec.description.strip())


def _view(s, e: Event) -> EventView:
    name = s.scalar(select(Community.name).where(Community.id == e.community_id)) if e.community_id else None
    waiting = s.scalar(select(func.count()).select_from(Registration)
                       .where(Registration.event_id == e.id, Registration.status == "waitlisted")) or 0
    return EventView(e.id, e.title, e.place, e.starts_at, name, max(0, e.capacity - e.places_taken), e.capacity,
                     e.ends_at, e.status, min(e.max_per_registration, e.capacity), e.signup_deadline, e.waitlist,
                     e.description, e.reminder_hours, e.community_id, waiting)


def _event(s, event_id: int, lock: bool = False) -> Event:
    query = select(Event).where(Event.id == event_id)
    event = s.scalar(query.with_for_update() if lock else query)
    if event is None:
        raise EventNotFound(f"no event {event_id}")
    return event


# --- staff: create, move, cancel --------------------------------------------------------------------

def create(db: Database, spec: EventSpec, actor: str, now: datetime) -> EventView:
    spec = _check(spec, now)
    with db.transaction() as s:
        event = Event(title=spec.title, description=spec.description, community_id=spec.community_id,
                      place=spec.place, starts_at=spec.starts_at, ends_at=spec.ends_at,
                      signup_deadline=spec.signup_deadline, capacity=spec.capacity,
                      max_per_registration=spec.max_per_registration, places_taken=0, status="open",
                      waitlist=spec.waitlist, reminder_hours=spec.reminder_hours, audience=spec.audience,
                      alerted_percent=0, created_at=now, updated_at=now, created_by=actor)
        s.add(event)
        s.flush()
        audit.record(s, actor, "event.create", "event", event.id, at=now, title=spec.title,
                     capacity=spec.capacity, community_id=spec.community_id)
        return _view(s, event)


def reschedule(db: Database, event_id: int, starts_at: datetime, ends_at: datetime, actor: str, now: datetime,
               tz: ZoneInfo, note: str = "") -> EventView:
    """Move an event: every registrant is told, and reminders follow the new start (none stays stale)."""
    with db.transaction() as s:
        event = _event(s, event_id, lock=True)
        if not EVENT.is_open(event.status):
            raise EventRejected("not_open", event_id=event_id, status=event.status)
        _check(EventSpec(event.title, starts_at, ends_at, event.capacity,
                         max_per_registration=event.max_per_registration), now)
        before = event.starts_at
        if event.signup_deadline is not None:
            event.signup_deadline = min(event.signup_deadline + (starts_at - before), starts_at)
        event.starts_at, event.ends_at, event.updated_at = starts_at, ends_at, now
        regs = _active(s, event.id)
        for reg in regs:
            _drop_reminder(s, reg, now)
            if reg.status == "confirmed":
                _plan_reminder(s, event, reg, now, tz)
        text = (f"您报名的活动「{event.title}」时间有变：\n原定 {_local(before, tz)}\n改为 {_local(starts_at, tz)}"
                + (f"\n说明：{note.strip()}" if note.strip() else "") + "\n不能参加的话，发「取消报名」即可。")
        _tell(s, [r.resident_id for r in regs], "活动时间变更", text, now)
        audit.record(s, actor, "event.reschedule", "event", event.id, at=now, before=before.isoformat(),
                     after=starts_at.isoformat(), registrants=len(regs))
        return _view(s, event)


def cancel_event(db: Database, event_id: int, actor: str, now: datetime, reason: str = "") -> EventView:
    """Cancel an event: every registrant is told and no reminder goes out."""
    with db.transaction() as s:
        event = _event(s, event_id, lock=True)
        if event.status == "cancelled":
            raise EventRejected("already_cancelled", event_id=event_id)
        if event.ends_at <= now:
            raise EventRejected("already_ended", event_id=event_id)
        event.status, event.updated_at = "cancelled", now
        regs = _active(s, event.id)
        for reg in regs:
            _drop_reminder(s, reg, now)
        text = (f"很抱歉，您报名的活动「{event.title}」已取消。"
                + (f"\n原因：{reason.strip()}" if reason.strip() else ""))
        _tell(s, [r.resident_id for r in regs], "活动取消通知", text, now)
        audit.record(s, actor, "event.cancel", "event", event.id, at=now, reason=reason.strip(), registrants=len(regs))
        return _view(s, event)


# --- helpers inside a transaction -------------------------------------------------------------------

def _local(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _active(s, event_id: int) -> list[Registration]:
    return list(s.scalars(select(Registration).where(Registration.event_id == event_id,
                                                     Registration.status.in_(("confirmed", "waitlisted")))
                          .order_by(Registration.id)))


def _tell(s, resident_ids: list[int], title: str, text: str, now: datetime) -> None:
    """A notice to these residents (those still following us), in the caller's transaction (the outbox)."""
    if not resident_ids:
        return
    rows = s.execute(select(Resident.id, Resident.openid).where(Resident.id.in_(set(resident_ids)),
                                                              Resident.subscribed.is_(True))).all()
    if rows:
        notices.notify(s, "event_update", title, text, [(r.id, r.openid) for r in rows], "system", now)


def _plan_reminder(s, event: Event, reg: Registration, now: datetime, tz: ZoneInfo) -> None:
    """A reminder in the outbox for `reminder_hours` before the start; none when that time has passed."""
    if not event.reminder_hours:
        return
    send_at = event.starts_at - timedelta(hours=event.reminder_hours)
    resident = s.get(Resident, reg.resident_id)
    if send_at <= now or resident is None or not resident.subscribed:
        return
    text = (f"活动提醒：您报名的「{event.title}」将于 {_local(event.starts_at, tz)} 开始"
            + (f"，地点：{event.place}" if event.place else "") + f"。\n签到码：{reg.code}（{reg.head_count} 人）")
    notice_id = notices.notify(s, "event_reminder", "活动提醒", text, [(resident.id, resident.openid)], "system",
                               now, send_at=send_at, audience={"event_id": event.id, "registration_id": reg.id,
                                                               "starts_at": utc_iso(event.starts_at)})
    reg.reminder_delivery_id = s.scalar(select(Delivery.id).where(Delivery.notice_id == notice_id))


def _drop_reminder(s, reg: Registration, now: datetime) -> None:
    """A planned reminder that must not go out: it is skipped if it has not started sending."""
    if reg.reminder_delivery_id is not None:
        s.execute(update(Delivery).where(Delivery.id == reg.reminder_delivery_id, Delivery.state == "pending")
                  .values(state="skipped", errmsg=SKIPPED_STALE, updated_at=now))
        reg.reminder_delivery_id = None


def _new_code(s, now: datetime) -> str:
    """Six digits no registration of an event still to come (or just over) has: a code at the door
    names one registration, whichever event staff are checking in."""
    taken = set(s.scalars(select(Registration.code).join(Event, Event.id == Registration.event_id)
                          .where(Event.ends_at >= now - CHECK_IN_WINDOW)))
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        if code not in taken:
            return code


def _position(s, reg: Registration) -> int | None:
    if reg.status != "waitlisted":
        return None
    ahead = s.scalar(select(func.count()).select_from(Registration).where(
        Registration.event_id == reg.event_id, Registration.status == "waitlisted",
        or_(Registration.waiting_since < reg.waiting_since,
            (Registration.waiting_since == reg.waiting_since) & (Registration.id < reg.id)))) or 0
    return ahead + 1


def _reg_view(s, reg: Registration, event: Event | EventView | None = None) -> RegistrationView:
    event = event or s.get(Event, reg.event_id)
    view = event if isinstance(event, EventView) else _view(s, event)
    return RegistrationView(reg.id, view, reg.head_count, reg.status, reg.code, _position(s, reg),
                            reg.checked_in_at, reg.created_at, reg.phone)


def _confirm(s, event: Event, reg: Registration, now: datetime, tz: ZoneInfo) -> None:
    reg.status, reg.confirmed_at, reg.waiting_since = "confirmed", now, None
    event.places_taken += reg.head_count
    _plan_reminder(s, event, reg, now, tz)


def _alert_staff(s, event: Event, now: datetime) -> None:
    """Tell staff once each time the event passes 50%, 80% and 100% of its places."""
    percent = event.places_taken * 100 // event.capacity
    crossed = [p for p in ALERT_PERCENTS if event.alerted_percent < p <= percent]
    if not crossed:
        return
    event.alerted_percent = crossed[-1]
    staff_openids = s.scalars(select(Staff.openid).where(
        Staff.active.is_(True), Staff.openid.is_not(None),
        or_(Staff.role == "admin", Staff.community_id == event.community_id) if event.community_id
        else Staff.role == "admin"))
    recipients = [(r.id, r.openid) for r in (ensure_resident(s, openid, now) for openid in staff_openids)]
    if recipients:
        text = (f"「{event.title}」报名已达 {crossed[-1]}%：{event.places_taken}/{event.capacity} 个名额"
                + ("，已满。" if crossed[-1] == 100 else "。"))
        notices.notify(s, "event_alert", "活动报名进度", text, recipients, "system", now,
                       audience={"event_id": event.id, "percent": crossed[-1]})


# --- residents: sign up, cancel, list ---------------------------------------------------------------

def register(db: Database, event_id: int, resident_id: int, head_count: int, now: datetime, tz: ZoneInfo, *,
             join_waitlist: bool = False, is_party_member: bool = False) -> SignupResult:
    """Sign a resident up for `head_count` places. Under the event's row lock, so that concurrent
    sign-ups never take more places than there are. A full event offers its waitlist (`full`, with
    the position they would have) unless `join_waitlist`."""
    with db.transaction() as s:
        event = _event(s, event_id, lock=True)
        view = _view(s, event)
        reg = s.scalar(select(Registration).where(Registration.event_id == event.id,
                                                  Registration.resident_id == resident_id))
        if not EVENT.is_open(event.status):
            return SignupResult("cancelled", view)
        if reg is not None and reg.status in ACTIVE_REGISTRATION:
            return SignupResult("already", view, _reg_view(s, reg, event))
        refusal = ("started" if event.starts_at <= now
                   else "deadline" if event.signup_deadline is not None and event.signup_deadline <= now
                   else "not_for_you" if event.audience == "party" and not is_party_member
                   else "too_few" if head_count < 1
                   else "too_many" if head_count > min(event.max_per_registration, event.capacity) else None)
        if refusal:
            return SignupResult(refusal, view)
        # freed places always go first to the waiting registrations that fit (_promote), so what room
        # is left fits none of them: a new sign-up that fits takes it without jumping the queue
        room = event.capacity - event.places_taken
        if head_count > room:
            if not event.waitlist:
                return SignupResult("no_room", view)
            if not join_waitlist:
                return SignupResult("full", view, position=view.waiting + 1)
        code = _new_code(s, now)
        if reg is None:
            reg = Registration(event_id=event.id, resident_id=resident_id, created_at=now, head_count=head_count,
                               code=code, status="new")
            s.add(reg)
        reg.head_count, reg.code, reg.cancelled_at, reg.checked_in_at = head_count, code, None, None
        actor = audit.resident_actor(resident_id)
        if head_count <= room:
            reg.status = "confirmed"
            s.flush()
            _confirm(s, event, reg, now, tz)
            _alert_staff(s, event, now)
        else:
            reg.status, reg.waiting_since = "waitlisted", now
        s.flush()
        audit.record(s, actor, f"event.{reg.status}", "registration", reg.id, at=now, event_id=event.id,
                     head_count=head_count)
        return SignupResult(reg.status, _view(s, event), _reg_view(s, reg, event), notices=notices.new_notices(s))


def set_phone(db: Database, registration_id: int, resident_id: int, phone: str) -> bool:
    """The resident's contact number on their registration (shown only to staff)."""
    with db.transaction() as s:
        reg = s.get(Registration, registration_id)
        if reg is None or reg.resident_id != resident_id:
            return False
        reg.phone = phone
        return True


@dataclass(frozen=True)
class Cancellation:
    registration: RegistrationView
    promoted: tuple[RegistrationView, ...]
    notices: tuple[int, ...] = ()     # the promoted residents' and staff's, for the relay


def cancel_registration(db: Database, registration_id: int, resident_id: int, now: datetime,
                        tz: ZoneInfo) -> Cancellation | None:
    """The resident gives up their places (or their waitlist place). Freed places go to the oldest
    waiting registrations that fit, under the event's lock; each promoted resident is told."""
    with db.transaction() as s:
        reg = s.get(Registration, registration_id)
        if reg is None or reg.resident_id != resident_id:
            return None
        event = _event(s, reg.event_id, lock=True)
        s.refresh(reg)  # read again under the lock: a concurrent cancel may have come first
        if reg.status not in ACTIVE_REGISTRATION:
            return None
        was = reg.status
        reg.status, reg.cancelled_at = "cancelled", now
        _drop_reminder(s, reg, now)
        promoted: list[Registration] = []
        if was == "confirmed":
            event.places_taken -= reg.head_count
            if event.status == "open" and event.starts_at > now:
                promoted = _promote(s, event, now, tz)
        audit.record(s, audit.resident_actor(resident_id), "event.cancel_registration", "registration", reg.id,
                     at=now, event_id=event.id, was=was, promoted=[p.id for p in promoted])
        s.flush()
        return Cancellation(_reg_view(s, reg, event), tuple(_reg_view(s, p, event) for p in promoted),
                            notices.new_notices(s))


def _promote(s, event: Event, now: datetime, tz: ZoneInfo) -> list[Registration]:
    promoted = []
    waiting = s.scalars(select(Registration).where(Registration.event_id == event.id,
                                                   Registration.status == "waitlisted")
                        .order_by(Registration.waiting_since, Registration.id))
    for reg in waiting:
        if reg.head_count <= event.capacity - event.places_taken:
            _confirm(s, event, reg, now, tz)
            promoted.append(reg)
            _tell(s, [reg.resident_id], "候补成功",
                  f"好消息！您候补的活动「{event.title}」有名额了，已为您报名成功（{reg.head_count} 人）。\n"
                  f"时间：{_local(event.starts_at, tz)}" + (f"\n地点：{event.place}" if event.place else "")
                  + f"\n签到码：{reg.code}\n不能参加的话，发「取消报名」。", now)
    if promoted:
        _alert_staff(s, event, now)
    return promoted


def registrations_of(db: Database, resident_id: int, now: datetime) -> list[RegistrationView]:
    """The resident's sign-ups for events that have not ended, soonest first."""
    with db.transaction(read_only=True) as s:
        rows = s.execute(select(Registration, Event).join(Event, Event.id == Registration.event_id)
                         .where(Registration.resident_id == resident_id,
                                Registration.status.in_(("confirmed", "waitlisted")), Event.ends_at > now,
                                Event.status == "open")
                         .order_by(Event.starts_at, Event.id)).all()
        return [_reg_view(s, reg, event) for reg, event in rows]


def registration(db: Database, registration_id: int) -> RegistrationView | None:
    with db.transaction(read_only=True) as s:
        reg = s.get(Registration, registration_id)
        return _reg_view(s, reg) if reg else None


# --- listing and finding ----------------------------------------------------------------------------

def upcoming(db: Database, now: datetime, limit: int = 10) -> list[EventView]:
    """Open events that have not started and still take sign-ups, soonest first."""
    with db.transaction(read_only=True) as s:
        rows = s.scalars(select(Event).where(Event.status == "open", Event.starts_at > now,
                                             or_(Event.signup_deadline.is_(None), Event.signup_deadline > now))
                         .order_by(Event.starts_at, Event.id).limit(limit))
        return [_view(s, e) for e in rows]


def get(db: Database, event_id: int) -> EventView:
    with db.transaction(read_only=True) as s:
        return _view(s, _event(s, event_id))


def staff_list(db: Database, now: datetime, include_past: bool = False, limit: int = 50) -> list[EventView]:
    with db.transaction(read_only=True) as s:
        query = select(Event).order_by(Event.starts_at.desc(), Event.id.desc()).limit(limit)
        if not include_past:
            query = query.where(Event.ends_at > now)
        return [_view(s, e) for e in s.scalars(query)]


# --- at the door --------------------------------------------------------------------------------------

class CheckInOutcome(StrEnum):
    CHECKED_IN = "checked_in"
    ALREADY = "already"            # at `registration.checked_in_at`
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"        # the code fits registrations of several events today: name the event
    NOT_CONFIRMED = "not_confirmed"  # waitlisted or cancelled


@dataclass(frozen=True)
class CheckIn:
    outcome: CheckInOutcome
    registration: RegistrationView | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", CheckInOutcome(self.outcome))


def check_in(db: Database, code: str, actor: str, now: datetime, event_id: int | None = None,
             community_id: int | None = None) -> CheckIn:
    """Validate a registration's code at the door, once. Without `event_id` the code is looked up
    among events taking place around now; with `community_id` (community staff), among that
    community's events only: another community's code is unknown to them."""
    code = code.strip()
    with db.transaction() as s:
        query = (select(Registration, Event).join(Event, Event.id == Registration.event_id)
                 .where(Registration.code == code))
        if community_id is not None:
            query = query.where(Event.community_id == community_id)
        if event_id is not None:
            query = query.where(Event.id == event_id)
        else:
            query = query.where(Event.starts_at <= now + CHECK_IN_WINDOW, Event.ends_at >= now - CHECK_IN_WINDOW)
        found = s.execute(query.with_for_update(of=Registration)).all()
        if not found:
            return CheckIn("unknown")
        if len(found) > 1:
            return CheckIn("ambiguous")
        reg, event = found[0]
        if reg.status != "confirmed" or event.status != "open":
            return CheckIn("not_confirmed", _reg_view(s, reg, event))
        if reg.checked_in_at is not None:
            return CheckIn("already", _reg_view(s, reg, event))
        reg.checked_in_at, reg.checked_in_by = now, actor
        audit.record(s, actor, "event.check_in", "registration", reg.id, at=now, event_id=event.id)
        s.flush()
        return CheckIn("checked_in", _reg_view(s, reg, event))


@dataclass(frozen=True)
class Attendance:
    event: EventView
    registrations: tuple[RegistrationView, ...]

    @property
    def confirmed_people(self) -> int:
        return sum(r.head_count for r in self.registrations if r.status == "confirmed")

    @property
    def attended_people(self) -> int:
        return sum(r.head_count for r in self.registrations if r.checked_in_at is not None)


def attendance(db: Database, event_id: int) -> Attendance:
    """Every registration of an event, for staff (export, check-in figures)."""
    with db.transaction(read_only=True) as s:
        event = _event(s, event_id)
        regs = s.scalars(select(Registration).where(Registration.event_id == event_id).order_by(Registration.id))
        view = _view(s, event)
        return Attendance(view, tuple(_reg_view(s, r, view) for r in regs))


@dataclass(frozen=True)
class EventFigures:
    events: int
    registered_people: int      # confirmed places
    attended_people: int        # checked in at the door
    waiting_people: int

    @property
    def attendance_rate(self) -> float | None:
        return self.attended_people / self.registered_people if self.registered_people else None


def figures(db: Database, community_id: int | None = None, since: datetime | None = None,
            until: datetime | None = None) -> EventFigures:
    """Events starting in [since, until) (of one community, or all) and their sign-ups and attendance."""
    with db.transaction(read_only=True) as s:
        chosen = select(Event.id).where(Event.status == "open")
        if community_id is not None:
            chosen = chosen.where(Event.community_id == community_id)
        if since is not None:
            chosen = chosen.where(Event.starts_at >= since)
        if until is not None:
            chosen = chosen.where(Event.starts_at < until)
        count = s.scalar(select(func.count()).select_from(chosen.subquery())) or 0
        people = dict(s.execute(select(Registration.status, func.coalesce(func.sum(Registration.head_count), 0))
                                .where(Registration.event_id.in_(chosen)).group_by(Registration.status)).all())
        attended = s.scalar(select(func.coalesce(func.sum(Registration.head_count), 0)).where(
            Registration.event_id.in_(chosen), Registration.checked_in_at.is_not(None))) or 0
        return EventFigures(count, int(people.get("confirmed", 0)), int(attended), int(people.get("waitlisted", 0)))
