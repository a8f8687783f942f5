"""A resident's open conversation in the shared store: one JSON value under `conv:<openid>` that
expires after the idle timeout. The chat engine (`bot.chat`) gives it meaning; staff actions open
one too (the satisfaction question after a ticket is resolved)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from storage.kv import KV, keys


@dataclass
class Conversation:
    flow: str
    state: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0



class ConversationStore:
    def __init__(self, kv: KV, idle_timeout: int):
        self.kv = kv
        self.idle_timeout = idle_timeout

    @staticmethod
    def key(openid: str) -> str:
        return keys.conversation(openid)

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

    def ask_unless_busy(self, openid: str, conversation: Conversation) -> bool:
        """Open `conversation` for a resident who is not in the middle of another one (staff asking a
        question after an action of theirs); False, and nothing changed, if they are."""
        current = self.load(openid)
        if current is not None and current.flow != conversation.flow:
            return False
        self.save(openid, conversation)
        return True
