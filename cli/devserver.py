"""`nanhu dev` / `make run`: one command that brings up a working bot on this machine."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable

import requests

from bot.config import Config


def _spawn(name: str, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], env=os.environ.copy())


def _wait_http(url: str, seconds: float, procs: list[subprocess.Popen]) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            requests.get(url, timeout=1)
            return True
        except requests.RequestException:
            time.sleep(0.2)
    return False


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def run(cfg: Config, load_demo: Callable, print_demo: Callable) -> int:
    from storage import migrate
    from storage.db import Database

    database = Database(cfg.database.url, cfg.database.timeout)
    migrate.upgrade(database)
    print(f"database ready: {database.engine.url.render_as_string(hide_password=True)}")
    print_demo(load_demo(cfg))

    d = cfg.dev
    base = f"http://{d.host}:{d.port}"
    procs = [_spawn("fake-wechat", ["cli", "fake-wechat"])]
    if not _wait_http(f"http://127.0.0.1:{d.fake_wechat_port}/_fake/messages", 15, procs):
        _stop(procs)
        print(f"the WeChat stand-in did not start on port {d.fake_wechat_port} (is the port taken?)", file=sys.stderr)
        return 1
    procs.append(_spawn("web", ["gunicorn", "-c", "python:deploy.gunicorn_conf", "--workers", str(d.web_workers),
                                "--bind", f"{d.host}:{d.port}", "bot.wsgi:app"]))
    if cfg.redis_enabled:
        procs.append(_spawn("worker", ["cli", "worker"]))
    if not _wait_http(base + "/healthz", 60, procs):
        _stop(procs)
        print(f"the webhook did not start on {base} (is the port taken? see the log above)", file=sys.stderr)
        return 1

    jobs = (f"jobs go to RQ workers through Redis (queue {cfg.redis.queue!r}); one worker is running"
            if cfg.redis_enabled else
            "no redis.url configured: jobs run inside the web process (no worker needed)")
    print(f"""
  nanhu is running
    webhook        {base}/wechat   (health: {base}/healthz)
    WeChat stand-in http://127.0.0.1:{d.fake_wechat_port}/cgi-bin/  (messages sent: /_fake/messages)
    {jobs}

  Talk to the bot as a resident, in another terminal:   make chat
  Stop with Ctrl-C.
""", flush=True)
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopping:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                print(f"a process exited (code {dead[0].returncode}); stopping the rest", file=sys.stderr)
                _stop(procs)
                return 1
            time.sleep(0.5)
    finally:
        _stop(procs)
    return 0
