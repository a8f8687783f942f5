"""The shared store on Redis: each batched operation is one Lua script, run in one round trip."""
from __future__ import annotations

import os
import threading
from typing import Sequence

import redis

from storage.kv.base import Claimed, KVUnavailable
from storage.kv.keys import REDIS_PREFIX

_DELETE_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""

# the count, and its expiry set by the first increment only (PEXPIRE's NX needs Redis 7; this runs on 5 and 6 too)
_INCR = """
local n = redis.call('incr', KEYS[1])
if n == 1 or redis.call('pttl', KEYS[1]) < 0 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return n
"""

# KEYS: the keys to claim, then the keys to read. ARGV: how many to claim, then value and ttl (ms) of each.
_CLAIM = """
local n = tonumber(ARGV[1])
local taken, holder = 0, false
for i = 1, n do
  if redis.call('set', KEYS[i], ARGV[2 * i], 'PX', ARGV[2 * i + 1], 'NX') then
    taken = i
  else
    holder = redis.call('get', KEYS[i])
    break
  end
end
local out = {taken, holder}
for i = n + 1, #KEYS do out[#out + 1] = redis.call('get', KEYS[i]) end
return out
"""

# KEYS: keys to set, to delete, to release. ARGV: how many to set and to delete; value and ttl (ms, "" for
# none) of each set; the value each release must still hold.
_APPLY = """
local ns, nd = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = 3
for i = 1, ns do
  if ARGV[a + 1] == '' then redis.call('set', KEYS[i], ARGV[a])
  else redis.call('set', KEYS[i], ARGV[a], 'PX', ARGV[a + 1]) end
  a = a + 2
end
for i = ns + 1, ns + nd do redis.call('del', KEYS[i]) end
for i = ns + nd + 1, #KEYS do
  if redis.call('get', KEYS[i]) == ARGV[a] then redis.call('del', KEYS[i]) end
  a = a + 1
end
return 1
"""


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def _text(value) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisKV:
    def __init__(self, client: redis.Redis, prefix: str = REDIS_PREFIX):
        self.redis = client
        self.prefix = prefix
        self._delete_if = client.register_script(_DELETE_IF)
        self._incr = client.register_script(_INCR)
        self._claim = client.register_script(_CLAIM)
        self._apply = client.register_script(_APPLY)
        self._local = threading.local()

    def _k(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _run(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:  # down, slow, refused: the store is unavailable
            raise KVUnavailable(str(exc)) from exc

    def _script(self, script, keys: list[str], args: list):
        """EVALSHA on this thread's own connection: the two calls every message makes skip redis-py's
        command layers and pool bookkeeping (and its retries, which would only push an answer past
        WeChat's deadline). The connection has the pool's settings and reconnects when next used."""
        conn = self._thread_connection()
        try:
            try:
                return self._evalsha(conn, script, keys, args)
            except redis.ConnectionError:
                # most often a socket Redis closed while idle (a restart): the script never reached a
                # live server, so it is sent once more on a new connection, as redis-py's retry would
                conn.disconnect()
                return self._evalsha(conn, script, keys, args)
        except redis.RedisError as exc:
            if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                conn.disconnect()  # a reply may still be on its way: never reuse this socket
            raise KVUnavailable(str(exc)) from exc

    @staticmethod
    def _evalsha(conn: redis.Connection, script, keys: list[str], args: list):
        conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return conn.read_response()
        except redis.exceptions.NoScriptError:  # a restarted or flushed Redis: EVAL loads it again
            conn.send_command("EVAL", script.script, len(keys), *keys, *args)
            return conn.read_response()

    def _thread_connection(self) -> redis.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # first use in this thread, or in a forked child
            pool = self.redis.connection_pool
            local.connection = pool.connection_class(**pool.connection_kwargs)
            local.pid = os.getpid()
        return local.connection

    def get(self, key: str) -> str | None:
        return _text(self._run(self.redis.get, self._k(key)))

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._run(self.redis.set, self._k(key), value, px=int(ttl * 1000) if ttl else None)

    def set_nx(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._run(self.redis.set, self._k(key), value, px=int(ttl * 1000), nx=True))

    def incr(self, key: str, ttl: float) -> int:
        return int(self._run(self._incr, keys=[self._k(key)], args=[_ms(ttl)]))

    def delete(self, key: str) -> None:
        self._run(self.redis.delete, self._k(key))

    def delete_if(self, key: str, value: str) -> bool:
        return bool(self._run(self._delete_if, keys=[self._k(key)], args=[value]))

    def ping(self) -> None:
        self._run(self.redis.ping)

    def connect(self) -> None:
        self._run(self._thread_connection().connect)

    def close(self) -> None:
        """Nothing beyond the client, which the runtime closes (a thread's own connection goes with its thread)."""

    def claim(self, keys: Sequence[tuple[str, str, float]], reads: Sequence[str] = ()) -> Claimed:
        args: list = [len(keys)]
        for _, value, ttl in keys:
            args += [value, _ms(ttl)]
        out = self._script(self._claim, [self._k(k) for k, _, _ in keys] + [self._k(k) for k in reads], args)
        return Claimed(int(out[0]), _text(out[1]), tuple(_text(v) for v in out[2:]))

    def apply(self, sets: Sequence[tuple[str, str, float | None]] = (), deletes: Sequence[str] = (),
              releases: Sequence[tuple[str, str]] = ()) -> None:
        if not (sets or deletes or releases):
            return
        args: list = [len(sets), len(deletes)]
        for _, value, ttl in sets:
            args += [value, _ms(ttl) if ttl else ""]
        args += [value for _, value in releases]
        keys = [k for k, _, _ in sets] + list(deletes) + [k for k, _ in releases]
        self._script(self._apply, [self._k(k) for k in keys], args)

