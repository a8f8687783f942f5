"""The periodic sweep for due and stranded deliveries: at most one sweep per interval across all processes."""
from __future__ import annotations

import logging
import secrets
import threading

from bot.runtime import Runtime, use
from storage.kv import keys

log = logging.getLogger("nanhu.sweeper")


def sweep_once(rt: Runtime) -> bool:
    """Run a sweep unless another process has run one within the interval."""
    from jobs.delivery import sweep

    interval = rt.config.notices.sweep_interval
    if not rt.kv.set_nx(keys.SWEEPER, secrets.token_hex(4), interval * 0.9):
        return False
    with use(rt):
        sweep()
    return True


def start(rt: Runtime) -> threading.Event:
    """Sweep every notices.sweep_interval seconds on a daemon thread; set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(rt.config.notices.sweep_interval):
            try:
                sweep_once(rt)
            except Exception as exc:  # a failed sweep must not end the loop: the next one tries again
                log.error("sweep failed: %s", type(exc).__name__)

    threading.Thread(target=loop, name="nanhu-sweeper", daemon=True).start()
    return stop
