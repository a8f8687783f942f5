"""Community service projects (党建项目 / 民生微实事): staff publish them, party members claim their
places and report progress, staff close them with what was actually achieved and spent, residents
rate finished ones; claimers earn service points. Everything here is what the public disclosure
pages show ("three musts": content and beneficiaries, timeline, expenditure)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select, update

from storage import audit
from storage.db import Database
from storage.models import (
    Community,
    Milestone,
    PartyMember,
    PointsEntry,
    ProgressReport,
    Project,
    ProjectClaim,
    ProjectRating,
)
from storage.project_states import OPEN_STATES, STATE_LABELS  # noqa: F401  (STATE_LABELS: the projects' labels)
from storage.rejections import Rejected

MAX_PROGRESS = 300


class ProjectRejected(Rejected):
    """Staff input that cannot become (or change) a project."""

    domain = "project"


class ProjectNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Points:
    """Service points per step, from [party] in the configuration."""

    claim: int = 5
    progress: int = 2          # at most once per project per day
    completed: int = 10

    @classmethod
    def from_config(cls, section) -> "Points":
        return cls(section.points_claim, section.points_progress, section.points_completed)


@dataclass(frozen=True)
class ProjectSpec:
    title: str
    category: str = "党建项目"
    description: str = ""
    community_id: int | None = None
    beneficiaries: str = ""              # who benefits, in words
    beneficiaries_planned: int = 0
    budget_yuan: float = 0.0
    claim_slots: int = 1
    starts_on: str | None = None         # YYYY-MM-DD
    ends_on: str | None = None
    milestones: tuple[tuple[str, str], ...] = ()   # (title, YYYY-MM-DD)


@dataclass(frozen=True)
class ProjectView:
    id: int
    title: str
    category: str
    community_name: str | None
    places_left: int
    status: str = "open"
    claim_slots: int = 1


@dataclass(frozen=True)
class Disclosure:
    """One project as the public page shows it."""

    project: ProjectView
    description: str
    beneficiaries: str
    beneficiaries_planned: int
    beneficiaries_actual: int | None
    budget_yuan: float
    spent_yuan: float | None
    starts_on: str | None
    ends_on: str | None
    closed_at: datetime | None
    closing_note: str
    milestones: tuple[tuple[str, str, datetime | None], ...]   # title, due, done
    claimers: tuple[tuple[str, str], ...]                        # name, branch (never a phone)
    progress: tuple[tuple[datetime, str, str], ...]              # when, member name, text
    ratings: tuple[tuple[int, str, datetime], ...]               # stars, comment, when (no rater identity)

    @property
    def average_stars(self) -> float | None:
        return sum(r[0] for r in self.ratings) / len(self.ratings) if self.ratings else None


def _day(text: str | None, name: str) -> str | None:
    if text in (None, ""):
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ProjectRejected("bad_date", field=name, name=name, text=text) from None


def _milestone_day(title: str, text: str | None) -> str | None:
    try:
        return _day(text, "milestones")
    except ProjectRejected:
        raise ProjectRejected("bad_milestone_date", field="milestones", title=title, text=text) from None


def _check(spec: ProjectSpec) -> ProjectSpec:
    if not 1 <= len(spec.title.strip()) <= 128:
        raise ProjectRejected("title", field="title")
    if not 1 <= spec.claim_slots <= 1000:
        raise ProjectRejected("claim_slots", field="slots")
    if spec.budget_yuan < 0 or spec.beneficiaries_planned < 0:
        raise ProjectRejected("negative_plan", field="budget" if spec.budget_yuan < 0 else "planned")
    if not 1 <= len(spec.category.strip()) <= 32:
        raise ProjectRejected("category", field="category")
    starts, ends = _day(spec.starts_on, "start"), _day(spec.ends_on, "end")
    if starts and ends and ends < starts:
        raise ProjectRejected("end_before_start", field="end")
    milestones = tuple((t.strip(), _milestone_day(t, d)) for t, d in spec.milestones)
    if any(not t for t, _ in milestones):
        raise ProjectRejected("milestone_title", field="milestones")
    return ProjectSpec(spec.title.strip(), spec.category.strip(), spec.description.strip(), spec.community_id,
                       spec.beneficiaries.strip(), spec.beneficiaries_planned, spec.budget_yuan, spec.claim_slots,
                       starts, ends, milestones)


def _view(s, p: Project) -> ProjectView:
    name = s.scalar(select(Community.name).where(Community.id == p.community_id)) if p.community_id else None
    return ProjectView(p.id, p.title, p.category, name, max(0, p.claim_slots - p.claims_taken), p.status,
                       p.claim_slots)


def _project(s, project_id: int, lock: bool = False) -> Project:
    query = select(Project).where(Project.id == project_id)
    project = s.scalar(query.with_for_update() if lock else query)
    if project is None:
        raise ProjectNotFound(f"no project {project_id}")
    return project


def _award(s, member_id: int, points: int, reason: str, project_id: int, now: datetime) -> None:
    if points:
        s.add(PointsEntry(member_id=member_id, points=points, reason=reason, project_id=project_id, at=now))
        s.execute(update(PartyMember).where(PartyMember.id == member_id).values(points=PartyMember.points + points))


# --- staff ------------------------------------------------------------------------------------------

def create(db: Database, spec: ProjectSpec, actor: str, now: datetime) -> ProjectView:
    spec = _check(spec)
    with db.transaction() as s:
        project = Project(title=spec.title, category=spec.category, description=spec.description,
                          community_id=spec.community_id, beneficiaries=spec.beneficiaries,
                          beneficiaries_planned=spec.beneficiaries_planned, budget_yuan=spec.budget_yuan,
                          claim_slots=spec.claim_slots, claims_taken=0, status="open", created_at=now,
                          starts_on=spec.starts_on, ends_on=spec.ends_on, closing_note="", created_by=actor)
        s.add(project)
        s.flush()
        s.add_all([Milestone(project_id=project.id, title=t, due_on=d) for t, d in spec.milestones])
        audit.record(s, actor, "project.create", "project", project.id, at=now, title=spec.title,
                     budget_yuan=spec.budget_yuan, claim_slots=spec.claim_slots)
        return _view(s, project)


def complete_milestone(db: Database, project_id: int, number: int, actor: str, now: datetime) -> ProjectView:
    """Mark the project's `number`-th milestone (1-based, in date order) done."""
    with db.transaction() as s:
        project = _project(s, project_id, lock=True)
        steps = list(s.scalars(select(Milestone).where(Milestone.project_id == project.id)
                               .order_by(Milestone.due_on, Milestone.id)))
        if not 1 <= number <= len(steps):
            raise ProjectRejected("no_milestone", project_id=project_id, count=len(steps), number=number)
        if steps[number - 1].done_at is None:
            steps[number - 1].done_at = now
            audit.record(s, actor, "project.milestone_done", "project", project.id, at=now, milestone=number)
        return _view(s, project)


