"""The `nanhu` command as staff and developers use it: clear errors, migrations, menu, chat, nlp-eval."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner

from bot.app import build_router
from cli import main
from cli.ops import menu_keys
from devtools import chat as chat_tool
from tests.conftest import ROOT, make_config


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.fork
def test_a_bad_setting_stops_the_command_with_a_message_naming_the_key(tmp_path):
    out = run("db", "upgrade", env={"NANHU_CONFIG": str(ROOT / "config.example.toml"),
                                    "NANHU_WECHAT_MAX_CLOCK_SKEW": "soon"})
    assert out.returncode != 0 and "wechat.max_clock_skew" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.fork
def test_db_upgrade_creates_a_fresh_sqlite_database_and_demo_loads_once(tmp_path):
    env = {"NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    up = run("db", "upgrade", env=env)
    from storage import migrate
    assert up.returncode == 0 and f"revision {migrate.head()}" in up.stdout
    first, second = run("demo", env=env), run("demo", env=env)
    assert "demo data loaded" in first.stdout and "836215" in first.stdout
    assert "already present" in second.stdout


@pytest.mark.fork
def test_worker_without_redis_explains_that_jobs_run_in_process():
    out = run("worker", env={"NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_REDIS_URL": ""})
    assert out.returncode != 0 and "jobs run inside the web process" in out.stderr


def test_every_menu_click_key_has_a_handler():
    spec = json.loads((ROOT / "bot" / "wechat" / "menu.json").read_text(encoding="utf-8"))
    router = build_router()
    assert menu_keys(spec) and all(k in router.menu_keys for k in menu_keys(spec))


def test_menu_push_creates_the_menu_at_the_stand_in(wechat_api, tmp_path, monkeypatch):
    cfg_file = tmp_path / "nanhu.toml"
    cfg_file.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    from tests.conftest import APP_ID, APP_SECRET
    monkeypatch.setenv("NANHU_CONFIG", str(cfg_file))
    monkeypatch.setenv("NANHU_WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("NANHU_WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("NANHU_WECHAT_API_BASE_URL", wechat_api.api_base)
    monkeypatch.setenv("NANHU_DATABASE_URL", f"sqlite:///{tmp_path}/m.db")
    result = CliRunner().invoke(main, ["menu", "push"])
    assert result.exit_code != 0 and "nanhu db upgrade" in result.output
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(main, ["menu", "push"])
    assert result.exit_code == 0, result.output
    pushed = requests.get(wechat_api.url + "/_fake/menu", timeout=5).json()
    assert [b["name"] for b in pushed["button"]] == ["居民服务", "党员服务", "使用帮助"]

    bad = tmp_path / "menu.json"
    bad.write_text(json.dumps({"button": [{"type": "click", "name": "乱点", "key": "NO_SUCH_KEY"}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["menu", "push", "--file", str(bad)])
    assert result.exit_code != 0 and "NO_SUCH_KEY" in result.output


@pytest.mark.fork
def test_nlp_eval_prints_accuracy_for_the_corpus():
    out = run("nlp-eval", str(ROOT / "tests" / "data" / "intents.tsv"))
    assert out.returncode == 0 and "accuracy" in out.stdout.lower()


@pytest.mark.http
def test_chat_talks_to_the_running_bot(demo):
    port = int(demo.url.rsplit(":", 1)[1])
    cfg = make_config(dev_port=port, wechat_api_base_url=demo.rt.config.wechat.api_base_url)
    out = io.StringIO()
    code = chat_tool.run_chat(cfg, openid="o_terminal", stdin=io.StringIO("活动\n/click PROJECTS\n/quit\n"), stdout=out)
    text = out.getvalue()
    assert code == 0
    assert "欢迎关注" in text and "社区党群嘉年华" in text and "可认领的社区项目" in text


@pytest.mark.fork
def test_nlp_misses_lists_what_residents_said_that_the_bot_did_not_understand(make_stack, tmp_path):
    log = tmp_path / "unknown.log"
    stack = make_stack("sqlite+redis", app_lexicon_log=str(log))
    chat = stack.client()
    for text in ("今天天气怎么样", "今天天气怎么样", "帮我叫个外卖 13800138001"):
        assert "没有看懂" in chat.say("o_alice", text)["Content"]
    assert "13800138001" not in log.read_text(encoding="utf-8")
    out = run("nlp-misses", env={"NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_APP_LEXICON_LOG": str(log)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "今天天气怎么样" in lines[1] and lines[1].split()[0] == "2"
    assert "138****8001" in out.stdout and "o_alice" not in out.stdout


def test_queues_shows_the_outbox_and_the_queue(make_stack, monkeypatch):
    from storage import notices, residents
    from storage.notices import Audience

    stack = make_stack("sqlite+redis")
    residents.subscribe(stack.rt.db, "o_q", stack.rt.now())
    notices.announce(stack.rt.db, "通知", "内容", Audience("everyone"), "staff:admin", stack.rt.now())
    cfg = stack.rt.config
    monkeypatch.setenv("NANHU_CONFIG", str(ROOT / "config.example.toml"))
    monkeypatch.setenv("NANHU_DATABASE_URL", cfg.database.url)
    monkeypatch.setenv("NANHU_REDIS_URL", cfg.redis.url)
    result = CliRunner().invoke(main, ["queues"])
    assert result.exit_code == 0, result.output
    # the announcement's delivery was queued as it committed, and waits there for a worker
    assert "outbox: pending 1" in result.output and "queue nanhu: waiting 1" in result.output


def _cli_on(stack, monkeypatch) -> None:
    """`nanhu` as CliRunner runs it, on this stack's database and WeChat stand-in, without Redis."""
    cfg = stack.rt.config
    for name, value in {"NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_DATABASE_URL": cfg.database.url,
                        "NANHU_REDIS_URL": "", "NANHU_WECHAT_API_BASE_URL": cfg.wechat.api_base_url,
                        "NANHU_WECHAT_APP_ID": cfg.wechat.app_id,
                        "NANHU_WECHAT_APP_SECRET": cfg.wechat.app_secret}.items():
        monkeypatch.setenv(name, value)


