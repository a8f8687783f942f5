"""What every backend of the shared store offers, and what it raises when it cannot."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


class KVUnavailable(Exception):
    """The shared store did not answer (Redis down or slow, database locked)."""


@dataclass(frozen=True)
class Claimed:
    """What `claim` did: the first `taken` keys are now held; the next one was not free."""

    taken: int
    holder: str | None              # the value of the first key not taken; None when all were taken
    values: tuple[str | None, ...]  # the keys read, in the order asked


class KV(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl: float | None = None) -> None: ...
    def set_nx(self, key: str, value: str, ttl: float) -> bool: ...
    def delete(self, key: str) -> None: ...
    def incr(self, key: str, ttl: float) -> int:
        """Add one to the count under `key`, atomically, and return it. A count that starts (or starts over,
        its key having expired) expires `ttl` seconds later; adding to it does not move that."""
        ...

    def delete_if(self, key: str, value: str) -> bool: ...
    def ping(self) -> None: ...
    def connect(self) -> None:
        """Open a connection for the calling thread now, if the backend keeps its own."""
        ...

    def close(self) -> None:
        """Close the connections the backend keeps of its own (shutdown, tests)."""
        ...

    def claim(self, keys: Sequence[tuple[str, str, float]], reads: Sequence[str] = ()) -> Claimed:
        """`set_nx` each (key, value, ttl) in order, keys distinct, stopping at the first key already held; then
        read `reads`. One round trip; the keys are taken atomically, and the reads may follow in a statement of
        their own (SQLite), which the resident's lease, taken last, keeps meaningful."""
        ...

    def apply(self, sets: Sequence[tuple[str, str, float | None]] = (), deletes: Sequence[str] = (),
              releases: Sequence[tuple[str, str]] = ()) -> None:
        """`set` each (key, value, ttl), `delete` each key, then `delete_if` each (key, value). One round
        trip, atomic."""
        ...