def close(db: Database, project_id: int, beneficiaries_actual: int, spent_yuan: float, actor: str, now: datetime,
          points: Points, note: str = "") -> ProjectView:
    """Finish a project with what it actually achieved and spent; its claimers earn completion points."""
    if beneficiaries_actual < 0 or spent_yuan < 0:
        raise ProjectRejected("negative_result")
    with db.transaction() as s:
        project = _project(s, project_id, lock=True)
        if project.status not in OPEN_STATES:
            raise ProjectRejected("already_closed", project_id=project_id, status=project.status)
        project.status, project.closed_at = "completed", now
        (project.beneficiaries_actual, project.spent_yuan,
         project.closing_note) = beneficiaries_actual, spent_yuan, note.strip()
        claimers = list(s.scalars(select(ProjectClaim.member_id).where(ProjectClaim.project_id == project.id)))
        for member_id in claimers:
            _award(s, member_id, points.completed, "completed", project.id, now)
        audit.record(s, actor, "project.close", "project", project.id, at=now, beneficiaries=beneficiaries_actual,
                     spent_yuan=spent_yuan, claimers=len(claimers))
        return _view(s, project)


def cancel(db: Database, project_id: int, actor: str, now: datetime, reason: str = "") -> ProjectView:
    with db.transaction() as s:
        project = _project(s, project_id, lock=True)
        if project.status not in OPEN_STATES:
            raise ProjectRejected("already_closed", project_id=project_id, status=project.status)
        project.status, project.closed_at, project.closing_note = "cancelled", now, reason.strip()
        audit.record(s, actor, "project.cancel", "project", project.id, at=now, reason=reason.strip())
        return _view(s, project)


# --- members -------------------------------------------------------------------------------------------

class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    ALREADY = "already"
    FULL = "full"
    CLOSED = "closed"
    UNKNOWN = "unknown"
    NOT_MEMBER = "not_member"   # not bound, or the card revoked


@dataclass(frozen=True)
class ClaimResult:
    outcome: ClaimOutcome
    project: ProjectView | None = None
    points: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", ClaimOutcome(self.outcome))


