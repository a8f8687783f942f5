"""Configuration: one TOML file named by NANHU_CONFIG, every key overridable by NANHU_<SECTION>_<KEY>.

Each key is declared once below with its type, default and check; `config.example.toml` documents
the same keys for people. A missing or invalid value raises ConfigError naming the key.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse, urlsplit

REQUIRED = object()


class ConfigError(Exception):
    """A configuration problem, phrased for the person deploying nanhu."""


@dataclass(frozen=True)
class Key:
    type: type
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None  # returns an error message, or None when fine


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def _at_least(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"must be at least {low}"


def _nonempty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def proxy_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """app.trusted_proxies as networks: comma-separated addresses or CIDR ranges."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def is_trusted_proxy(address: str, networks: tuple) -> bool:
    try:
        return any(ipaddress.ip_address(address) in net for net in networks)
    except ValueError:
        return False


def _proxies(v: str) -> str | None:
    try:
        proxy_networks(v)
    except ValueError:
        return "must be IP addresses or ranges separated by commas, e.g. 127.0.0.1, 10.0.0.0/8"
    return None


def _url(*schemes: str) -> Callable[[Any], str | None]:
    def check(v: str) -> str | None:
        if not v:
            return None
        parsed = urlparse(v)
        if parsed.scheme.split("+")[0] not in schemes:
            return f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
        return None
    return check


def _aes_key(v: str) -> str | None:
    if v == "":
        return None
    if len(v) != 43:
        return "must be the 43-character EncodingAESKey from the WeChat admin console"
    try:
        if len(base64.b64decode(v + "=", validate=True)) != 32:
            raise binascii.Error
    except (binascii.Error, ValueError):
        return "is not a valid EncodingAESKey (base64 of 32 bytes, 43 characters)"
    return None


def _template_ids(v: dict) -> str | None:
    bad = [k for k, t in v.items() if not isinstance(t, str) or not t.strip()]
    return f"each template id must be a non-empty string (bad: {', '.join(map(str, bad))})" if bad else None


# The sub-district's "five departments, two offices, two centres" (五部两室两中心); replace with the real ones.
DEFAULT_CATEGORIES = {
    "环境卫生": {"department": "城区治理办公室", "hours": 48},
    "市容秩序": {"department": "城区治理办公室", "hours": 72},
    "治安安全": {"department": "公共安全办公室", "hours": 24},
    "物业管理": {"department": "社会事务部", "hours": 72},
    "交通出行": {"department": "城区治理办公室", "hours": 120},
    "噪音扰民": {"department": "公共安全办公室", "hours": 48},
    "公共设施": {"department": "发展更新部", "hours": 120},
    "民生服务": {"department": "党群服务中心", "hours": 72},
    "其他": {"department": "党群服务中心", "hours": 120},
}


def _categories(v: dict) -> str | None:
    if "其他" not in v:
        return "must include the category 其他 (where an opinion goes when no other fits)"
    for name, spec in v.items():
        if not 1 <= len(name) <= 16:
            return f"category names are 1-16 characters (bad: {name!r})"
        if not isinstance(spec, dict) or set(spec) != {"department", "hours"}:
            return f"{name} must be a table {{ department = \"...\", hours = N }}"
        if not isinstance(spec["department"], str) or not 1 <= len(spec["department"].strip()) <= 64:
            return f"{name}.department must be a name of 1-64 characters"
        hours = spec["hours"]
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 1 <= hours <= 24 * 90:
            return f"{name}.hours must be a number of hours between 1 and 2160"
    return None


def _database_url(v: str) -> str | None:
    if not (v.startswith("sqlite:") or v.startswith("postgresql")):
        return "must be a sqlite:/// or postgresql+psycopg:// URL"
    return None


