"""One push's bookkeeping in the shared store, in two round trips.

`Turn.open` claims, in order and in one call: the signature (a replayed signature with another body is
refused), the message (WeChat's retries of it wait for the first reply) and the resident's lease (one
message at a time per resident, across every process). The same call reads the resident's open
conversation and their cached profile. `Turn.close` stores the reply for WeChat's retries, the
conversation and the profile, and frees the lease, again in one call.

The rare paths fall back to waiting: a retry while its first request still works waits for its
reply (`Dedup.wait_for`), and a resident's message while their previous one is still handled waits
for the lease (`Turn.wait_for_lease`).
"""
from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import time
from dataclasses import dataclass, field

from bot.webhook.dedup import Dedup
from storage import residents
from storage.conversations import Conversation, ConversationStore
from storage.kv import KV, Claimed, keys
from storage.locks import LockTimeout

_counter = itertools.count()
_salt = (0, "")


def _lease_token() -> str:
    """Unique among the lease's holders: a random salt per process (drawn again after a fork) and a counter,
    instead of a system call for random bytes on every message."""
    global _salt
    if _salt[0] != os.getpid():
        _salt = (os.getpid(), secrets.token_hex(6))
    return f"{_salt[1]}.{next(_counter):x}"


REPLAYED = "replayed"    # the signature was seen with another body: refuse
DUPLICATE = "duplicate"  # another request has this message: wait for its reply


@dataclass(frozen=True)
class Settings:
    reply_deadline: float    # app.reply_deadline
    max_clock_skew: int      # wechat.max_clock_skew
    idle_timeout: int        # conversation.idle_timeout

    @property
    def nonce_ttl(self) -> float:
        # beyond the skew window old timestamps are refused anyway; with the check off, keep a day
        return 2 * self.max_clock_skew if self.max_clock_skew else 86400

    @property
    def lease_ttl(self) -> float:
        return self.reply_deadline + 10


@dataclass
class Turn:
    kv: KV
    settings: Settings
    openid: str
    dedup_key: str
    leased: bool = False
    conversation: Conversation | None = None
    resident: residents.ResidentView | None = None  # from the cache; None: look them up
    _token: str = field(default_factory=_lease_token)
    _sets: list[tuple[str, str, float | None]] = field(default_factory=list)
    _deletes: list[str] = field(default_factory=list)
    _resident_stale: bool = False
    _looked_up: residents.ResidentView | None = None  # read from the database this turn: cache it

    @classmethod
    def open(cls, kv: KV, settings: Settings, *, openid: str, dedup_key: str, signature: str, body: bytes,
             resident: bool) -> "Turn | str":
        """The claimed turn, or REPLAYED / DUPLICATE. `resident`: take the resident's lease and read
        their state (False for events that are not the resident talking)."""
        turn = cls(kv, settings, openid, dedup_key)
        digest = hashlib.sha256(body).hexdigest()
        # the key is the signature itself: however timestamp and nonce are re-split, it is the same key
        claims = [(keys.nonce(signature), digest, settings.nonce_ttl),
                  (Dedup.key(dedup_key), Dedup.PENDING, settings.reply_deadline * 2)]
        if resident:
            claims.append((turn._lease_key, turn._token, settings.lease_ttl))
        reads = turn._reads() if resident else []
        claimed = kv.claim(claims, reads)
        if claimed.taken == 0:
            if claimed.holder is not None and claimed.holder != digest:
                return REPLAYED
            claimed = kv.claim(claims[1:], reads)  # the same push again (a retry): the nonce is not a replay
            claimed = Claimed(claimed.taken + 1, claimed.holder, claimed.values)
        if claimed.taken == 1:
            return DUPLICATE
        if resident:
            turn.leased = claimed.taken == 3
            if turn.leased:
                turn._take(claimed.values)
        return turn

    @property
    def _lease_key(self) -> str:
        return keys.lease(keys.resident_lease_name(self.openid))

    @property
    def _conversation_key(self) -> str:
        return ConversationStore.key(self.openid)

    @property
    def _resident_key(self) -> str:
        return keys.resident_profile(self.openid)

    def _reads(self) -> list[str]:
        return [self._conversation_key, self._resident_key]

    def _take(self, values: tuple[str | None, ...]) -> None:
        conversation, resident = values
        self.conversation = ConversationStore.decode(conversation) if conversation else None
        self.resident = residents.decode(resident) if resident else None

    def wait_for_lease(self, wait: float, poll: float = 0.02) -> None:
        """Hold the resident's lease (when the previous message still had it at `open`), then read
        their state afresh; LockTimeout after `wait` seconds."""
        give_up = time.monotonic() + wait
        while not self.leased:
            claimed = self.kv.claim([(self._lease_key, self._token, self.settings.lease_ttl)], self._reads())
            if claimed.taken:
                self.leased = True
                self._take(claimed.values)
                return
            if time.monotonic() >= give_up:
                raise LockTimeout(keys.resident_lease_name(self.openid))
            time.sleep(poll)

    def keep_conversation(self, conversation: Conversation | None, changed: bool) -> None:
        """Save where the conversation stands (any message in a flow restarts its idle clock)."""
        if conversation is not None:
            self._sets.append((self._conversation_key, ConversationStore.encode(conversation),
                               self.settings.idle_timeout))
        elif changed:
            self._deletes.append(self._conversation_key)

    def keep_resident(self, resident: residents.ResidentView) -> None:
        self._looked_up = resident

    def forget_resident(self) -> None:
        """The resident changed during the turn: their cached profile is stale, whatever else happens."""
        self._resident_stale = True

    def close(self, reply_xml: str) -> None:
        """Store the reply for WeChat's retries and what the turn kept; free the lease."""
        sets = [(Dedup.key(self.dedup_key), Dedup.DONE + reply_xml, Dedup.REPLY_TTL), *self._sets]
        deletes = list(self._deletes)
        if self._resident_stale:
            deletes.append(self._resident_key)
        elif self._looked_up is not None:
            sets.append((self._resident_key, residents.encode(self._looked_up), residents.CACHE_SECONDS))
        releases = [(self._lease_key, self._token)] if self.leased else []
        self.kv.apply(sets, deletes, releases)
        self.leased = False

    def discard(self) -> None:
        """The handler failed: the conversation is not saved (a stale profile is still dropped)."""
        self._sets.clear()
        self._deletes.clear()
        self._looked_up = None