def _member_in_good_standing(s, member_id: int) -> bool:
    """Only bound members whose card is not revoked claim, report and earn points."""
    m = s.get(PartyMember, member_id)
    return m is not None and m.openid is not None and m.card_revoked_at is None


def _public_text(text: str) -> str:
    """Words that go on the public page: phone numbers masked (a report may name who was visited)."""
    from nlp import mask_phones
    return mask_phones(text.strip())


def claim(db: Database, project_id: int, member_id: int, now: datetime, points: Points) -> ClaimResult:
    """Take one of the project's places, under its row lock: concurrent claims never take more places
    than there are."""
    with db.transaction() as s:
        try:
            project = _project(s, project_id, lock=True)
        except ProjectNotFound:
            return ClaimResult("unknown")
        if not _member_in_good_standing(s, member_id):
            return ClaimResult("not_member", _view(s, project))
        if s.scalar(select(ProjectClaim.id).where(ProjectClaim.project_id == project.id,
                                                  ProjectClaim.member_id == member_id)):
            return ClaimResult("already", _view(s, project))
        if project.status not in OPEN_STATES:
            return ClaimResult("closed", _view(s, project))
        if project.claims_taken >= project.claim_slots:
            return ClaimResult("full", _view(s, project))
        s.add(ProjectClaim(project_id=project.id, member_id=member_id, claimed_at=now))
        project.claims_taken += 1
        project.status = "in_progress"
        _award(s, member_id, points.claim, "claim", project.id, now)
        audit.record(s, f"member:{member_id}", "project.claim", "project", project.id, at=now)
        s.flush()
        return ClaimResult("claimed", _view(s, project), points.claim)


class ProgressOutcome(StrEnum):
    RECORDED = "recorded"
    NOT_CLAIMER = "not_claimer"
    CLOSED = "closed"
    UNKNOWN = "unknown"
    NOT_MEMBER = "not_member"


@dataclass(frozen=True)
class ProgressResult:
    outcome: ProgressOutcome
    project: ProjectView | None = None
    points: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", ProgressOutcome(self.outcome))


def report_progress(db: Database, project_id: int, member_id: int, text: str, now: datetime, tz,
                    points: Points) -> ProgressResult:
    """A claimer's progress note; points for the first one of the day on that project."""
    text = _public_text(text)[:MAX_PROGRESS]
    with db.transaction() as s:
        try:
            project = _project(s, project_id, lock=True)  # a report and staff closing it take turns
        except ProjectNotFound:
            return ProgressResult("unknown")
        if not _member_in_good_standing(s, member_id):
            return ProgressResult("not_member", _view(s, project))
        if not s.scalar(select(ProjectClaim.id).where(ProjectClaim.project_id == project.id,
                                                      ProjectClaim.member_id == member_id)):
            return ProgressResult("not_claimer", _view(s, project))
        if project.status not in OPEN_STATES:
            return ProgressResult("closed", _view(s, project))
        local_day = now.astimezone(tz).date()
        earlier_today = [at for at in s.scalars(select(ProgressReport.at).where(
            ProgressReport.project_id == project.id, ProgressReport.member_id == member_id))
            if at.astimezone(tz).date() == local_day]
        s.add(ProgressReport(project_id=project.id, member_id=member_id, at=now, text=text))
        earned = 0 if earlier_today else points.progress
        _award(s, member_id, earned, "progress", project.id, now)
        audit.record(s, f"member:{member_id}", "project.progress", "project", project.id, at=now)
        return ProgressResult("recorded", _view(s, project), earned)


def claimed_by(db: Database, member_id: int) -> list[ProjectView]:
    with db.transaction(read_only=True) as s:
        rows = s.scalars(select(Project).join(ProjectClaim, ProjectClaim.project_id == Project.id)
                         .where(ProjectClaim.member_id == member_id).order_by(Project.id))
        return [_view(s, p) for p in rows]


# --- residents ------------------------------------------------------------------------------------------

class RatingOutcome(StrEnum):
    RATED = "rated"
    ALREADY = "already"
    NOT_COMPLETED = "not_completed"
    UNKNOWN = "unknown"
    BAD_STARS = "bad_stars"


@dataclass(frozen=True)
class RatingResult:
    outcome: RatingOutcome
    project: ProjectView | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", RatingOutcome(self.outcome))


def can_rate(db: Database, project_id: int, resident_id: int) -> RatingOutcome | None:
    """Why this resident cannot rate this project (unknown | not_completed | already), or None."""
    with db.transaction(read_only=True) as s:
        status = s.scalar(select(Project.status).where(Project.id == project_id))
        if status is None:
            return RatingOutcome.UNKNOWN
        if status != "completed":
            return RatingOutcome.NOT_COMPLETED
        rated = s.scalar(select(ProjectRating.id).where(ProjectRating.project_id == project_id,
                                                        ProjectRating.resident_id == resident_id))
        return RatingOutcome.ALREADY if rated else None


