"""Configuration: every key documented, overridable from the environment, and refused clearly when wrong."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot import config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_the_example_documents_every_key_and_loads_as_is():
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    documented = {(s, k) for s, keys in raw.items() for k in keys}
    assert documented == {(s, k) for s, keys in config.SCHEMA.items() for k in keys}
    cfg = config.load(EXAMPLE, env={})
    assert cfg.wechat.max_clock_skew == 300 and not cfg.redis_enabled


@pytest.mark.parametrize("env_name, attr, raw, expected", [
    ("NANHU_WECHAT_TOKEN", ("wechat", "token"), "otherToken42", "otherToken42"),
    ("NANHU_WECHAT_APP_ID", ("wechat", "app_id"), "wx123", "wx123"),
    ("NANHU_WECHAT_APP_SECRET", ("wechat", "app_secret"), "s3cret", "s3cret"),
    ("NANHU_WECHAT_ENCODING_AES_KEY", ("wechat", "encoding_aes_key"), "B" * 43, "B" * 43),
    ("NANHU_WECHAT_API_BASE_URL", ("wechat", "api_base_url"), "http://127.0.0.1:9/cgi-bin/", "http://127.0.0.1:9/cgi-bin/"),
    ("NANHU_WECHAT_MAX_CLOCK_SKEW", ("wechat", "max_clock_skew"), "0", 0),
    ("NANHU_DATABASE_URL", ("database", "url"), "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("NANHU_REDIS_URL", ("redis", "url"), "redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"),
    ("NANHU_APP_REPLY_DEADLINE", ("app", "reply_deadline"), "3.5", 3.5),
])
def test_every_key_can_be_overridden_from_the_environment(env_name, attr, raw, expected):
    cfg = config.load(EXAMPLE, env={env_name: raw})
    assert getattr(getattr(cfg, attr[0]), attr[1]) == expected


@pytest.mark.parametrize("env, names", [
    ({"NANHU_WECHAT_MAX_CLOCK_SKEW": "five minutes"}, "wechat.max_clock_skew"),
    ({"NANHU_WECHAT_MAX_CLOCK_SKEW": "-1"}, "wechat.max_clock_skew"),
    ({"NANHU_WECHAT_MODE": "secret"}, "wechat.mode"),
    ({"NANHU_WECHAT_ENCODING_AES_KEY": "tooshort"}, "wechat.encoding_aes_key"),
    ({"NANHU_WECHAT_MODE": "safe", "NANHU_WECHAT_ENCODING_AES_KEY": ""}, "wechat.encoding_aes_key"),
    ({"NANHU_WECHAT_TOKEN": "has spaces!"}, "wechat.token"),
    ({"NANHU_DATABASE_URL": "mysql://x"}, "database.url"),
    ({"NANHU_REDIS_URL": "http://localhost"}, "redis.url"),
    ({"NANHU_APP_REPLY_DEADLINE": "6"}, "app.reply_deadline"),
    ({"NANHU_APP_ENV": "production"}, "app.secret_key"),
    ({"NANHU_APP_BASE_URL": "https://nanhu.example.cn"}, "app.secret_key"),   # a development env on a public address
    ({"NANHU_APP_BASE_URL": "https://nanhu.example.cn", "NANHU_APP_SECRET_KEY": "x" * 31}, "32 bytes"),
    ({"NANHU_APP_BASE_URL": "https://nanhu.example.cn", "NANHU_APP_SECRET_KEY": "x" * 32}, "wechat.token"),
    ({"NANHU_APP_BASE_URL": "http://10.0.0.5:8000", "NANHU_APP_ENV": "test"}, "app.secret_key"),
])
def test_an_invalid_value_stops_start_up_naming_the_key(env, names):
    with pytest.raises(config.ConfigError, match=re.escape(names)):
        config.load(EXAMPLE, env=env)


def test_the_example_secrets_serve_a_development_run_on_this_machine_only():
    for base_url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        assert config.load(EXAMPLE, env={"NANHU_APP_BASE_URL": base_url}).wechat.token == "nanhudemotoken"
    real = {"NANHU_APP_ENV": "production", "NANHU_APP_BASE_URL": "https://nanhu.example.cn",
            "NANHU_APP_SECRET_KEY": "k" * 48, "NANHU_WECHAT_TOKEN": "tokenFromConsole1"}
    assert config.load(EXAMPLE, env=real).app.env == "production"


def test_a_missing_required_key_is_named_with_its_variable(tmp_path):
    file = tmp_path / "nanhu.toml"
    file.write_text('[app]\nsecret_key = "x"\n[wechat]\napp_id = "wx1"\napp_secret = "s"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"wechat\.token is missing.*NANHU_WECHAT_TOKEN"):
        config.load(file, env={})
    cfg = config.load(file, env={"NANHU_WECHAT_TOKEN": "abc123"})
    assert cfg.wechat.token == "abc123"


def test_secrets_are_not_echoed_in_errors():
    with pytest.raises(config.ConfigError) as err:
        config.load(EXAMPLE, env={"NANHU_WECHAT_ENCODING_AES_KEY": "my-real-key-fragment"})
    assert "my-real-key-fragment" not in str(err.value)


def test_unknown_keys_and_bad_toml_are_refused(tmp_path):
    file = tmp_path / "nanhu.toml"
    file.write_text('[wechat]\ntokn = "typo"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="unknown key wechat.tokn"):
        config.load(file, env={})
    file.write_text("[wechat\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(file, env={})


def test_nanhu_config_names_the_file_and_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(env={"NANHU_CONFIG": str(tmp_path / "absent.toml")})
    assert config.load(env={"NANHU_CONFIG": str(EXAMPLE)}).source == str(EXAMPLE)


def test_a_misspelt_environment_override_is_an_error_not_ignored():
    with pytest.raises(config.ConfigError, match="NANHU_WECHAT_MAXCLOCKSKEW.*did you mean NANHU_WECHAT_MAX_CLOCK_SKEW"):
        config.load(EXAMPLE, env={"NANHU_WECHAT_MAXCLOCKSKEW": "5"})
