"""The lifecycle of one notice's delivery to one resident (the outbox row)."""
from __future__ import annotations

from storage.lifecycle import Kind, Lifecycle, State

DELIVERY = Lifecycle(
    "delivery",
    State("pending", "待发送", Kind.OPEN, frozenset({"sending", "skipped"})),
    State("sending", "发送中", Kind.OPEN, frozenset({"sent", "pending", "failed"})),   # back to pending: a retry
    State("sent", "已送达", Kind.FIXED, frozenset({"failed"})),   # WeChat's later report on a template message
    State("failed", "发送失败", Kind.CLOSED, frozenset()),
    State("skipped", "未发送", Kind.CLOSED, frozenset()),
)
