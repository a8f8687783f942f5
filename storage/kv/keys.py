"""Every key of the shared store, built in one place: what each holds is said once, and no two kinds collide."""
from __future__ import annotations

REDIS_PREFIX = "nanhu:"  # before every key on Redis, which other applications may share


# --- receiving a push ------------------------------------------------------------------------------

def nonce(signature: str) -> str:
    """A push's signature, held for the replay window: the same signature with another body is a replay."""
    return f"nonce:{signature}"


def dedup(dedup_key: str) -> str:
    """A message being handled, then its reply, for WeChat's retries (`bot.webhook.dedup`)."""
    return f"dedup:{dedup_key}"


# --- leases ----------------------------------------------------------------------------------------

def lease(name: str) -> str:
    """The lease named `name` (`storage.locks.lease`): one holder at a time across every process."""
    return f"lock:{name}"


def resident_lease_name(openid: str) -> str:
    """The lease a resident's messages take in turn."""
    return f"resident:{openid}"


def token_lease_name(appid: str) -> str:
    """The lease under which one process fetches a new access token."""
    return f"token:{appid}"


SWEEPER = "sweeper"  # held by the process whose sweeper runs this round


# --- a resident's state ----------------------------------------------------------------------------

def conversation(openid: str) -> str:
    """The resident's open conversation (`storage.conversations`)."""
    return f"conv:{openid}"


def resident_profile(openid: str) -> str:
    """The resident's profile, cached between messages."""
    return f"resident:{openid}"


def events_shown(openid: str) -> str:
    """The events last listed to the resident, so that 报名 2 means what they saw."""
    return f"evlist:{openid}"


# --- failed attempts (`storage.attempts`) ----------------------------------------------------------

def bind_failures(openid: str) -> str:
    return f"bindfail:{openid}"


def bind_failures_all(_: str = "") -> str:
    """Wrong binding codes from every openid together: the limit that holds when one guesser uses many."""
    return "bindfail-all"


def check_in_failures(openid: str) -> str:
    return f"checkinfail:{openid}"


def login_failures(address: str) -> str:
    return f"loginfail:{address}"


# --- WeChat's API ----------------------------------------------------------------------------------

def wechatpy(name: str) -> str:
    """A value wechatpy keeps in its session storage (the access token among them)."""
    return f"wechatpy:{name}"


def rate_limit(bucket: str) -> str:
    """A token bucket's state (Redis only: `bot.wechat.ratelimit`)."""
    return f"ratelimit:{bucket}"


# --- the store itself ------------------------------------------------------------------------------

def carried(store_file: str) -> str:
    """Marks that an earlier boot's store file was carried into this one."""
    return f"kv:carried:{store_file}"
