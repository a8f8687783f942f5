"""Running and operating the bot: the web server, the worker, the custom menu, one message by hand."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.wechat import DEFAULT_MENU
from cli import common


@click.command()
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker (with the scheduler) on the configured queue."""
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
    SimpleWorker([cfg.redis.queue], connection=rt.redis, log_job_description=False).work(
        burst=burst, with_scheduler=True)


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
