"""The real thing over HTTP only: gunicorn (2 preloaded workers), an RQ worker and the WeChat stand-in,
each its own process, started the way the Procfile and `nanhu` start them."""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
import requests

from devtools.simulator import Simulator, WebhookClient, message_xml, parse_reply, text_fields
from tests.conftest import ROOT, free_port

pytestmark = [pytest.mark.fork, pytest.mark.http, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, redis_url):
    tmp_path = tmp_path_factory.mktemp("deployment")
    redis_lib.Redis.from_url(redis_url).flushdb()
    web_port, api_port = free_port(), free_port()
    config = tmp_path / "nanhu.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "NANHU_CONFIG": str(config), "NANHU_DATABASE_URL": f"sqlite:///{tmp_path}/e2e.db",
           "NANHU_REDIS_URL": redis_url, "NANHU_WECHAT_API_BASE_URL": f"http://127.0.0.1:{api_port}/cgi-bin/",
           "NANHU_APP_LEXICON_LOG": str(tmp_path / "unknown.log"), "NANHU_DEV_PORT": str(web_port)}
    cli = [sys.executable, "-m", "cli"]
    for step in (["db", "upgrade"], ["demo"]):
        subprocess.run(cli + step, env=env, check=True, cwd=ROOT, capture_output=True)
    logs = open(tmp_path / "processes.log", "w")
    procs = [
        subprocess.Popen(cli + ["fake-wechat", "--port", str(api_port)], env=env, cwd=ROOT, stdout=logs, stderr=logs),
        subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:deploy.gunicorn_conf", "--workers", "2",
                          "--bind", f"127.0.0.1:{web_port}", "bot.wsgi:app"],
                         env=env, cwd=ROOT, stdout=logs, stderr=logs),
        subprocess.Popen(cli + ["worker"], env=env, cwd=ROOT, stdout=logs, stderr=logs),
    ]
    base = f"http://127.0.0.1:{web_port}"
    for url in (f"http://127.0.0.1:{api_port}/_fake/messages", base + "/healthz"):
        for _ in range(150):
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail(f"{url} did not come up: {(tmp_path / 'processes.log').read_text()[-3000:]}")
    yield {"base": base, "api": f"http://127.0.0.1:{api_port}", "env": env, "db": tmp_path / "e2e.db"}
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    logs.close()


def test_a_resident_talks_to_the_deployed_bot(deployment):
    sim = Simulator("nanhudemotoken", "wxnanhudemo0000001", mode="plain")
    chat = WebhookClient(deployment["base"] + "/wechat", sim)
    assert requests.get(deployment["base"] + "/healthz", timeout=5).json()["redis"] == "ok"
    assert "欢迎关注" in chat.event("o_e2e", "subscribe")["Content"]
    assert "哪个社区" in chat.say("o_e2e", "小区后门的路灯坏了两个星期")["Content"]
    assert "请确认" in chat.say("o_e2e", "9")["Content"]

    # WeChat retries the confirmation while the first attempt is still in flight: one opinion, one reply
    fields = text_fields("o_e2e", "是")
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: parse_reply(chat.post_fields(fields).text), range(4)))
    tickets = {re.search(r"MY\d{11}", r["Content"]).group(0) for r in replies}
    assert len(tickets) == 1
    with sqlite3.connect(deployment["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM opinions").fetchone()[0] == 1


def test_a_queued_message_is_delivered_by_the_worker(deployment):
    sim = Simulator("nanhudemotoken", "wxnanhudemo0000001", mode="plain")
    WebhookClient(deployment["base"] + "/wechat", sim).event("o_push", "subscribe")
    out = subprocess.run([sys.executable, "-m", "cli", "send-text", "o_push", "嘉年华明天上午九点开始"],
                         env=deployment["env"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "queued for the worker" in out.stdout
    for _ in range(100):
        sent = requests.get(deployment["api"] + "/_fake/messages", params={"openid": "o_push"}, timeout=5).json()
        if sent:
            break
        time.sleep(0.1)
    assert [m["content"] for m in sent] == ["嘉年华明天上午九点开始"]


def test_oversized_and_forged_requests_are_refused_by_the_deployment(deployment):
    sim = Simulator("nanhudemotoken", "wxnanhudemo0000001", mode="plain")
    req = sim.sign(message_xml(text_fields("o_big", "长" * 30000)))
    url = deployment["base"] + "/wechat"
    assert requests.post(url, params=req.params, data=req.body, timeout=10).status_code == 413
    chunked = (req.body[i:i + 8192] for i in range(0, len(req.body), 8192))
    assert requests.post(url, params=req.params, data=chunked, timeout=10).status_code == 413
    forged = Simulator("wrongtoken", "wxnanhudemo0000001").sign(message_xml(text_fields("o_x", "帮助")))
    assert requests.post(url, params=forged.params, data=forged.body, timeout=10).status_code == 403
