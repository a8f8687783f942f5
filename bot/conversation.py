"""Multi-turn conversations as explicit state machines, their state kept in the shared store.

A Flow names its states and the step that handles a resident's message in each state (like
python-telegram-bot's ConversationHandler). The state of one resident's open conversation is one
JSON value under `conv:<openid>` that expires after the idle timeout, so it survives restarts and is
seen by every worker.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from storage.kv import KV

if TYPE_CHECKING:
    from bot.router import Handler


PASS = object()  # a step's answer meaning "not for me": the flow ends and the message is routed afresh


@dataclass
class Conversation:
    flow: str
    state: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0


class Flow:
    """A named set of states; each state has one step handler."""

    def __init__(self, name: str, title: str, cancel_reply: str | None = None):
        self.name = name
        self.title = title  # what the resident is doing, e.g. "反映问题", used in 帮助 / 取消 replies
        self.cancel_reply = cancel_reply  # what 取消 says, when "nothing was submitted" would be wrong
        self.steps: dict[str, "Handler"] = {}

    def step(self, state: str) -> Callable[["Handler"], "Handler"]:
        def register(handler: "Handler") -> "Handler":
            if state in self.steps:
                raise ValueError(f"{self.name}: state {state!r} registered twice")
            self.steps[state] = handler
            return handler
        return register


class ConversationStore:
    def __init__(self, kv: KV, idle_timeout: int):
        self.kv = kv
        self.idle_timeout = idle_timeout

    @staticmethod
    def key(openid: str) -> str:
        return f"conv:{openid}"

    @staticmethod
    def decode(raw: str) -> Conversation:
        data = json.loads(raw)
        return Conversation(data["flow"], data["state"], data.get("data", {}), data.get("updated_at", 0.0))

    @staticmethod
    def encode(conversation: Conversation) -> str:
        """The stored form; stamps the conversation's `updated_at` (saving restarts its idle clock)."""
        conversation.updated_at = time.time()
        return json.dumps({"flow": conversation.flow, "state": conversation.state, "data": conversation.data,
                           "updated_at": conversation.updated_at}, ensure_ascii=False)

    def load(self, openid: str) -> Conversation | None:
        raw = self.kv.get(self.key(openid))
        return None if raw is None else self.decode(raw)

    def save(self, openid: str, conversation: Conversation) -> None:
        self.kv.set(self.key(openid), self.encode(conversation), self.idle_timeout)

    def clear(self, openid: str) -> None:
        self.kv.delete(self.key(openid))
