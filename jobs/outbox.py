"""The relay: after a commit, the due deliveries of the notices it wrote are queued in batches.

It sits below the runtime (which registers it on the database) and names the delivery job by its
dotted path, so it never imports `jobs.delivery`.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterator

from jobs.queue import InProcessJobs, QueueUnavailable, RQJobs
from storage import notices
from storage.db import Database

log = logging.getLogger("nanhu.delivery")

DELIVER = "jobs.delivery.deliver"


@dataclass
class Tally:
    """How many deliveries the relay queued while it was open (see `counting`)."""

    queued: int = 0


_tally: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("nanhu_outbox_tally", default=None)


@contextlib.contextmanager
def counting() -> Iterator[Tally]:
    """Count the deliveries queued after the commits made inside the block (an announcement's report)."""
    tally = Tally()
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


def relay(db: Database, jobs: RQJobs | InProcessJobs, batch_size: int, now: Callable[[], datetime],
          notice_id: int | None = None, requeue_after: timedelta | None = None) -> int:
    """Queue the due deliveries (of one notice, or all) in batches; returns how many were queued."""
    queued = 0
    tally = _tally.get()
    while ids := notices.due(db, now(), notice_id, requeue_after, limit=batch_size):
        try:
            jobs.enqueue(DELIVER, ids)
        except QueueUnavailable as exc:
            log.error("queue unavailable (%s): deliveries wait for the sweeper", exc)
            notices.forget_queued(db, ids)
            break
        queued += len(ids)
        if tally is not None:
            tally.queued += len(ids)
    return queued


def relay_after_commit(db: Database, jobs: RQJobs | InProcessJobs, batch_size: int,
                       now: Callable[[], datetime]) -> Callable[[tuple[int, ...]], None]:
    """The callback for `Database.on_commit`: the relay for each notice the transaction wrote."""
    def relay_notices(notice_ids: tuple[int, ...]) -> None:
        for notice_id in notice_ids:
            relay(db, jobs, batch_size, now, notice_id)
    return relay_notices
