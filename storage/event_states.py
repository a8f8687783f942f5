"""The lifecycles of an event and of a resident's registration for it."""
from __future__ import annotations

from storage.lifecycle import Kind, Lifecycle, State

EVENT = Lifecycle(
    "event",
    State("open", "报名中", Kind.OPEN, frozenset({"cancelled"})),     # past its end it is over, still `open`
    State("cancelled", "已取消", Kind.CLOSED, frozenset()),
)

REGISTRATION = Lifecycle(
    "registration",
    State("new", "新报名", Kind.OPEN, frozenset({"confirmed", "waitlisted"})),   # only inside the sign-up's transaction
    State("confirmed", "报名成功", Kind.OPEN, frozenset({"cancelled"})),
    State("waitlisted", "候补中", Kind.OPEN, frozenset({"confirmed", "cancelled"})),
    State("cancelled", "已取消", Kind.CLOSED, frozenset({"confirmed", "waitlisted"})),  # signed up again
)

ACTIVE_REGISTRATION = ("confirmed", "waitlisted")   # holding places, or waiting for them
