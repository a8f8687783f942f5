"""Staff: sub-district and community staff who run the system."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from storage import audit
from storage.audit import SYSTEM, staff_actor
from storage.db import Database
from storage.models import Staff
from storage.rejections import Rejected


class StaffNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StaffView:
    id: int
    username: str
    display_name: str
    role: str                  # admin | community
    community_id: int | None

    @property
    def community_scope(self) -> int | None:
        """The community this staff member acts for; None for sub-district admins (every community)."""
        return self.community_id if self.role == "community" else None


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


# --- accounts and logins (the admin web) ----------------------------------------------------------------

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10


class StaffRejected(Rejected):
    """A staff account change that cannot be made."""

    domain = "staff"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffRejected("password", field="password", length=MIN_PASSWORD)


def add(db: Database, username: str, display_name: str, password: str, role: str, community_id: int | None,
        actor: str, now: datetime) -> StaffView:
    username = username.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", username):
        raise StaffRejected("username", field="username")
    if role not in ("admin", "community"):
        raise StaffRejected("role", field="role")
    if role == "community" and community_id is None:
        raise StaffRejected("community_needed", field="community")
    _check_password(password)
    with db.transaction() as s:
        if s.scalar(select(Staff.id).where(Staff.username == username)):
            raise StaffRejected("username_taken", field="username", username=username)
        m = Staff(username=username, display_name=display_name.strip() or username, role=role,
                  community_id=community_id if role == "community" else None,
                  password_hash=generate_password_hash(password), active=True, created_at=now)
        s.add(m)
        s.flush()
        audit.record(s, actor, "staff.add", "staff", m.id, at=now, username=username, role=role)
        return _view(m)


def set_password(db: Database, username: str, password: str, actor: str, now: datetime) -> StaffView:
    """A new password; it also ends every open session and lifts a lockout."""
    _check_password(password)
    with db.transaction() as s:
        m = s.scalar(select(Staff).where(Staff.username == username))
        if m is None:
            raise StaffNotFound(username)
        m.password_hash = generate_password_hash(password)
        m.session_version += 1
        m.failed_logins, m.locked_until = 0, None
        audit.record(s, actor, "staff.password", "staff", m.id, at=now)
        return _view(m)


def end_sessions(db: Database, staff_id: int, session_version: int, now: datetime) -> bool:
    """Logging out: every session of this account ends (a copied cookie opens nothing after), on
    every device. False when `session_version` is already over (nothing to end)."""
    with db.transaction() as s:
        m = s.get(Staff, staff_id, with_for_update=True)
        if m is None or m.session_version != session_version:
            return False
        m.session_version += 1
        audit.record(s, staff_actor(m.username), "staff.logout", "staff", m.id, at=now)
        return True


def disable(db: Database, username: str, actor: str, now: datetime) -> StaffView:
    with db.transaction() as s:
        m = s.scalar(select(Staff).where(Staff.username == username))
        if m is None:
            raise StaffNotFound(username)
        m.active, m.openid = False, None
        m.session_version += 1
        audit.record(s, actor, "staff.disable", "staff", m.id, at=now)
        return _view(m)


class LoginOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"     # the username or the password
    LOCKED = "locked"   # until `locked_until`


@dataclass(frozen=True)
class Login:
    outcome: LoginOutcome
    staff: StaffView | None = None
    session_version: int = 0
    locked_until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", LoginOutcome(self.outcome))


def authenticate(db: Database, username: str, password: str, now: datetime) -> Login:
    """Check a login. After MAX_FAILED_LOGINS wrong passwords the account is locked for LOCKOUT; an
    unknown username gets the same answer as a wrong password."""
    with db.transaction() as s:
        m = s.scalar(select(Staff).where(Staff.username == username.strip()).with_for_update())
        if m is None or not m.active:
            check_password_hash(_DUMMY_HASH, password)  # the same work as a real check: no timing hint
            return Login("wrong")
        if m.locked_until is not None and m.locked_until > now:
            check_password_hash(_DUMMY_HASH, password)  # as slow as any other answer
            return Login("locked", locked_until=m.locked_until)
        if not check_password_hash(m.password_hash, password):
            m.failed_logins += 1
            if m.failed_logins >= MAX_FAILED_LOGINS:
                m.locked_until, m.failed_logins = now + LOCKOUT, 0
                audit.record(s, SYSTEM, "staff.locked", "staff", m.id, at=now)
                return Login("locked", locked_until=m.locked_until)
            return Login("wrong")
        m.failed_logins, m.locked_until, m.last_login_at = 0, None, now
        audit.record(s, staff_actor(m.username), "staff.login", "staff", m.id, at=now)
        return Login("ok", _view(m), m.session_version)


def for_session(db: Database, staff_id: int, session_version: int) -> StaffView | None:
    """The staff member a session belongs to, while it is still valid (active, same password)."""
    with db.transaction(read_only=True) as s:
        m = s.get(Staff, staff_id)
        if m is None or not m.active or m.session_version != session_version:
            return None
        return _view(m)


_DUMMY_HASH = generate_password_hash("not a real password, only for equal timing")
