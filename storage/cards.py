"""Party members' identity cards (亮身份): what a card shows, whether a card link is genuine, revocation,
and the participation rate.

A card link carries (member_id, serial), signed by the bot (bot/links.py). It is genuine ("valid")
while the member is bound, the card is not revoked and the serial is the member's current one.
Staff revoke a card (`card_revoked_at`); reinstating it clears that and moves to the next serial, so
every link handed out before stays revoked.

Participation: among members bound by the end of a period, the share who showed their identity at
least once in it. Only shows of a valid card are recorded (a revoked card is not shown, so it is not
counted).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select

from storage import audit
from storage.db import Database
from storage.models import Community, IdentityShow, PartyMember

VALID, REVOKED, UNKNOWN = "valid", "revoked", "unknown"


class MemberNotFound(LookupError):
    pass


def mask_name(name: str) -> str:
    """The name as the public page shows it: 张*华, 李*, 欧**文 (first and last character kept)."""
    name = name.strip()
    if len(name) <= 1:
        return "*" if name else ""
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True)
class CardView:
    """What the card image shows. `revoked`: the card may not be shown (see the module's rules)."""

    member_id: int
    serial: int
    name: str
    role: str
    branch: str
    community_name: str | None
    commitment: str
    points: int
    joined_on: str | None          # YYYY-MM-DD from the roster
    bound_at: datetime | None
    revoked: bool

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    def member_since(self, tz: ZoneInfo) -> tuple[str, str]:
        """(label, date) for the card: the day they joined the party if the roster has it, else the
        day they bound their WeChat account."""
        if self.joined_on:
            try:
                d = datetime.strptime(self.joined_on, "%Y-%m-%d")
                return "入党时间", f"{d.year}年{d.month}月{d.day}日"
            except ValueError:
                return "入党时间", self.joined_on
        if self.bound_at:
            local = self.bound_at.astimezone(tz)
            return "认证时间", f"{local.year}年{local.month}月{local.day}日"
        return "认证时间", "—"


@dataclass(frozen=True)
class Verification:
    """What the public verification page may show: never the full name, phone or openid."""

    status: str                    # valid | revoked | unknown
    masked_name: str = ""
    branch: str = ""
    community_name: str | None = None
    revoked_at: datetime | None = None

    @property
    def valid(self) -> bool:
        return self.status == VALID


class Participation(NamedTuple):
    bound_members: int
    showed: int
    rate: float | None             # None when nobody is bound


def _status(m: PartyMember, serial: int) -> str:
    if serial > m.card_serial:
        return UNKNOWN             # never issued (a signed token from a database restored to an older state)
    if m.card_revoked_at is not None or serial < m.card_serial or m.openid is None:
        return REVOKED
    return VALID


def _community(s, m: PartyMember) -> str | None:
    return s.get(Community, m.community_id).name if m.community_id else None


def _card(s, m: PartyMember, serial: int) -> CardView:
    return CardView(m.id, serial, m.name, m.role, m.branch, _community(s, m), m.commitment or "", m.points or 0,
                    m.joined_on, m.bound_at, _status(m, serial) != VALID)


def show(db: Database, openid: str, now: datetime) -> CardView | None:
    """The card of the member bound to `openid`, at its current serial, recording the show (only when
    the card is valid). None if `openid` is not a bound member."""
    with db.transaction() as s:
        m = s.scalar(select(PartyMember).where(PartyMember.openid == openid))
        if m is None:
            return None
        view = _card(s, m, m.card_serial)
        if not view.revoked:
            s.add(IdentityShow(member_id=m.id, at=now))
        return view


def card(db: Database, member_id: int, serial: int) -> CardView | None:
    """The card a signed link names, for its image; `revoked` by the rules of `verify`. None if unknown."""
    with db.transaction(read_only=True) as s:
        m = s.get(PartyMember, member_id)
        if m is None or _status(m, serial) == UNKNOWN:
            return None
        return _card(s, m, serial)


def verify(db: Database, member_id: int, serial: int) -> Verification:
    with db.transaction(read_only=True) as s:
        m = s.get(PartyMember, member_id)
        if m is None:
            return Verification(UNKNOWN)
        status = _status(m, serial)
        if status == UNKNOWN:
            return Verification(UNKNOWN)
        return Verification(status, mask_name(m.name), m.branch, _community(s, m), m.card_revoked_at)


def _member(s, member_id: int) -> PartyMember:
    m = s.get(PartyMember, member_id, with_for_update=True)
    if m is None:
        raise MemberNotFound(f"no party member {member_id}")
    return m


def revoke(db: Database, member_id: int, actor: str, now: datetime, reason: str = "") -> bool:
    """Revoke the member's card: every link to it shows 已注销 and 亮身份 says so. False if it already was."""
    with db.transaction() as s:
        m = _member(s, member_id)
        if m.card_revoked_at is not None:
            return False
        m.card_revoked_at = now
        audit.record(s, actor, "party_member.card_revoke", "party_member", m.id, at=now, reason=reason,
                     serial=m.card_serial)
        return True


def reinstate(db: Database, member_id: int, actor: str, now: datetime) -> int | None:
    """Give a revoked member a card again, at the next serial (links issued before stay revoked).
    The new serial; None if the card was not revoked."""
    with db.transaction() as s:
        m = _member(s, member_id)
        if m.card_revoked_at is None:
            return None
        m.card_revoked_at = None
        m.card_serial += 1
        audit.record(s, actor, "party_member.card_reinstate", "party_member", m.id, at=now, serial=m.card_serial)
        return m.card_serial


def participation(db: Database, since: datetime | None, until: datetime | None,
                  community_id: int | None = None) -> Participation:
    """Members bound now and bound before `until` (the denominator), and how many of them showed their
    identity at least once in [since, until); either end may be open."""
    bound = select(PartyMember.id).where(PartyMember.openid.is_not(None))
    if community_id is not None:
        bound = bound.where(PartyMember.community_id == community_id)
    if until is not None:
        bound = bound.where(PartyMember.bound_at < until)
    shows = select(func.count(distinct(IdentityShow.member_id))).where(IdentityShow.member_id.in_(bound))
    if since is not None:
        shows = shows.where(IdentityShow.at >= since)
    if until is not None:
        shows = shows.where(IdentityShow.at < until)
    with db.transaction(read_only=True) as s:
        members = s.scalar(select(func.count()).select_from(bound.subquery())) or 0
        showed = s.scalar(shows) or 0
    return Participation(members, showed, showed / members if members else None)


@dataclass(frozen=True)
class MemberCard:
    """A roster line for staff: who has which card."""

    member_id: int
    name: str
    branch: str
    community_name: str | None
    bound: bool
    serial: int
    revoked_at: datetime | None
    last_shown_at: datetime | None


def roster(db: Database) -> list[MemberCard]:
    last = (select(IdentityShow.member_id, func.max(IdentityShow.at).label("at"))
            .group_by(IdentityShow.member_id).subquery())
    with db.transaction(read_only=True) as s:
        rows = s.execute(select(PartyMember, last.c.at).outerjoin(last, last.c.member_id == PartyMember.id)
                         .order_by(PartyMember.id)).all()
        return [MemberCard(m.id, m.name, m.branch, _community(s, m), m.openid is not None, m.card_serial,
                           m.card_revoked_at, at) for m, at in rows]
