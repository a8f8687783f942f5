"""SQLite's one writer, queued for across processes.

SQLite lets one transaction write at a time and makes the others sleep and retry (1 to 100 ms at a time),
which sets the tail latency. So writers from every process (web workers, the RQ worker, the CLI) queue for
it here first: a thread lock within the process, then a lock shared by the processes, kept in
`<database>.writers` beside the database file. Readers never queue.

The shared lock is a robust, process-shared pthread mutex mapped from that file: a writer sleeps in the
kernel until the writer before it lets go, gives up at its timeout, and takes the lock over at once if the
process holding it died. Where that is not available (not Linux with glibc, or a file this process may
only read), an flock on the same file is used instead, with a thread of its own that blocks in it so that
the writer can still give up. If the file cannot be opened at all, SQLite's own locking decides, as it
does for a writer that waited too long: the queue saves time, SQLite's lock keeps the data right.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import logging
import mmap
import os
import sys
import threading
import time
from functools import partial
from typing import Callable

log = logging.getLogger("nanhu.db")


class SqliteWriters:
    """`acquire()` before a write transaction, `release()` after it, in the same thread."""

    def __init__(self, path: str | None, timeout: float):
        self._threads = threading.RLock()
        self._path = f"{path}.writers" if path else None
        self._database = path
        self._timeout = timeout
        self._pid = 0
        self._fd = -1
        self._mutex: _SharedMutex | None = None
        self._try_mutex = False
        self._waiter = _FlockWaiter()
        self._depth = 0
        self._unlock: Callable[[], None] | None = None  # how the lock this thread holds is let go

    def acquire(self) -> bool:
        """True once this thread may write; False if not had within the timeout (SQLite then decides)."""
        give_up = time.monotonic() + self._timeout
        if not self._threads.acquire(timeout=self._timeout):
            return False
        try:
            if self._depth == 0 and self._open(give_up):
                if self._mutex is not None:
                    won, unlock = self._mutex.lock(give_up), self._mutex.unlock
                else:
                    won, unlock = self._waiter.lock(self._fd, give_up), partial(fcntl.flock, self._fd, fcntl.LOCK_UN)
                if not won:
                    self._threads.release()
                    return False
                self._unlock = unlock
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._unlock is not None:
            unlock, self._unlock = self._unlock, None
            unlock()
        self._threads.release()

    def _open(self, give_up: float) -> bool:
        """The lock file is open in this process (an inherited descriptor would share the parent's flock)."""
        if self._path is None:
            return False
        if self._pid != os.getpid():
            try:
                self._fd = _open_lock_file(self._path, self._database)
            except OSError as exc:
                log.warning("SQLite writers queue off (%s: %s): SQLite's busy-retry decides instead",
                            type(exc).__name__, self._path)
                self._path = None
                return False
            self._pid = os.getpid()
            self._mutex = None
            self._try_mutex = ROBUST_MUTEXES and fcntl.fcntl(self._fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR
        if self._mutex is not None and self._mutex.broken:
            log.warning("SQLite writers queue: the shared mutex cannot be used any more; flock instead")
            self._mutex, self._try_mutex = None, False
        if self._mutex is None and self._try_mutex:
            try:  # None while another process sets the file up: the flock this time, the mutex next time
                self._mutex = _SharedMutex.map(self._fd, give_up)
            except (OSError, ValueError) as exc:
                log.warning("SQLite writers queue: no shared mutex (%s); flock instead", type(exc).__name__)
                self._try_mutex = False
        return True


def _open_lock_file(path: str, database: str | None) -> int:
    """Read-write if this process may, else read-only (enough for flock): a file another OS user made (the CLI
    under sudo) still works. A file this process creates takes the database file's owner and mode, so that
    every process that may write the database may write it too."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            return os.open(path, os.O_RDWR)
        except PermissionError:
            return os.open(path, os.O_RDONLY)
    try:
        st = os.stat(database) if database else None
    except FileNotFoundError:  # SQLite creates it on first connect; until then the file keeps 0644
        st = None
    try:
        if st is not None:
            os.fchmod(fd, st.st_mode & 0o666)
            if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
                os.fchown(fd, st.st_uid, st.st_gid)
    except OSError as exc:
        log.warning("SQLite writers queue: could not give %s the database's owner and mode (%s)",
                    path, type(exc).__name__)
    return fd


# --- the robust, process-shared mutex ----------------------------------------------------------------

def _libc():
    if not sys.platform.startswith("linux"):  # the layout and constants below are Linux's (glibc, musl)
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        for name in ("pthread_mutexattr_setrobust", "pthread_mutexattr_setpshared", "pthread_mutex_consistent",
                     "pthread_mutex_trylock", "pthread_mutex_timedlock", "pthread_mutex_unlock"):
            getattr(libc, name).restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):  # a C library without robust mutexes
        return None


_LIBC = _libc()
ROBUST_MUTEXES = _LIBC is not None
_LAYOUT = b"nanhu writers mutex 1\0"  # written once the mutex is initialised; a changed layout changes it
_MUTEX_AT = 64                         # pthread_mutex_t is 40 bytes on x86-64, 48 on arm64
_FILE_SIZE = 256


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _timespec(seconds: float) -> _Timespec:
    return _Timespec(int(seconds), int((seconds % 1) * 1e9))


_CLOCKLOCK = getattr(_LIBC, "pthread_mutex_clocklock", None) if _LIBC is not None else None
if _CLOCKLOCK is not None:
    _CLOCKLOCK.restype = ctypes.c_int


class _SharedMutex:
    """A pthread mutex in a shared mapping of the lock file: PTHREAD_PROCESS_SHARED, so the processes that map
    it exclude each other; PTHREAD_MUTEX_ROBUST, so a process that dies holding it does not stop the rest
    (the next one to lock it gets EOWNERDEAD and takes it over). The threads waiting for it sleep in the
    kernel and the one woken is the one that runs: no other thread is involved."""

    def __init__(self, buffer: mmap.mmap) -> None:
        self._map = buffer  # kept open as long as the process runs: the mutex lives in it
        self._addr = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(buffer, _MUTEX_AT)))
        self.broken = False

    @classmethod
    def map(cls, fd: int, give_up: float) -> "_SharedMutex | None":
        """The mutex in `fd`'s file, set up by the first process to map it; None if the file is not free to be
        looked at by `give_up` (time.monotonic). OSError if it cannot be mapped or set up here."""
        if not _flock_until(fd, give_up):  # one process sets the file up; the others wait for it
            return None
        try:
            if os.fstat(fd).st_size < _FILE_SIZE:
                os.ftruncate(fd, _FILE_SIZE)
            mutex = cls(mmap.mmap(fd, _FILE_SIZE))
            if mutex._map[:len(_LAYOUT)] != _LAYOUT:
                mutex._init()
                mutex._map[:len(_LAYOUT)] = _LAYOUT
            return mutex
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _init(self) -> None:
        attr = ctypes.create_string_buffer(64)  # pthread_mutexattr_t is 4 or 8 bytes
        for call in (lambda: _LIBC.pthread_mutexattr_init(attr),
                     lambda: _LIBC.pthread_mutexattr_setpshared(attr, 1),  # PTHREAD_PROCESS_SHARED
                     lambda: _LIBC.pthread_mutexattr_setrobust(attr, 1),   # PTHREAD_MUTEX_ROBUST
                     lambda: _LIBC.pthread_mutex_init(self._addr, attr)):
            rc = call()
            if rc:
                raise OSError(rc, os.strerror(rc))
        _LIBC.pthread_mutexattr_destroy(attr)

    def lock(self, give_up: float) -> bool:
        """True once held; False if not by `give_up` (time.monotonic)."""
        rc = _LIBC.pthread_mutex_trylock(self._addr)
        if rc == errno.EBUSY:
            if _CLOCKLOCK is not None:  # glibc 2.30+: the deadline on the monotonic clock, as give_up is
                rc = _CLOCKLOCK(self._addr, time.CLOCK_MONOTONIC, ctypes.byref(_timespec(give_up)))
            else:  # CLOCK_REALTIME: a clock step while waiting lengthens or shortens this one wait
                at = time.time() + max(0.0, give_up - time.monotonic())
                rc = _LIBC.pthread_mutex_timedlock(self._addr, ctypes.byref(_timespec(at)))
        if rc == 0:
            return True
        if rc == errno.ETIMEDOUT:
            return False
        if rc == errno.EOWNERDEAD:
            # SQLite itself discards what the dead writer had not committed: nothing to repair here
            log.warning("SQLite writers queue: a process died while writing; its place is taken over")
            _LIBC.pthread_mutex_consistent(self._addr)
            return True
        self.broken = True  # ENOTRECOVERABLE, or a mutex this process cannot use
        log.warning("SQLite writers queue: shared mutex failed (%s)", errno.errorcode.get(rc, rc))
        return False

    def unlock(self) -> None:
        _LIBC.pthread_mutex_unlock(self._addr)


def _flock_until(fd: int, give_up: float) -> bool:
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() + pause > give_up:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


# --- the flock, where there is no shared mutex --------------------------------------------------------

class _FlockWaiter:
    """Takes an flock, waiting for it in a thread of its own so that the writer asking can give up.

    A blocking flock wakes the moment the other process lets go (polling for it costs a context switch
    per poll, and leaves the lock idle for up to a poll's pause), but it cannot time out. So a daemon
    thread blocks in it, the writer waits on an event until its deadline, and a lock won for a writer
    that gave up is let go at once. Only one writer per process asks at a time (the thread lock comes
    first); while the thread still waits for an earlier writer that gave up, a new writer queues behind
    it rather than taking the lock itself on the same descriptor (where flock would not stop it)."""

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
