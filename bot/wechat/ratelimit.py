"""A token bucket for calls to the WeChat API, shared by every worker through Redis.

Without Redis (jobs inside the web process) the bucket is kept per process.
"""
from __future__ import annotations

import threading
import time

import redis

from storage.kv import keys

# Refill by elapsed time, take one token if there is one; otherwise say how many ms until there is.
# Redis's own clock, so that workers on different machines agree.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class Unlimited:
    def take(self) -> None:
        return None


class RedisBucket:
    def __init__(self, client: redis.Redis, rate: float, key: str = keys.REDIS_PREFIX + keys.rate_limit("wechat")):
        self.rate = rate
        self.burst = max(1.0, rate)  # at most one second's worth at once
        self.key = key
        self._take = client.register_script(_TAKE)

    def take(self) -> None:
        """Block until a send is allowed."""
        while True:
            wait_ms = int(self._take(keys=[self.key], args=[self.rate, self.burst]))
            if wait_ms <= 0:
                return
            time.sleep(wait_ms / 1000)


class LocalBucket:
    def __init__(self, rate: float):
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


def bucket(client: redis.Redis | None, rate: float) -> Unlimited | RedisBucket | LocalBucket:
    if rate <= 0:
        return Unlimited()
    return RedisBucket(client, rate) if client is not None else LocalBucket(rate)