SCHEMA: dict[str, dict[str, Key]] = {
    "app": {
        "env": Key(str, "development", _one_of("development", "production", "test")),
        "base_url": Key(str, "http://127.0.0.1:8000", _url("http", "https")),
        "secret_key": Key(str, REQUIRED, _nonempty),
        "log_level": Key(str, "INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR")),
        "timezone": Key(str, "Asia/Shanghai", _nonempty),
        "reply_deadline": Key(float, 4.0, lambda v: None if 0.5 <= v <= 4.5
                              else "must be between 0.5 and 4.5 seconds (WeChat waits 5)"),
        "lexicon_log": Key(str, "var/unknown-messages.log"),
        "trusted_proxies": Key(str, "", _proxies),
    },
    "wechat": {
        "app_id": Key(str, REQUIRED, _nonempty),
        "app_secret": Key(str, REQUIRED, _nonempty),
        "token": Key(str, REQUIRED, lambda v: None if 3 <= len(v) <= 32 and v.isalnum()
                     else "must be 3-32 letters or digits, as in the WeChat admin console"),
        "encoding_aes_key": Key(str, "", _aes_key),
        "mode": Key(str, "plain", _one_of("plain", "compatible", "safe")),
        "account": Key(str, "gh_nanhu", _nonempty),
        "api_base_url": Key(str, "https://api.weixin.qq.com/cgi-bin/", _url("http", "https")),
        "max_clock_skew": Key(int, 300, _at_least(0)),
        "http_timeout": Key(float, 5.0, lambda v: None if 0 < v <= 30 else "must be between 0 and 30 seconds"),
        "menu_file": Key(str, ""),
    },
    "database": {
        "url": Key(str, "sqlite:///var/nanhu.db", _database_url),
        "timeout": Key(float, 2.0, _at_least(0.1)),
    },
    "redis": {
        "url": Key(str, "", _url("redis", "rediss", "unix")),
        "timeout": Key(float, 1.0, _at_least(0.05)),
        "queue": Key(str, "nanhu", _nonempty),
    },
    "conversation": {
        "idle_timeout": Key(int, 1800, _at_least(1)),
    },
    "opinions": {
        "feedback_days": Key(int, 7, _at_least(1)),
        "categories": Key(dict, DEFAULT_CATEGORIES, _categories),
        "max_per_hour": Key(int, 5, _at_least(1)),
    },
    "party": {
        "points_claim": Key(int, 5, _at_least(0)),
        "points_progress": Key(int, 2, _at_least(0)),
        "points_completed": Key(int, 10, _at_least(0)),
    },
    "notices": {
        "cs_window_hours": Key(float, 48.0,
                               lambda v: None if 0 <= v <= 48 else "must be between 0 and 48 (WeChat's window)"),
        "templates": Key(dict, {}, _template_ids),
        "max_attempts": Key(int, 5, _at_least(1)),
        "batch_size": Key(int, 100, lambda v: None if 1 <= v <= 1000 else "must be between 1 and 1000"),
        "mass_send_threshold": Key(int, 0, _at_least(0)),
        "rate_per_second": Key(float, 0.0, _at_least(0)),
        "announcement_daily_cap": Key(int, 3, _at_least(0)),
        "send_concurrency": Key(int, 8, lambda v: None if 1 <= v <= 64 else "must be between 1 and 64"),
        "sending_timeout": Key(int, 120, lambda v: None if 10 <= v <= 540
                               else "must be between 10 and 540 seconds "
                                    "(under WeChat's 10-minute client_msg_id window)"),
        "sweep_interval": Key(int, 30, _at_least(1)),
    },
    "dev": {
        "host": Key(str, "127.0.0.1", _nonempty),
        "port": Key(int, 8000, lambda v: None if 1 <= v <= 65535 else "must be a TCP port"),
        "fake_wechat_port": Key(int, 8011, lambda v: None if 1 <= v <= 65535 else "must be a TCP port"),
        "web_workers": Key(int, 2, _at_least(1)),
    },
}


class Section:
    def __init__(self, name: str, values: Mapping[str, Any]):
        self._name = name
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"<Section {self._name}>"


class Config:
    """Validated settings: `config.wechat.token`, `config.database.url`, ..."""

    app: Section
    wechat: Section
    database: Section
    redis: Section
    conversation: Section
    opinions: Section
    party: Section
    notices: Section
    dev: Section

    def __init__(self, values: dict[str, dict[str, Any]], source: str):
        self.source = source
        self._values = values
        for section, keys in values.items():
            setattr(self, section, Section(section, keys))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {s: dict(k) for s, k in self._values.items()}

    def replace(self, **overrides: Any) -> "Config":
        """A copy with `section_key=value` overrides, validated like the file (used by tests and tools)."""
        raw = self.as_dict()
        for name, value in overrides.items():
            section, _, key = name.partition("_")
            raw.setdefault(section, {})[key] = value
        return build(raw, {}, self.source)

    @property
    def redis_enabled(self) -> bool:
        return bool(self.redis.url)


def _secret(key_name: str) -> bool:
    return any(word in key_name for word in ("secret", "token", "key", "password", "url"))  # URLs may hold passwords


def env_flag(value: str) -> bool:
    """A yes or no from the environment: 1, true, yes or 0, false, no, in any case; ValueError otherwise."""
    if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
        raise ValueError(value)
    return value.lower() in ("1", "true", "yes")