def rate(db: Database, project_id: int, resident_id: int, stars: int, comment: str, now: datetime) -> RatingResult:
    if not 1 <= stars <= 5:
        return RatingResult("bad_stars")
    with db.transaction() as s:
        try:
            project = _project(s, project_id)
        except ProjectNotFound:
            return RatingResult("unknown")
        if project.status != "completed":
            return RatingResult("not_completed", _view(s, project))
        if s.scalar(select(ProjectRating.id).where(ProjectRating.project_id == project.id,
                                                   ProjectRating.resident_id == resident_id)):
            return RatingResult("already", _view(s, project))
        s.add(ProjectRating(project_id=project.id, resident_id=resident_id, stars=stars,
                            comment=_public_text(comment)[:200], at=now))
        audit.record(s, audit.resident_actor(resident_id), "project.rate", "project", project.id, at=now, stars=stars)
        return RatingResult("rated", _view(s, project))


# --- lists and the public record -------------------------------------------------------------------------

def claimable(db: Database, limit: int = 10) -> list[ProjectView]:
    """Projects still taking claims, oldest first."""
    with db.transaction(read_only=True) as s:
        rows = s.scalars(select(Project)
                         .where(Project.status.in_(OPEN_STATES), Project.claims_taken < Project.claim_slots)
                         .order_by(Project.id).limit(limit))
        return [_view(s, p) for p in rows]


def all_projects(db: Database, include_cancelled: bool = False) -> list[ProjectView]:
    with db.transaction(read_only=True) as s:
        query = select(Project).order_by(Project.id.desc())
        if not include_cancelled:
            query = query.where(Project.status != "cancelled")
        return [_view(s, p) for p in s.scalars(query)]


def disclosure(db: Database, project_id: int) -> Disclosure:
    with db.transaction(read_only=True) as s:
        p = _project(s, project_id)
        milestones = tuple((m.title, m.due_on, m.done_at) for m in s.scalars(
            select(Milestone).where(Milestone.project_id == p.id).order_by(Milestone.due_on, Milestone.id)))
        claimers = tuple(s.execute(select(PartyMember.name, PartyMember.branch)
                                   .join(ProjectClaim, ProjectClaim.member_id == PartyMember.id)
                                   .where(ProjectClaim.project_id == p.id).order_by(ProjectClaim.id)).all())
        progress = tuple(s.execute(select(ProgressReport.at, PartyMember.name, ProgressReport.text)
                                   .join(PartyMember, PartyMember.id == ProgressReport.member_id)
                                   .where(ProgressReport.project_id == p.id).order_by(ProgressReport.at)).all())
        ratings = tuple(s.execute(select(ProjectRating.stars, ProjectRating.comment, ProjectRating.at)
                                  .where(ProjectRating.project_id == p.id).order_by(ProjectRating.at)).all())
        return Disclosure(_view(s, p), p.description, p.beneficiaries, p.beneficiaries_planned, p.beneficiaries_actual,
                          p.budget_yuan, p.spent_yuan, p.starts_on, p.ends_on, p.closed_at, p.closing_note,
                          milestones, tuple(tuple(c) for c in claimers), tuple(tuple(r) for r in progress),
                          tuple(tuple(r) for r in ratings))


@dataclass(frozen=True)
class ProjectFigures:
    by_state: dict[str, int] = field(default_factory=dict)
    beneficiaries: int = 0           # actual for completed projects
    ratings: int = 0
    average_stars: float | None = None


def figures(db: Database, community_id: int | None = None) -> ProjectFigures:
    """Projects by state, people actually reached by completed ones, ratings (one community, or all)."""
    def scoped(query):
        return query.where(Project.community_id == community_id) if community_id is not None else query

    with db.transaction(read_only=True) as s:
        by_state = dict(s.execute(scoped(select(Project.status, func.count()).group_by(Project.status))).all())
        beneficiaries = s.scalar(scoped(select(func.coalesce(func.sum(Project.beneficiaries_actual), 0))
                                        .where(Project.status == "completed"))) or 0
        count, average = s.execute(scoped(select(func.count(ProjectRating.id), func.avg(ProjectRating.stars))
                                          .join(Project, Project.id == ProjectRating.project_id))).one()
        return ProjectFigures(by_state, int(beneficiaries), count, float(average) if average is not None else None)
