"""Honest figures on opinions (社情民意), for staff and for the sub-district's reports.

Definitions (`nanhu stats opinions` prints them as a legend under its tables):

- Population: opinions created in the period [since, until) (by created_at), EXCLUDING status
  `duplicate` (a merged ticket is counted once, in the ticket it was merged into).
- finished = kind fixed or closed (resolved, not_responsible). overdue_open = kind open and
  due_at is not None and now > due_at.
- on_time = status resolved and (due_at is None or resolved_at <= due_at).
- honest rate = on_time / (finished + overdue_open); None ("—") when the denominator is 0.
- plain rate = resolved / total.
- median hours to first response over those with first_response_at; median hours to resolution
  (resolved_at - created_at) over status resolved. None when empty.
- satisfaction: satisfied = satisfaction == "satisfied"; unsatisfied = "unsatisfied" (including
  reopened tickets still carrying it); confirmed_by_silence = status resolved, satisfaction None,
  and the question was sent (feedback_asked_at) at least feedback_days ago; awaiting = status
  resolved, satisfaction None, asked less than feedback_days ago; not_asked = status resolved and the
  question never went out (the resident had unfollowed): silence from someone not asked is not
  consent, so these count in no rate. satisfaction rate = (satisfied + confirmed_by_silence) /
  (satisfied + unsatisfied + confirmed_by_silence); None when 0.
- Groups: overall, by community (name; "未填社区" when None), by category, by month (YYYY-MM of
  created_at in the given time zone).
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.db import Database
from storage.models import Community, Opinion
from storage.opinion_states import STATES, Kind

if TYPE_CHECKING:
    from storage.cards import Participation

NO_COMMUNITY = "未填社区"


@dataclass(frozen=True)
class Figures:
    total: int = 0
    resolved: int = 0
    finished: int = 0
    on_time: int = 0
    overdue_open: int = 0
    satisfied: int = 0
    unsatisfied: int = 0
    confirmed_by_silence: int = 0
    awaiting: int = 0
    median_first_response_hours: float | None = None
    median_resolution_hours: float | None = None
    not_asked: int = 0

    @property
    def honest_rate(self) -> float | None:
        return _ratio(self.on_time, self.finished + self.overdue_open)

    @property
    def plain_rate(self) -> float | None:
        return _ratio(self.resolved, self.total)

    @property
    def satisfaction_rate(self) -> float | None:
        return _ratio(self.satisfied + self.confirmed_by_silence,
                      self.satisfied + self.unsatisfied + self.confirmed_by_silence)


@dataclass(frozen=True)
class OpinionStats:
    overall: Figures
    by_community: dict[str, Figures]
    by_category: dict[str, Figures]
    by_month: dict[str, Figures]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _figures(rows: Iterable[Any], now: datetime, feedback: timedelta) -> Figures:
    counts: dict[str, int] = defaultdict(int)
    first_response: list[float] = []
    resolution: list[float] = []
    for r in rows:
        kind = STATES[r.status].kind
        resolved = r.status == "resolved"
        counts["total"] += 1
        counts["resolved"] += resolved
        counts["finished"] += kind in (Kind.FIXED, Kind.CLOSED)
        counts["overdue_open"] += kind == Kind.OPEN and r.due_at is not None and now > r.due_at
        # resolved_at is always set with status resolved; the None checks only guard hand-edited rows
        counts["on_time"] += resolved and (r.due_at is None
                                           or (r.resolved_at is not None and r.resolved_at <= r.due_at))
        counts["satisfied"] += r.satisfaction == "satisfied"
        counts["unsatisfied"] += r.satisfaction == "unsatisfied"
        if resolved and r.satisfaction is None:
            if r.feedback_asked_at is None:
                counts["not_asked"] += 1
            else:
                counts["confirmed_by_silence" if r.feedback_asked_at + feedback <= now else "awaiting"] += 1
        if r.first_response_at is not None:
            first_response.append(_hours(r.first_response_at - r.created_at))
        if resolved and r.resolved_at is not None:
            resolution.append(_hours(r.resolved_at - r.created_at))
    return Figures(**counts, median_first_response_hours=_median(first_response),
                   median_resolution_hours=_median(resolution))


def opinion_stats(db: Database, now: datetime, tz: ZoneInfo, feedback_days: int, since: datetime | None = None,
                  until: datetime | None = None, community_id: int | None = None) -> OpinionStats:
    query = (select(Opinion.created_at, Opinion.status, Community.name.label("community"), Opinion.category,
                    Opinion.due_at, Opinion.resolved_at, Opinion.first_response_at, Opinion.satisfaction,
                    Opinion.feedback_asked_at)
             .outerjoin(Community, Opinion.community_id == Community.id)
             .where(Opinion.status != "duplicate"))
    if since is not None:
        query = query.where(Opinion.created_at >= since)
    if until is not None:
        query = query.where(Opinion.created_at < until)
    if community_id is not None:
        query = query.where(Opinion.community_id == community_id)
    with db.transaction(read_only=True) as s:
        rows = s.execute(query).all()

    feedback = timedelta(days=feedback_days)

    def grouped(key: Callable[[Any], str]) -> dict[str, Figures]:
        groups: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            groups[key(r)].append(r)
        return {name: _figures(groups[name], now, feedback) for name in sorted(groups)}

    return OpinionStats(
        overall=_figures(rows, now, feedback),
        by_community=grouped(lambda r: r.community or NO_COMMUNITY),
        by_category=grouped(lambda r: r.category),
        by_month=grouped(lambda r: r.created_at.astimezone(tz).strftime("%Y-%m")),
    )


# --- party members and projects -----------------------------------------------------------------------

@dataclass(frozen=True)
class PartyStats:
    members: int                      # on the roster
    bound: int                        # bound to a WeChat account now
    participation: "Participation"    # storage.cards: bound members who showed identity in the period
    projects_by_state: dict[str, int]
    beneficiaries: int                # actually reached, completed projects
    ratings: int
    average_stars: float | None
    points_by_branch: list[tuple[str, int, int]]  # branch, points, members; most points first


def party_stats(db: Database, since: datetime | None = None, until: datetime | None = None) -> PartyStats:
    from sqlalchemy import func

    from storage import cards, projects
    from storage.models import PartyMember

    with db.transaction(read_only=True) as s:
        members = s.scalar(select(func.count()).select_from(PartyMember)) or 0
        bound = s.scalar(select(func.count()).select_from(PartyMember).where(PartyMember.openid.is_not(None))) or 0
        branches = s.execute(select(PartyMember.branch, func.sum(PartyMember.points), func.count())
                             .group_by(PartyMember.branch)
                             .order_by(func.sum(PartyMember.points).desc(), PartyMember.branch)).all()
    figures = projects.figures(db)
    return PartyStats(members, bound, cards.participation(db, since, until), figures.by_state, figures.beneficiaries,
                      figures.ratings, figures.average_stars, [(b, int(p or 0), n) for b, p, n in branches])