def _coerce(name: str, key: Key, value: Any, from_env: bool) -> Any:
    if from_env and isinstance(value, str):
        try:
            if key.type is bool:
                return env_flag(value)
            if key.type is dict:  # a table from the environment is written as JSON
                parsed = json.loads(value)
                if not isinstance(parsed, dict):
                    raise ValueError
                return parsed
            return key.type(value)
        except ValueError:
            raise ConfigError(f"{name}: expected {key.type.__name__}, got {value!r}") from None
    if key.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, key.type) or (key.type is int and isinstance(value, bool)):
        raise ConfigError(f"{name}: expected {key.type.__name__}, got {value!r}")
    return value


# NANHU_* variables that are not settings
_OTHER_VARIABLES = {"NANHU_CONFIG", "NANHU_BIND", "NANHU_ACCESS_LOG", "NANHU_THREADS", "NANHU_PIN_WORKERS"}


def _check_env_names(env: Mapping[str, str]) -> None:
    """A misspelt override must not be ignored silently."""
    import difflib

    known = {f"NANHU_{s.upper()}_{k.upper()}" for s, keys in SCHEMA.items() for k in keys}
    for name in env:
        if name.startswith("NANHU_") and not name.startswith("NANHU_TEST_") and name not in known | _OTHER_VARIABLES:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown setting {name} in the environment{hint}")


def build(raw: Mapping[str, Any], env: Mapping[str, str], source: str) -> Config:
    _check_env_names(env)
    unknown = [f"{s}" for s in raw if s not in SCHEMA]
    unknown += [f"{s}.{k}" for s, ks in raw.items() if s in SCHEMA and isinstance(ks, dict)
                for k in ks if k not in SCHEMA[s]]
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]} (see config.example.toml)")
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{section}: expected a [{section}] table")
        values[section] = {}
        for key_name, key in keys.items():
            name = f"{section}.{key_name}"
            env_name = f"NANHU_{section.upper()}_{key_name.upper()}"
            if env_name in env:
                value = _coerce(f"{name} (from {env_name})", key, env[env_name], True)
            elif key_name in given:
                value = _coerce(name, key, given[key_name], False)
            elif key.default is REQUIRED:
                raise ConfigError(f"{name} is missing: set it in {source} or in {env_name}")
            else:
                value = key.default
            if key.check and (problem := key.check(value)):
                shown = "" if _secret(key_name) else f" (got {value!r})"
                raise ConfigError(f"{name} {problem}{shown}")
            values[section][key_name] = value
    if values["wechat"]["mode"] != "plain" and not values["wechat"]["encoding_aes_key"]:
        raise ConfigError("wechat.encoding_aes_key is missing: it is required when wechat.mode is "
                          f"{values['wechat']['mode']!r}")
    if not _local_development(values):
        _check_secrets(values)
    return Config(values, source)


EXAMPLE_TOKEN = "nanhudemotoken"
MIN_SECRET_BYTES = 32
_GENERATE = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _local_development(values: Mapping[str, Any]) -> bool:
    """A development or test run that only this machine reaches (app.base_url on loopback): the one place
    the example's secret key and token are accepted."""
    host = urlsplit(values["app"]["base_url"]).hostname or ""
    return values["app"]["env"] in ("development", "test") and (host == "localhost" or _loopback(host))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_secrets(values: Mapping[str, Any]) -> None:
    where = f"app.base_url is {values['app']['base_url']} and app.env {values['app']['env']}"
    secret = values["app"]["secret_key"]
    if secret.startswith("dev-"):
        raise ConfigError(f"app.secret_key still holds the example's development value ({where}); {_GENERATE}")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"app.secret_key is shorter than {MIN_SECRET_BYTES} bytes; {_GENERATE}")
    if values["wechat"]["token"] == EXAMPLE_TOKEN:
        raise ConfigError(f"wechat.token still holds the example's value ({where}); "
                          "use the token set in the WeChat admin console (基本配置 → 服务器配置)")


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("NANHU_CONFIG"):
        return Path(env["NANHU_CONFIG"])
    return Path("nanhu.toml")


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (NANHU_CONFIG, else ./nanhu.toml) and apply NANHU_* overrides."""
    env = os.environ if env is None else env
    file = Path(path) if path else config_path(env)
    raw: dict[str, Any] = {}
    if file.exists():
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{file}: not UTF-8 text") from None
    elif path or env.get("NANHU_CONFIG"):
        named_by = "NANHU_CONFIG" if not path else "the command line"
        raise ConfigError(f"config file {file} does not exist (named by {named_by})")
    return build(raw, env, str(file) if file.exists() else "the environment (no config file; NANHU_CONFIG names one)")
