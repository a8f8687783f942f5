"""Party members: the roster, one-time binding codes and the openid they are bound to."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storage import audit
from storage.db import Database
from storage.models import Community, PartyMember

CODE_VALIDITY = timedelta(days=30)


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def code_hash(code: str, secret: str) -> str:
    """Codes are stored only as a keyed hash, so the roster table does not hold usable codes."""
    return hmac.new(secret.encode(), code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class MemberView:
    id: int
    name: str
    branch: str
    community_name: str | None
    role: str
    points: int
    bound_at: datetime | None


def _view(s, m: PartyMember) -> MemberView:
    community = s.get(Community, m.community_id).name if m.community_id else None
    return MemberView(m.id, m.name, m.branch, community, m.role, m.points, m.bound_at)


def issue_code(db: Database, member_id: int, secret: str, now: datetime, actor: str, code: str | None = None) -> str:
    code = code or new_code()
    with db.transaction() as s:
        member = s.get(PartyMember, member_id)
        member.binding_code_hash = code_hash(code, secret)
        member.binding_code_expires_at = now + CODE_VALIDITY
        audit.record(s, actor, "party_member.issue_code", "party_member", member_id, at=now)
    return code


def member_for(db: Database, openid: str) -> MemberView | None:
    with db.transaction() as s:
        m = s.scalar(select(PartyMember).where(PartyMember.openid == openid))
        return _view(s, m) if m else None


def binding_paused(db: Database, failures: int, window_seconds: int, now: datetime) -> None:
    """The audit row that tells staff binding stopped for everyone: too many wrong codes in the window."""
    with db.transaction() as s:
        audit.record(s, audit.SYSTEM, "party_member.binding_paused", "party_member", "*", at=now,
                     wrong_codes=failures, window_seconds=window_seconds)


def bind(db: Database, openid: str, code: str, secret: str, now: datetime, actor: str) -> MemberView | None:
    """Bind `openid` to the member whose unexpired code this is; the code is then used up. None if no match."""
    digest = code_hash(code, secret)
    with db.transaction() as s:
        candidates = s.scalars(select(PartyMember).where(PartyMember.binding_code_hash.is_not(None),
                                                         PartyMember.openid.is_(None))).all()
        # compare every candidate in constant time rather than looking the hash up by value
        match = None
        for m in candidates:
            if hmac.compare_digest(m.binding_code_hash, digest) and m.binding_code_expires_at > now:
                match = m
        if match is None:
            return None
        match.openid = openid
        match.bound_at = now
        match.binding_code_hash = None
        match.binding_code_expires_at = None
        audit.record(s, actor, "party_member.bind", "party_member", match.id, at=now)
        s.flush()
        return _view(s, match)
