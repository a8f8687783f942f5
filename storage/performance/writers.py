"""The SQLite writers queue: writers wait for SQLite's one writer here, in turn, not in SQLite's busy-retry."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time

log = logging.getLogger("nanhu.db")


class SqliteWriters:
    """SQLite's one writer, queued for here rather than in SQLite's busy-retry: a thread lock within the process,
    then an flock on `<database>.writers` across processes. If that file cannot be opened, SQLite's own locking
    decides, as it does for a writer that waited too long."""

    def __init__(self, path: str | None, timeout: float):
        self._threads = threading.RLock()
        self._path = f"{path}.writers" if path else None
        self._timeout = timeout
        self._fd: int | None = None
        self._fd_pid = 0
        self._depth = 0
        self._file_held = False
        self._waiter = FlockWaiter()

    def acquire(self) -> bool:
        """True once this thread may write; False if not had within the timeout (SQLite then decides)."""
        give_up = time.monotonic() + self._timeout
        if not self._threads.acquire(timeout=self._timeout):
            return False
        try:
            if self._depth == 0 and self._open():
                self._file_held = self._waiter.lock(self._fd, give_up)
                if not self._file_held:
                    self._threads.release()
                    return False
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._file_held:
            self._file_held = False
            if self._fd_pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _open(self) -> bool:
        """The lock file is open in this process (an inherited descriptor would share the parent's lock)."""
        if self._path is None:
            return False
        if self._fd_pid != os.getpid():
            try:
                # read-only is enough for flock, so a file another OS user created (the CLI under sudo) still works
                self._fd = os.open(self._path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError as exc:
                log.warning("SQLite writers queue off (%s: %s): SQLite's busy-retry decides instead",
                            type(exc).__name__, self._path)
                self._path = None
                return False
            self._fd_pid = os.getpid()
        return True


class FlockWaiter:
    """Takes an flock, waiting for it in a thread of its own so that the writer asking can give up; a lock won
    for a writer that gave up is let go at once. While the thread still waits for such a writer, a new one queues
    behind it rather than take the lock on the same descriptor (where flock would not stop it)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._ready = threading.Condition(self._mutex)
        self._asks: list[_Ask] = []
        self._blocking = False  # the thread is taking the lock for an ask
        self._thread: threading.Thread | None = None
        self._pid = 0

    def lock(self, fd: int, give_up: float) -> bool:
        """True once `fd` holds the lock; False if not by `give_up` (time.monotonic)."""
        ask = _Ask(fd)
        with self._mutex:
            if self._pid != os.getpid():  # threads do not survive a fork
                self._asks.clear()
                self._blocking = False
                self._thread = None
                self._pid = os.getpid()
            if not self._blocking and not self._asks:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._run, name="nanhu-sqlite-writers", daemon=True)
                thread.start()
                self._thread = thread
            self._asks = [a for a in self._asks if a.state != _Ask.GIVEN_UP]
            self._asks.append(ask)
            self._ready.notify()
        ask.won.wait(max(0.0, give_up - time.monotonic()))
        with self._mutex:
            if ask.state == _Ask.WON:
                return True
            ask.state = _Ask.GIVEN_UP
            return False

    def _run(self) -> None:
        while True:
            with self._mutex:
                while not self._asks:
                    self._ready.wait()
                ask = self._asks.pop(0)
                if ask.state == _Ask.GIVEN_UP:
                    continue
                self._blocking = True
            try:
                fcntl.flock(ask.fd, fcntl.LOCK_EX)
                won = True
            except OSError as exc:  # the writer gives up at once, and SQLite's own locking decides
                log.warning("SQLite writers queue: flock failed (%s)", type(exc).__name__)
                won = False
            with self._mutex:
                self._blocking = False
                if won and ask.state == _Ask.GIVEN_UP:
                    try:
                        fcntl.flock(ask.fd, fcntl.LOCK_UN)
                    except OSError as exc:
                        log.warning("SQLite writers queue: unlock failed (%s)", type(exc).__name__)
                elif won:
                    ask.state = _Ask.WON
                ask.won.set()


class _Ask:
    WAITING, WON, GIVEN_UP = range(3)

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.state = _Ask.WAITING
        self.won = threading.Event()

