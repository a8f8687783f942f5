"""SQLAlchemy models. Names follow ../shared/GLOSSARY.md."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which has no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subscribe_scene: Mapped[str | None] = mapped_column(String(64))
    last_interaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refuses_templates: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # WeChat 43101
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # admin (whole sub-district) | community
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)  # staff who also use the chat
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # bumped: sessions end
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Every change of state of every domain object: who, what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(96))  # resident:<id> | staff:<username> | system
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))  # None: whole sub-district
    place: Mapped[str] = mapped_column(String(128), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signup_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    max_per_registration: Mapped[int] = mapped_column(Integer, default=2)
    places_taken: Mapped[int] = mapped_column(Integer, default=0)   # confirmed head counts, kept under the row lock
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    waitlist: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    reminder_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")  # 0: no reminder
    audience: Mapped[str] = mapped_column(String(16), default="everyone", server_default="everyone")  # | party
    alerted_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 50 / 80 / 100 told to staff
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(96), default="system", server_default="system")


class Registration(Base):
    """A resident's sign-up for an event: confirmed places, or a place on the waitlist."""

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    head_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # confirmed | waitlisted | cancelled
    code: Mapped[str] = mapped_column(String(6))      # the check-in code shown at the door
    phone: Mapped[str | None] = mapped_column(String(20))  # left by the resident, for staff only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the waitlist's order
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_by: Mapped[str | None] = mapped_column(String(96))
    reminder_delivery_id: Mapped[int | None] = mapped_column(Integer)  # the pending reminder in the outbox

    __table_args__ = (UniqueConstraint("event_id", "resident_id"), UniqueConstraint("event_id", "code"),
                      Index("ix_registrations_waitlist", "event_id", "status", "waiting_since"))


class Project(Base):
    """A community service project (党建项目 / 民生微实事) that party members claim."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32), default="党建项目")
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    beneficiaries: Mapped[str] = mapped_column(String(256), default="")
    beneficiaries_planned: Mapped[int] = mapped_column(Integer, default=0)
    budget_yuan: Mapped[float] = mapped_column(Float, default=0)
    claim_slots: Mapped[int] = mapped_column(Integer, default=1)
    claims_taken: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | in_progress | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beneficiaries_actual: Mapped[int | None] = mapped_column(Integer)   # counted when staff close it
    spent_yuan: Mapped[float | None] = mapped_column(Float)
    closing_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    starts_on: Mapped[str | None] = mapped_column(String(10))           # YYYY-MM-DD, the plan
    ends_on: Mapped[str | None] = mapped_column(String(10))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(96), default="system", server_default="system")


class Milestone(Base):
    """A dated step of a project's plan (公开: timeline)."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    title: Mapped[str] = mapped_column(String(128))
    due_on: Mapped[str] = mapped_column(String(10))                     # YYYY-MM-DD
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProjectClaim(Base):
    """A party member who took one of a project's places."""

    __tablename__ = "project_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("party_members.id"), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "member_id"),)


class ProgressReport(Base):
    __tablename__ = "progress_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("party_members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)


class ProjectRating(Base):
    """A resident's 1–5 evaluation of a completed project (公开评议)."""

    __tablename__ = "project_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "resident_id"),)


class PointsEntry(Base):
    """One line of a member's service credit: why the points were given (the card shows the total)."""

    __tablename__ = "points_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("party_members.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))   # claim | progress | completed
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PartyMember(Base):
    __tablename__ = "party_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    mobile: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    role: Mapped[str] = mapped_column(String(32), default="党员")
    binding_code_hash: Mapped[str | None] = mapped_column(String(64))
    binding_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points: Mapped[int] = mapped_column(Integer, default=0)
    joined_on: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD, as given on the roster
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    commitment: Mapped[str] = mapped_column(String(128), default="", server_default="")  # 服务承诺, on the card
    card_serial: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # in the card's signed token
    card_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # staff revoked the card: links show it

    __table_args__ = (UniqueConstraint("mobile", name="uq_party_members_mobile"),)


class IdentityShow(Base):
    """A member showed their identity (亮身份): the participation rate counts members with one in a period."""

    __tablename__ = "identity_shows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("party_members.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Opinion(Base):
    """社情民意: a resident's complaint, report or suggestion, known publicly by its ticket number."""

    __tablename__ = "opinions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(24), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))  # indexed with created_at, below
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), default="submitted")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assignee: Mapped[str | None] = mapped_column(String(64))   # the responsible department or person
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("opinions.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # satisfied | unsatisfied, the resident's word
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 满意吗 went to the resident
    category: Mapped[str] = mapped_column(String(16), default="其他", server_default="其他")
    department: Mapped[str | None] = mapped_column(String(64))  # responsible for the category (opinions.categories)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # created_at + the category's hours
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first staff step or reply
    location: Mapped[str] = mapped_column(String(256), default="", server_default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    photos: Mapped[list] = mapped_column(JSON, default=list)  # [{"media_id": ..., "url": ...}] from image messages
    public_name: Mapped[str | None] = mapped_column(String(32))  # how the resident agreed to be named; None: hidden

    __table_args__ = (Index("ix_opinions_resident_created", "resident_id", "created_at"),)


class OpinionEvent(Base):
    """One step of an opinion's timeline: a change of state, an assignment or a reply to the resident."""

    __tablename__ = "opinion_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinions.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(96))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")


class DailyCounter(Base):
    """Per-day sequences, e.g. the 001 of ticket number MY20261129001."""

    __tablename__ = "daily_counters"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class KeyValue(Base):
    """Short-lived shared state (dedup, conversations, locks, token) on PostgreSQL when no Redis is configured
    (on SQLite the store keeps the same table in a file of its own: `storage.kv.SqliteKV`)."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(191), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float | None] = mapped_column(Float, index=True)  # unix seconds; None: no expiry


class Notice(Base):
    """A message the system pushes to residents (通知), or a staff announcement (公告) to an audience."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))          # announcement | opinion_update | event_reminder | ...
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(512), default="")
    audience: Mapped[dict] = mapped_column(JSON, default=dict)  # how the recipients were chosen, for the report
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    mass_results: Mapped[dict] = mapped_column(JSON, default=dict)  # MASSSENDJOBFINISH counts by msg_id


class Delivery(Base):
    """One notice to one resident: the outbox row, written in the transaction that caused the notice."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    openid: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed | skipped
    channel: Mapped[str | None] = mapped_column(String(16))           # custom | template
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    errcode: Mapped[int | None] = mapped_column(Integer)
    errmsg: Mapped[str | None] = mapped_column(String(256))
    msgid: Mapped[str | None] = mapped_column(String(64), index=True)  # WeChat's id, for its job reports
    batch_key: Mapped[str | None] = mapped_column(String(64), index=True)  # a mass send's clientmsgid
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)     # last handed to the queue
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)   # the HTTP call was about to start

    __table_args__ = (UniqueConstraint("notice_id", "resident_id"),
                      Index("ix_deliveries_due", "state", "next_attempt_at"),
                      Index("ix_deliveries_recent", "openid", "sent_at"))