def test_announce_from_the_cli_asks_before_sending_and_reports(make_stack, wechat_api, monkeypatch):
    from storage import residents

    stack = make_stack("sqlite+sqlkv")
    for openid in ("o_cli1", "o_cli2"):
        residents.subscribe(stack.rt.db, openid, stack.rt.now())
    _cli_on(stack, monkeypatch)
    args = ["announce", "send", "--title", "停水通知", "--body", "明天上午停水", "--audience", "everyone"]
    declined = CliRunner().invoke(main, args, input="n\n")
    assert "2 residents will receive" in declined.output and declined.exit_code != 0
    assert wechat_api.messages() == []
    sent = CliRunner().invoke(main, args + ["--yes"])
    assert sent.exit_code == 0, sent.output
    assert len(wechat_api.messages()) == 2
    notice_id = sent.output.split("announcement ")[1].split(":")[0]
    report = CliRunner().invoke(main, ["announce", "report", notice_id])
    assert "recipients 2  sent 2  pending 0" in report.output

    bad = CliRunner().invoke(main, ["announce", "send", "--title", "x", "--body", "y",
                                    "--audience", "火星社区", "--yes"])
    assert bad.exit_code != 0 and "unknown audience" in bad.output


def test_send_text_goes_through_the_outbox_and_says_how_it_went(make_stack, wechat_api, monkeypatch):
    from storage import residents

    stack = make_stack("sqlite+sqlkv")
    residents.subscribe(stack.rt.db, "o_cli_text", stack.rt.now())
    _cli_on(stack, monkeypatch)
    sent = CliRunner().invoke(main, ["send-text", "o_cli_text", "嘉年华明天上午九点开始"])
    assert sent.exit_code == 0 and sent.output.endswith(": sent\n"), sent.output
    assert [m["body"]["text"]["content"] for m in wechat_api.messages("o_cli_text")] == ["嘉年华明天上午九点开始"]
    unknown = CliRunner().invoke(main, ["send-text", "o_nobody", "你好"])
    assert unknown.exit_code != 0 and "no resident with openid o_nobody" in unknown.output


def test_the_queue_dashboard_shows_the_queue_and_stays_on_loopback(make_stack, monkeypatch):
    from tests.conftest import LiveServer
    from web.rq_dashboard import create_app

    stack = make_stack("sqlite+redis")
    stack.rt.jobs.enqueue(print, "hello")
    server = LiveServer(create_app(stack.rt.config.redis.url))
    try:
        queues = requests.get(server.url + "/rq/0/data/queues.json", timeout=5).json()["queues"]
        assert any(q["name"] == "nanhu" and q["count"] == 1 for q in queues)
    finally:
        server.stop()
    monkeypatch.setenv("NANHU_CONFIG", str(ROOT / "config.example.toml"))
    monkeypatch.setenv("NANHU_REDIS_URL", stack.rt.config.redis.url)
    result = CliRunner().invoke(main, ["queues", "dashboard", "--host", "0.0.0.0"])
    assert result.exit_code != 0 and "only listens on loopback" in result.output
