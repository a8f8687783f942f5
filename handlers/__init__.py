"""Handlers speak to residents: intent + conversation state in, service calls and Chinese replies out."""
from __future__ import annotations

from bot.router import Router


def build_router() -> Router:
    from handlers import events, help, opinions, party

    root = Router("nanhu")
    for module in (help, opinions, events, party):
        root.include(module.router)
    return root
