"""What every admin page shares: the runtime, times as staff read them, the staff member's community
(scope) and the communities to choose from."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from flask import abort, g, render_template

from bot.runtime import current as runtime  # the one way to the runtime, as jobs reach it
from storage import communities as community_store
from storage.audit import staff_actor
from storage.communities import CommunityView
from storage.staff import StaffView
from web.admin.blueprint import bp

# --- times ----------------------------------------------------------------------------------------------

@bp.app_template_filter("local")
def local_time(moment, fmt: str = "%m-%d %H:%M", empty: str = "") -> str:
    """A time as staff read it, in app.timezone."""
    return moment.astimezone(runtime().tz).strftime(fmt) if moment else empty


def local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time with its year, "—" when there is none."""
    return local_time(moment, fmt, "—")


def parse_day(text: str) -> datetime | None:
    """A day from a filter (YYYY-MM-DD) as the start of that day in app.timezone; None when empty or malformed."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=runtime().tz) if text else None
    except ValueError:
        return None


def when(text: str, tz: tzinfo) -> datetime | None:
    """A datetime-local form field (YYYY-MM-DDTHH:MM) in `tz`; None when empty, ValueError when malformed."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=tz) if text else None


# --- the staff member and their community ---------------------------------------------------------------

def scope() -> int | None:
    """The community the logged-in staff member is limited to; None for sub-district admins."""
    member: StaffView = g.staff
    return member.community_scope


def in_scope(community_id: int | None) -> None:
    """404 for an object outside the staff member's community (as if it did not exist)."""
    limited = scope()
    if limited is not None and community_id != limited:
        abort(404)


def admins_only() -> bool:
    """Whether the staff member is a sub-district admin (not limited to a community)."""
    return scope() is None


def actor() -> str:
    """The logged-in staff member as the audit log names them."""
    return staff_actor(g.staff.username)


def all_communities() -> list[CommunityView]:
    return community_store.all_communities(runtime().db)


def community_names() -> dict[int, str]:
    return {c.id: c.name for c in all_communities()}


def community_id_by_name(name: str | None) -> int | None:
    return next((c.id for c in all_communities() if c.name == name), None) if name else None


def my_community_name() -> str | None:
    """The name of the staff member's community; None for sub-district admins."""
    limited = scope()
    return next((c.name for c in all_communities() if c.id == limited), None) if limited is not None else None


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """A template with `local` for times, and its status."""
    return render_template(template, local=local, **context), status
