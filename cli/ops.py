"""Running and operating the bot: the web server, the worker, the custom menu, one message by hand."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Callable

import click
import redis

from bot.wechat import DEFAULT_MENU
from cli import common


@click.command()
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker (with the scheduler) on the configured queue; it starts again when Redis comes back."""
    from rq import SimpleWorker

    from bot import logs

    cfg = common.config()
    if not cfg.redis_enabled:
        raise click.ClickException("redis.url is not set: without Redis, jobs run inside the web process "
                                   "and no worker is needed")
    logs.setup(cfg.app.log_level, "")
    rt = common.runtime(cfg)
    try:
        rt.redis.ping()
    except Exception as exc:
        raise click.ClickException(f"cannot reach Redis at redis.url: {exc}") from None
    if not burst:
        from jobs import sweeper
        sweeper.start(rt)
    # SimpleWorker runs jobs in this process instead of forking a work horse per job: the jobs are
    # ours, short and bounded by timeouts, and keeping the database, Redis and HTTP connections
    # warm across jobs is most of the speed of a broadcast (forking cost ~0.4 s a job here).
    def work() -> bool:
        rq_worker = SimpleWorker([cfg.redis.queue], connection=rt.redis, log_job_description=False)
        rq_worker.work(burst=burst, with_scheduler=True)
        # asked to stop (a signal, busy or idle), or quit on its own: RQ also leaves its loop, without saying
        # so, when the connection drops mid-job
        return rq_worker._shutdown_requested_date is not None

    if burst:
        work()
    else:
        keep_working(work, rt.redis.ping)


def keep_working(work: Callable[[], bool], ping: Callable[[], object], sleep: Callable[[float], None] = time.sleep,
                 most: float = 30.0) -> None:
    """Run the worker until it is asked to stop (`work()` returns True). When it quits for any other reason (RQ
    gives up on a dropped Redis, mid-job or between jobs), wait for Redis with a growing pause up to `most`
    seconds and start it again instead of exiting. What was queued stays in Redis, and deliveries a lost job
    left behind are found by the sweeper."""
    log = logging.getLogger("nanhu.worker")
    while True:
        try:
            if work():
                return
            log.error("the worker quit without being asked to: it starts again when Redis answers")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.error("Redis dropped (%s): the worker starts again when it answers", type(exc).__name__)
        pause = 1.0
        while True:
            sleep(pause)
            try:
                ping()
                break
            except (redis.ConnectionError, redis.TimeoutError):
                pause = min(pause * 2, most)


@click.command()
@click.option("--bind", default=None, help="host:port (default from [dev])")
def web(bind: str | None) -> None:
    """Serve the webhook with gunicorn (preloaded, [dev] web_workers workers)."""
    import os

    cfg = common.config()
    bind = bind or f"{cfg.dev.host}:{cfg.dev.port}"
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:deploy.gunicorn_conf",
                               "--workers", str(cfg.dev.web_workers), "--bind", bind, "bot.wsgi:app"])


@click.group()
def menu() -> None:
    """The official account's custom menu."""


@menu.command("push")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None)
def menu_push(path: str | None) -> None:
    """Create the menu from the JSON file in the repo (or wechat.menu_file)."""
    from bot.app import build_router

    cfg = common.config()
    file = Path(path or cfg.wechat.menu_file or DEFAULT_MENU)
    try:
        spec = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    router = build_router()
    missing = [k for k in menu_keys(spec) if k not in router.menu_keys]
    if missing:
        raise click.ClickException(f"{file}: no handler for click key(s) {', '.join(missing)}")
    rt = common.runtime(cfg)
    try:
        rt.wechat.menu.create(spec)
    except Exception as exc:
        raise click.ClickException(f"menu not pushed: {common.wechat_error(exc)}") from None
    click.echo(f"menu pushed from {file}")


def menu_keys(spec: dict) -> list[str]:
    keys = []
    for button in spec.get("button", []):
        for b in [button, *button.get("sub_button", [])]:
            if b.get("type") == "click":
                keys.append(b.get("key", ""))
    return keys


@click.command("send-text")
@click.argument("openid")
@click.argument("text")
@click.option("--as", "staff", default="admin", show_default=True, help="the staff username recorded in the audit log")
def send_text_cmd(openid: str, text: str, staff: str) -> None:
    """Send a text message to one resident, as a notice through the outbox (delivered, retried and paced
    like every other; `nanhu announce report ID` shows how it went)."""
    from storage import notices
    from storage.audit import staff_actor

    if not text.strip():
        raise click.ClickException("the message is empty")
    rt = common.runtime(common.config())
    try:
        notice_id = notices.message_resident(rt.db, openid, text.strip(), staff_actor(staff), rt.now())
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    if rt.jobs.kind == "rq":
        click.echo(f"queued for the worker: notice {notice_id}")
        return
    common.flush_jobs(rt)  # no worker without Redis: delivered before the command exits
    report = notices.report(rt.db, notice_id)
    click.echo(f"notice {notice_id}: " + ("sent" if report.sent else "not sent (" + (", ".join(report.failed) or
                                                                                      "skipped or waiting") + ")"))
