"""The lifecycle of an opinion, as a table (after FixMyStreet): each state is typed open, closed or
fixed, and only the transitions listed here are allowed."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    OPEN = "open"      # still with us
    CLOSED = "closed"  # finished without a fix: not ours, or merged into another ticket
    FIXED = "fixed"    # resolved


@dataclass(frozen=True)
class State:
    name: str
    label: str        # what residents and staff read
    kind: Kind
    next: frozenset[str]


STATES: dict[str, State] = {s.name: s for s in (
    State("submitted", "已提交", Kind.OPEN, frozenset({"accepted", "not_responsible", "duplicate"})),
    State("accepted", "已受理", Kind.OPEN, frozenset({"in_progress", "resolved", "not_responsible", "duplicate"})),
    State("in_progress", "处理中", Kind.OPEN, frozenset({"resolved", "not_responsible", "duplicate"})),
    State("resolved", "已办结", Kind.FIXED, frozenset({"in_progress"})),     # reopened when the resident is not satisfied
    State("not_responsible", "非本街道职责", Kind.CLOSED, frozenset()),
    State("duplicate", "已合并", Kind.CLOSED, frozenset()),
)}


OPEN_STATES = tuple(name for name, state in STATES.items() if state.kind is Kind.OPEN)


class InvalidTransition(ValueError):
    """This state cannot follow that one; the message names the allowed next states."""


def check(current: str, target: str) -> None:
    if target not in STATES:
        raise InvalidTransition(f"unknown state {target!r}; states: {', '.join(STATES)}")
    allowed = STATES[current].next
    if target not in allowed:
        options = ", ".join(sorted(allowed)) or "none (it is final)"
        raise InvalidTransition(f"{current} cannot become {target}; next states: {options}")


def label(name: str) -> str:
    return STATES[name].label if name in STATES else name
