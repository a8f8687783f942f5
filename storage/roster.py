"""The party roster as staff keep it: import members from CSV with a one-time binding code each, issue a new
code, unbind an openid, list members with masked phones. Plain codes leave this module only in return values;
the database holds their keyed hashes (storage.party.code_hash)."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import nlp
from storage import audit
from storage.db import Database
from storage.models import Community, PartyMember
from storage.party import CODE_VALIDITY, MemberView, code_hash, new_code
from storage.party import _view as member_view
from storage.rejections import Problem, Rejected

DEFAULT_ROLE = "党员"


class RosterError(Rejected):
    """A roster action staff asked for that cannot be done."""

    domain = "roster"


class MemberNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Column:
    key: str
    chinese: str
    aliases: tuple[str, ...]
    required: bool
    max_length: int | None   # None: the value's own check says what is wrong

    @property
    def label(self) -> str:
        return f"{self.key} ({self.chinese})"


COLUMNS = (
    Column("name", "姓名", ("姓名", "name"), True, 64),
    Column("mobile", "手机", ("手机", "手机号", "mobile"), True, None),
    Column("branch", "支部", ("支部", "党支部", "branch"), True, 64),
    Column("community", "社区", ("社区", "community"), True, 64),
    Column("role", "职务", ("职务", "role"), False, 32),
    Column("joined_on", "入党日期", ("入党日期", "joined_on"), False, None),
    Column("commitment", "服务承诺", ("服务承诺", "commitment"), False, 128),
)
_BY_ALIAS = {alias: column for column in COLUMNS for alias in column.aliases}


@dataclass(frozen=True)
class ImportedMember:
    id: int
    name: str
    branch: str
    community: str
    role: str
    masked_mobile: str
    code: str               # the only copy of the plain code
    expires_at: datetime


@dataclass(frozen=True)
class ImportReport:
    problems: list[Problem]              # non-empty: nothing was written
    created: list[ImportedMember]
    ignored_columns: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RosterEntry:
    id: int
    name: str
    branch: str
    community: str | None
    role: str
    masked_mobile: str
    bound: bool
    points: int
    code_expires_at: datetime | None     # an unused code's expiry; None when bound or never issued


@dataclass(frozen=True)
class _Line:
    number: int
    name: str
    mobile: str
    branch: str
    community: Community
    role: str
    joined_on: str | None
    commitment: str




# ---------------------------------------------------------------- import

def import_csv(db: Database, text: str, secret: str, now: datetime, actor: str) -> ImportReport:
    """Check every line of a roster CSV, then add all its members in one transaction, or none if any line
    has a problem. Each new member gets a fresh binding code valid for CODE_VALIDITY."""
    rows = _records(text.removeprefix("\ufeff"))
    if not rows:
        return ImportReport([Problem("roster.header_empty", 1)], [], [])
    header_line, header = rows[0]
    positions, problems, ignored = _header(header_line, header)
    if problems:
        return ImportReport(_report(problems), [], ignored)
    try:
        with db.transaction() as s:
            lines, problems = _check_lines(s, rows[1:], positions, len(header))
            if not lines and not problems:
                problems = [Problem("roster.no_members", header_line)]
            if problems:
                return ImportReport(_report(problems), [], ignored)
            created = _insert(s, lines, secret, now, actor)
    except IntegrityError:
        # another import added one of these mobiles between our check and our commit
        return ImportReport([Problem("roster.changed_meanwhile", header_line)], [], ignored)
    return ImportReport([], created, ignored)


def _records(text: str) -> list[tuple[int, list[str]]]:
    """The CSV's non-blank records, each with the file line it starts on (a quoted value may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, start = [], 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            records.append((start, cells))
        start = reader.line_num + 1
    return records


