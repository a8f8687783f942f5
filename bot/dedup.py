"""Each push is handled once across all processes; a retry gets the first reply again.

WeChat retries a push it got no answer to (three times, five seconds apart). The first request to
claim a message's key handles it and stores its reply; any other request for the same key waits
for that reply and returns it.
"""
from __future__ import annotations

import hashlib
import time

from storage.kv import KV

_PENDING = "P"
_DONE = "R"
REPLY_TTL = 600  # WeChat's retries end within ~15 s; ten minutes covers any slow retry path


class Dedup:
    def __init__(self, kv: KV, pending_ttl: float, ttl: int = REPLY_TTL):
        self.kv = kv
        # short, so that a process killed mid-message does not block WeChat's later retries of it
        self.pending_ttl = pending_ttl
        self.ttl = ttl

    def claim(self, key: str) -> bool:
        """True if this request is the first for `key` and must handle it."""
        return self.kv.set_nx(f"dedup:{key}", _PENDING, self.pending_ttl)

    def remember(self, key: str, reply: str) -> None:
        self.kv.set(f"dedup:{key}", _DONE + reply, self.ttl)

    def wait_for(self, key: str, timeout: float, poll: float = 0.05) -> str | None:
        """The first request's reply, once it has one; None if it is still working after `timeout`."""
        give_up = time.monotonic() + timeout
        while True:
            value = self.kv.get(f"dedup:{key}")
            if value is None:
                return None
            if value.startswith(_DONE):
                return value[len(_DONE):]
            if time.monotonic() >= give_up:
                return None
            time.sleep(poll)


class NonceGuard:
    """Refuses a signature seen before with a different body.

    In plain mode WeChat's signature covers only token, timestamp and nonce, not the body, so a
    captured signature could otherwise be replayed with a forged message. The key is the signature
    itself: however timestamp and nonce are re-split, the same signature is the same key.
    """

    def __init__(self, kv: KV, max_clock_skew: int):
        self.kv = kv
        # beyond the skew window old timestamps are refused anyway; with the check off, keep a day
        self.ttl = 2 * max_clock_skew if max_clock_skew else 86400

    def accept(self, signature: str, body: bytes) -> bool:
        digest = hashlib.sha256(body).hexdigest()
        key = f"nonce:{signature}"
        if self.kv.set_nx(key, digest, self.ttl):
            return True
        seen = self.kv.get(key)
        return seen is None or seen == digest
