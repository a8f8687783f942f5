"""A lease lock on the shared store: one holder at a time across every process."""
from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import Iterator

from storage.kv import KV, KVUnavailable, keys

log = logging.getLogger("nanhu.locks")


class LockTimeout(Exception):
    """The lock stayed taken for longer than the caller was willing to wait."""


@contextlib.contextmanager
def lease(kv: KV, name: str, *, ttl: float = 10.0, wait: float = 3.0, poll: float = 0.02) -> Iterator[None]:
    """Hold `lock:<name>` for at most `ttl` seconds; wait up to `wait` seconds to get it."""
    key = keys.lease(name)
    token = secrets.token_hex(8)
    give_up = time.monotonic() + wait
    while not kv.set_nx(key, token, ttl):
        if time.monotonic() >= give_up:
            raise LockTimeout(name)
        time.sleep(poll)
    try:
        yield
    finally:
        try:
            kv.delete_if(key, token)
        except KVUnavailable as exc:  # the lease expires by itself after ttl; the work inside is done
            log.error("lock %s not released (%s); it expires in %.0fs", name, exc, ttl)
