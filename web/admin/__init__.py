"""The staff admin web under /admin: log in, see the governance figures, manage opinions, events,
projects, party members and announcements. Pages call the same storage services as the chat
handlers and the CLI. Community staff see their own community only: every list is filtered by it,
and any object of another community answers 404."""
from __future__ import annotations

from web.admin import announcements, audit, auth, dashboard, events, members, opinions, projects, residents  # noqa: F401  (routes register on import)
from web.admin.blueprint import bp

__all__ = ["bp"]
