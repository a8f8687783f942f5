"""The stable intent names and the Intent that classify() returns (the router codes against these)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INTENTS: tuple[str, ...] = (
    "opinion.submit", "opinion.status",
    "event.list", "event.signup", "event.cancel",
    "project.list", "project.claim",
    "identity.show", "identity.bind",
    "help", "unknown",
)

# Intents that start nothing: they are never confirmed and never offered as a choice.
PASSIVE: frozenset[str] = frozenset({"help", "unknown"})


@dataclass(frozen=True)
class Intent:
    name: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict, compare=False)
    # Other intents nearly as likely as `name`, best first, never "unknown". Non-empty means: ask
    # the resident to choose ("回复 1 …，2 …") instead of acting on `name`.
    alternatives: tuple[str, ...] = ()
    # `name` was found only through a sound-alike (抱名 → 报名): confirm before acting ("您是想…吗？").
    via_pinyin: bool = False
