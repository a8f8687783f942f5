"""Per-boot store files: the SQLite store is named after this boot of the machine, and what is still live in
earlier boots' files is carried into it before they are removed."""
from __future__ import annotations

import fcntl
import logging
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.kv.sqlite import SqliteKV


log = logging.getLogger("nanhu.kv")


def boot_id() -> str | None:
    """Twelve hex digits that name this boot of the machine (Linux's boot_id, the same in every container on it),
    or None where the system does not say."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            digits = f.read().strip().replace("-", "").lower()
    except OSError:
        return None
    return digits[:12] if re.fullmatch(r"[0-9a-f]{32}", digits) else None


def settle_earlier_stores(database: str, boot: str, kv: SqliteKV) -> None:
    """Carry what is still live in the stores of earlier boots (and the undated `<database>.kv` of earlier versions)
    into `kv`, this boot's, then remove them, each with its -wal and -shm; a store a process still has open (an
    older version's RQ worker during an upgrade, a process that could not read the boot id) is left alone. So a
    restart keeps conversations in progress, a satisfaction question's among them. Best effort."""
    folder, base = os.path.split(os.path.abspath(database))
    ours = re.compile(re.escape(base) + r"\.(?:([0-9a-f]{12})\.)?kv(-wal|-shm|-journal)?")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    stores: dict[str, list[str]] = {}
    for name in names:
        match = ours.fullmatch(name)
        if match and match.group(1) != boot:
            stores.setdefault(name[:len(name) - len(match.group(2) or "")], []).append(name)
    newest_first = sorted(stores, key=lambda store: _mtime(os.path.join(folder, store)), reverse=True)
    for store in newest_first:
        path = os.path.join(folder, store)
        if _in_use(path):
            log.warning("kv: %s is an earlier boot's or version's store, but a process has it open: kept", store)
            continue
        if os.path.exists(path):
            kv.carry_from(path)
        for name in stores[store]:
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:  # another process starting at the same time removed it first
                pass
            except OSError as exc:
                log.warning("kv: could not remove %s, an earlier boot's store (%s)", name, type(exc).__name__)


def _mtime(path: str) -> float:
    try:
        return max(os.path.getmtime(p) for p in (path, path + "-wal") if os.path.exists(p))
    except ValueError:
        return 0.0


_SHM_DMS = 128  # SQLite's unix VFS: every connection to a database in WAL mode holds a read lock on this byte


def _in_use(store: str) -> bool:
    """Whether another process has the SQLite file `store` open in WAL mode (the lock it holds on its -shm file)."""
    try:
        fd = os.open(store + "-shm", os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: keep it
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS)
        return False
    finally:
        os.close(fd)
