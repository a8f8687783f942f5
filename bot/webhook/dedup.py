"""Each push is handled once across all processes; a retry gets the first reply again.

WeChat retries a push it got no answer to (three times, five seconds apart). The first request to
claim a message's key (`bot.webhook.turn.Turn.open`) handles it and stores its reply there; any other request
for the same key waits for that reply and returns it.
"""
from __future__ import annotations

import time

from storage.kv import KV, keys


class Dedup:
    PENDING = "P"
    DONE = "R"
    REPLY_TTL = 600  # WeChat's retries end within ~15 s; ten minutes covers any slow retry path

    def __init__(self, kv: KV):
        self.kv = kv

    @staticmethod
    def key(dedup_key: str) -> str:
        return keys.dedup(dedup_key)

    def wait_for(self, dedup_key: str, timeout: float, poll: float = 0.05) -> str | None:
        """The first request's reply, once it has one; None if it is still working after `timeout`."""
        give_up = time.monotonic() + timeout
        while True:
            value = self.kv.get(self.key(dedup_key))
            if value is None:
                return None
            if value.startswith(self.DONE):
                return value[len(self.DONE):]
            if time.monotonic() >= give_up:
                return None
            time.sleep(poll)
