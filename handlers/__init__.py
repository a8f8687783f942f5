"""Handlers speak to residents: intent + conversation state in, service calls and Chinese replies out."""
from __future__ import annotations

from bot.router import Router


def build_router() -> Router:
    from handlers import announcements, events, help, notices, opinions, party, projects

    root = Router("nanhu")
    for module in (help, opinions, events, party, projects, notices, announcements):
        root.include(module.router)
    return root
