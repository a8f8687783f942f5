"""The lifecycle of a community project (社区项目)."""
from __future__ import annotations

from storage.lifecycle import Kind, Lifecycle, State

PROJECT = Lifecycle(
    "project",
    State("open", "待认领", Kind.OPEN, frozenset({"in_progress", "completed", "cancelled"})),
    State("in_progress", "进行中", Kind.OPEN, frozenset({"completed", "cancelled"})),   # claimed by a member
    State("completed", "已完成", Kind.FIXED, frozenset()),
    State("cancelled", "已取消", Kind.CLOSED, frozenset()),
)

OPEN_STATES = PROJECT.of_kind(Kind.OPEN)
STATE_LABELS = PROJECT.labels()
