"""Failed attempts counted in the shared store, so that guessing (a binding code, a check-in code, a password)
stops after a few tries, whichever process each try reaches."""
from __future__ import annotations

from typing import Callable

from storage.kv import KV


class Attempts:
    """At most `limit` failures per key within `window` seconds of the first: `Attempts(kv, keys.bind_failures, 5,
    3600)`, then `blocked(openid)` before trying and `failed(openid)` after a failure."""

    def __init__(self, kv: KV, key: Callable[[str], str], limit: int, window: float):
        self.kv = kv
        self.key = key
        self.limit = limit
        self.window = window

    def blocked(self, who: str) -> bool:
        """Whether `who` has used up their tries."""
        return int(self.kv.get(self.key(who)) or 0) >= self.limit

    def failed(self, who: str) -> int:
        """Count one more failure for `who`; how many there are now."""
        return self.kv.incr(self.key(who), self.window)

    def clear(self, who: str) -> None:
        """Forget `who`'s failures (they got it right)."""
        self.kv.delete(self.key(who))
