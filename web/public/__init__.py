"""Public pages residents open from links in chat: check-in codes, identity cards, and the community
projects' disclosure pages, on one layout (templates/public/layout.html). No personal data beyond what
each page must show."""
from __future__ import annotations

from web.public import cards, projects, registrations  # noqa: F401  (routes register on import)
from web.public.common import pages_bp, public_bp

__all__ = ["pages_bp", "public_bp"]
