"""Community service projects that party members claim."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from storage.db import Database
from storage.models import Community, Project


@dataclass(frozen=True)
class ProjectView:
    id: int
    title: str
    category: str
    community_name: str | None
    places_left: int


def claimable(db: Database, limit: int = 10) -> list[ProjectView]:
    """Open projects with free claim places."""
    with db.transaction() as s:
        rows = s.execute(
            select(Project, Community.name)
            .outerjoin(Community, Community.id == Project.community_id)
            .where(Project.status == "open", Project.claims_taken < Project.claim_slots)
            .order_by(Project.id)
            .limit(limit)
        ).all()
        return [ProjectView(p.id, p.title, p.category, name, p.claim_slots - p.claims_taken) for p, name in rows]
