"""Lifecycles as tables (after FixMyStreet): each state is typed open, closed or fixed, has one label
that residents and staff read, and lists the states that may follow it."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    OPEN = "open"      # still going
    CLOSED = "closed"  # finished without what was asked for (cancelled, not ours, merged, failed)
    FIXED = "fixed"    # finished as asked (resolved, completed, sent)


@dataclass(frozen=True)
class State:
    name: str
    label: str        # what residents and staff read
    kind: Kind
    next: frozenset[str]


class InvalidTransition(ValueError):
    """This state cannot follow that one; the message names the allowed next states."""


class Lifecycle:
    """One table of states; `check` refuses a transition the table does not list."""

    def __init__(self, name: str, *states: State):
        self.name = name
        self.states: dict[str, State] = {s.name: s for s in states}
        for state in states:
            unknown = state.next - self.states.keys()
            if unknown:
                raise ValueError(f"{name}: {state.name} leads to unknown states {sorted(unknown)}")

    def __getitem__(self, name: str) -> State:
        return self.states[name]

    def __contains__(self, name: object) -> bool:
        return name in self.states

    def __iter__(self):
        return iter(self.states)

    def of_kind(self, *kinds: Kind) -> tuple[str, ...]:
        return tuple(name for name, state in self.states.items() if state.kind in kinds)

    def is_open(self, name: str) -> bool:
        return name in self.states and self.states[name].kind is Kind.OPEN

    def check(self, current: str, target: str) -> None:
        if target not in self.states:
            raise InvalidTransition(f"unknown state {target!r}; states: {', '.join(self.states)}")
        allowed = self.states[current].next
        if target not in allowed:
            options = ", ".join(sorted(allowed)) or "none (it is final)"
            raise InvalidTransition(f"{current} cannot become {target}; next states: {options}")

    def label(self, name: str) -> str:
        return self.states[name].label if name in self.states else name

    def labels(self) -> dict[str, str]:
        return {name: state.label for name, state in self.states.items()}
