"""Failed attempts counted in the shared store, so that guessing (a binding code, a check-in code, a password)
stops after a few tries, whichever process each try reaches."""
from __future__ import annotations

from typing import Callable

from storage.kv import KV, keys


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


# The limits, one place for chat and web alike: six digits and passwords must not be guessable by trying.
BIND_TRIES, BIND_TRIES_ALL, BIND_WINDOW = 5, 30, 3600   # per openid, and from all openids together, an hour
CHECK_IN_TRIES, CHECK_IN_WINDOW = 10, 600                # wrong check-in codes per staff member in 10 minutes
LOGIN_TRIES, LOGIN_WINDOW = 20, 900                      # failed admin logins per visitor address in 15 minutes


def binding(kv: KV) -> Attempts:
    return Attempts(kv, keys.bind_failures, BIND_TRIES, BIND_WINDOW)


def binding_by_everyone(kv: KV) -> Attempts:
    """Wrong codes from every openid together: many openids do not make many more guesses."""
    return Attempts(kv, keys.bind_failures_all, BIND_TRIES_ALL, BIND_WINDOW)


def check_in(kv: KV) -> Attempts:
    return Attempts(kv, keys.check_in_failures, CHECK_IN_TRIES, CHECK_IN_WINDOW)


def login(kv: KV) -> Attempts:
    return Attempts(kv, keys.login_failures, LOGIN_TRIES, LOGIN_WINDOW)