def _header(line: int, cells: list[str]) -> tuple[dict[str, int], list[Problem], list[str]]:
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        heading = nlp.normalize(cell.strip())
        column = _BY_ALIAS.get(heading)
        if column is None:
            if heading:
                ignored.append(cell.strip())
        elif column.key in positions:
            problems.append(Problem("roster.header_twice", line, label=column.label, chinese=column.chinese,
                                    first=positions[column.key] + 1, second=index + 1))
        else:
            positions[column.key] = index
    missing = [c for c in COLUMNS if c.required and c.key not in positions]
    problems += [Problem("roster.header_missing", line, label=c.label, chinese=c.chinese) for c in missing]
    if len(missing) == sum(c.required for c in COLUMNS):
        problems.append(Problem("roster.header_line", line))
    return positions, problems, ignored


def _check_lines(s: Session, rows: list[tuple[int, list[str]]], positions: dict[str, int], width: int
                 ) -> tuple[list[_Line], list[Problem]]:
    communities = _community_index(s)
    lines: list[_Line] = []
    problems: list[Problem] = []
    mobiles: list[tuple[int, str]] = []   # every well-formed mobile, even on a line with other problems
    for number, cells in rows:
        line, found = _check_line(number, cells, positions, width, communities)
        problems += found
        if line:
            lines.append(line)
        if mobile := _mobile(_cell(cells, positions["mobile"])):
            mobiles.append((number, mobile))
    problems += _check_mobiles(s, mobiles)
    return lines, problems


def _check_line(number: int, cells: list[str], positions: dict[str, int], width: int,
                communities: dict[str, Community]) -> tuple[_Line | None, list[Problem]]:
    if any(cell.strip() for cell in cells[width:]):
        return None, [Problem("roster.too_many_values", number)]
    values = {column.key: _cell(cells, positions.get(column.key)) for column in COLUMNS}
    problems = _field_problems(number, values)
    mobile = _mobile(values["mobile"])
    if values["mobile"] and mobile is None:
        problems.append(Problem("roster.bad_mobile", number, mobile=values["mobile"]))
    community = communities.get(values["community"].removesuffix("社区"))
    if values["community"] and community is None:
        problems.append(Problem("roster.unknown_community", number, community=values["community"]))
    joined_on = _date(values["joined_on"])
    if values["joined_on"] and joined_on is None:
        problems.append(Problem("roster.bad_date", number, value=values["joined_on"]))
    if problems or mobile is None or community is None:
        return None, problems
    return _Line(number, values["name"], mobile, values["branch"], community, values["role"] or DEFAULT_ROLE,
                 joined_on, values["commitment"]), []


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _field_problems(number: int, values: dict[str, str]) -> list[Problem]:
    problems = []
    for column in COLUMNS:
        value = values[column.key]
        if column.required and not value:
            problems.append(Problem("roster.empty", number, label=column.label, chinese=column.chinese))
        elif column.max_length and len(value) > column.max_length:
            problems.append(Problem("roster.too_long", number, label=column.label, chinese=column.chinese,
                                    limit=column.max_length))
    return problems


def _mobile(value: str) -> str | None:
    """The 11-digit number when the value is one mainland mobile and nothing else (nlp.mobile alone would pick
    a number out of a longer text)."""
    found = nlp.mobile(value) if value else None
    digits = re.sub(r"\D", "", nlp.normalize(value))
    return found if found and digits in (found, "86" + found) else None


_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _date(value: str) -> str | None:
    """YYYY-MM-DD; also 2021/7/1 as spreadsheets write it. None if it is not a real date."""
    m = _DATE.fullmatch(value)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3])).strftime("%Y-%m-%d")
    except ValueError:
        return None


def _community_index(s: Session) -> dict[str, Community]:
    """Communities by name without the 社区 suffix: 罗湖 and 罗湖社区 name the same one; fragments do not."""
    return {c.name.removesuffix("社区"): c for c in s.scalars(select(Community))}


def _check_mobiles(s: Session, mobiles: list[tuple[int, str]]) -> list[Problem]:
    on_roster = set(s.scalars(select(PartyMember.mobile).where(PartyMember.mobile.in_({m for _, m in mobiles}))))
    first_seen: dict[str, int] = {}
    problems: list[Problem] = []
    for number, mobile in mobiles:
        if mobile in first_seen:
            problems.append(Problem("roster.mobile_again", number, mobile=mobile, first=first_seen[mobile]))
        elif mobile in on_roster:
            problems.append(Problem("roster.mobile_on_roster", number, mobile=mobile))
        first_seen.setdefault(mobile, number)
    return problems


