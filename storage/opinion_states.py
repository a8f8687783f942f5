"""The lifecycle of an opinion (社情民意 ticket)."""
from __future__ import annotations

from storage.lifecycle import InvalidTransition, Kind, Lifecycle, State

__all__ = ["InvalidTransition", "Kind", "State", "LIFECYCLE", "STATES", "OPEN_STATES", "check", "label"]

LIFECYCLE = Lifecycle(
    "opinion",
    State("submitted", "已提交", Kind.OPEN, frozenset({"accepted", "not_responsible", "duplicate"})),
    State("accepted", "已受理", Kind.OPEN, frozenset({"in_progress", "resolved", "not_responsible", "duplicate"})),
    State("in_progress", "处理中", Kind.OPEN, frozenset({"resolved", "not_responsible", "duplicate"})),
    State("resolved", "已办结", Kind.FIXED, frozenset({"in_progress"})),  # reopened when the resident is not satisfied
    State("not_responsible", "非本街道职责", Kind.CLOSED, frozenset()),
    State("duplicate", "已合并", Kind.CLOSED, frozenset()),
)

STATES: dict[str, State] = LIFECYCLE.states
OPEN_STATES = LIFECYCLE.of_kind(Kind.OPEN)
check = LIFECYCLE.check
label = LIFECYCLE.label
