"""The sub-district's communities."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from storage.db import Database
from storage.models import Community


@dataclass(frozen=True)
class CommunityView:
    id: int
    code: str
    name: str


def all_communities(db: Database) -> list[CommunityView]:
    with db.transaction() as s:
        return [CommunityView(c.id, c.code, c.name) for c in s.scalars(select(Community).order_by(Community.id))]


def match(communities: list[CommunityView], text: str) -> CommunityView | None:
    """The community a resident means: by list number (1-based) or by a fragment of its name."""
    text = text.strip()
    if text.isdigit():
        n = int(text)
        return communities[n - 1] if 1 <= n <= len(communities) else None
    bare = text.removesuffix("社区")
    hits = [c for c in communities if bare and (bare in c.name or c.name.removesuffix("社区") in text)]
    return hits[0] if len(hits) == 1 else None
