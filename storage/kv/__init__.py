"""Short-lived shared state: Redis when configured, else a SQL table.

Deduplication, conversation state, leases and the WeChat access token live here, outside the web process, so
they survive a restart and are shared by every worker. One module per backend (`redis`, `sql` for PostgreSQL,
`sqlite`), the same operations in each; every key is built in `keys`.
"""
from __future__ import annotations

from storage.db import Database
from storage.kv.base import KV, Claimed, KVUnavailable
from storage.kv.redis import RedisKV
from storage.kv.sql import SqlKV
from storage.kv.sqlite import SqliteKV
from storage.performance.boot_stores import boot_id, settle_earlier_stores

__all__ = ["KV", "Claimed", "KVUnavailable", "RedisKV", "SqlKV", "SqliteKV", "boot_id", "for_database"]


def for_database(db: Database) -> KV:
    """The shared store for a deployment without Redis: on PostgreSQL the database's `kv` table; on SQLite a file of
    its own beside the database, named after this boot of the machine (`<database>.<boot>.kv`) and written without
    waiting for the disk, into which what is live in earlier boots' files is carried before they are removed. Where
    the system does not say which boot this is, `<database>.kv`, written with the database's care."""
    if db.sqlite_file is None:
        return SqlKV(db)
    boot = boot_id()
    if boot is None:
        return SqliteKV(f"{db.sqlite_file}.kv", db.timeout, owner=db.sqlite_file)
    kv = SqliteKV(f"{db.sqlite_file}.{boot}.kv", db.timeout, owner=db.sqlite_file, volatile=True)
    settle_earlier_stores(db.sqlite_file, boot, kv)
    return kv