def _report(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line)


def _insert(s: Session, lines: list[_Line], secret: str, now: datetime, actor: str) -> list[ImportedMember]:
    taken = _live_code_hashes(s, now)
    expires_at = now + CODE_VALIDITY
    added = []
    for line in lines:
        code, digest = _unique_code(taken, secret)
        member = PartyMember(name=line.name, mobile=line.mobile, branch=line.branch, community_id=line.community.id,
                             role=line.role, joined_on=line.joined_on, commitment=line.commitment,
                             binding_code_hash=digest, binding_code_expires_at=expires_at)
        s.add(member)
        added.append((line, member, code))
    s.flush()
    for line, member, _ in added:
        audit.record(s, actor, "party_member.import", "party_member", member.id, at=now, line=line.number)
    return [ImportedMember(m.id, m.name, m.branch, line.community.name, m.role, nlp.mask_mobile(m.mobile), code,
                           expires_at) for line, m, code in added]


def _live_code_hashes(s: Session, now: datetime) -> set[str]:
    return set(s.scalars(select(PartyMember.binding_code_hash).where(
        PartyMember.binding_code_hash.is_not(None), PartyMember.openid.is_(None),
        PartyMember.binding_code_expires_at > now)))


def _unique_code(taken: set[str], secret: str) -> tuple[str, str]:
    """A code no other live code shares: `bind` takes whichever member matches, so two members with one
    code would let the first to send it bind as the other (with 500 members a clash is ~12% likely)."""
    while True:
        code = new_code()
        digest = code_hash(code, secret)
        if digest not in taken:
            taken.add(digest)
            return code, digest


# ---------------------------------------------------------------- codes, unbinding, listing

def new_binding_code(db: Database, member_id: int, secret: str, now: datetime, actor: str) -> str:
    """Replace a member's binding code (the old one stops working); refused once the member is bound."""
    with db.transaction() as s:
        member = _member(s, member_id)
        if member.openid is not None:
            raise RosterError("already_bound", member_id=member.id, name=member.name)
        code, digest = _unique_code(_live_code_hashes(s, now), secret)
        member.binding_code_hash = digest
        member.binding_code_expires_at = now + CODE_VALIDITY
        audit.record(s, actor, "party_member.issue_code", "party_member", member.id, at=now)
    return code


def unbind(db: Database, member_id: int, actor: str, now: datetime) -> MemberView:
    """Free a member from their openid; card links issued before stop verifying (card_serial moves on)."""
    with db.transaction() as s:
        member = _member(s, member_id)
        if member.openid is None:
            raise RosterError("not_bound", member_id=member.id, name=member.name)
        member.openid = None
        member.bound_at = None
        member.card_serial += 1
        audit.record(s, actor, "party_member.unbind", "party_member", member.id, at=now, card_serial=member.card_serial)
        s.flush()
        return member_view(s, member)


def roster(db: Database, community_id: int | None = None) -> list[RosterEntry]:
    """Members for staff to look over, phones masked."""
    query = (select(PartyMember, Community.name).outerjoin(Community, Community.id == PartyMember.community_id)
             .order_by(PartyMember.id))
    if community_id is not None:
        query = query.where(PartyMember.community_id == community_id)
    with db.transaction(read_only=True) as s:
        return [RosterEntry(m.id, m.name, m.branch, community, m.role, nlp.mask_mobile(m.mobile), m.openid is not None,
                            m.points, None if m.openid else m.binding_code_expires_at)
                for m, community in s.execute(query)]


def _member(s: Session, member_id: int) -> PartyMember:
    member = s.get(PartyMember, member_id, with_for_update=True)
    if member is None:
        raise MemberNotFound(f"no party member #{member_id}")
    return member
