"""Local development: demo data, the whole stack at once, the WeChat API stand-in, chatting as a resident."""
from __future__ import annotations

import sys

import click

from bot.config import Config
from cli import common


@click.command()
def demo() -> None:
    """Load demo data (communities, events, projects, party roster, one staff login)."""
    _print_demo(_load_demo(common.config()))


def _load_demo(cfg: Config):
    from datetime import datetime, timezone

    from storage import demo as demo_data
    from storage.db import Database

    return demo_data.load(Database(cfg.database.url, cfg.database.timeout), datetime.now(timezone.utc),
                          cfg.app.secret_key)


def _print_demo(summary) -> None:
    from storage import demo as demo_data

    click.echo("demo data " + ("loaded" if summary.created else "already present"))
    if summary.codes:
        click.echo("  unused party-member binding codes (send 「绑定 <code>」 in chat): "
                   + ", ".join(f"{name} {code}" for name, code in summary.codes))
    else:
        click.echo("  every demo binding code has been used (`make clean` starts afresh)")
    click.echo(f"  staff login for the admin web (/admin): {demo_data.STAFF_USERNAME} / {demo_data.STAFF_PASSWORD}")


@click.command()
def dev() -> None:
    """Migrate, load demo data, start the webhook, a worker and the WeChat stand-in (what `make run` does)."""
    from cli import devserver

    cfg = common.config()
    sys.exit(devserver.run(cfg, _load_demo, _print_demo))


@click.command("fake-wechat")
@click.option("--port", type=int, default=None, help="default: dev.fake_wechat_port")
def fake_wechat(port: int | None) -> None:
    """Serve the local WeChat API stand-in on loopback."""
    from devtools import fake_wechat as fake

    cfg = common.config()
    fake.serve("127.0.0.1", port or cfg.dev.fake_wechat_port, cfg.wechat.app_id, cfg.wechat.app_secret)


@click.command()
@click.option("--openid", default=None, help="the resident to be (default: a demo openid)")
@click.option("--mode", type=click.Choice(["plain", "compatible", "safe"]), default=None,
              help="message encryption mode (default: wechat.mode)")
def chat(openid: str | None, mode: str | None) -> None:
    """Chat with the running bot as a resident, in the terminal."""
    from devtools import chat as chat_tool

    sys.exit(chat_tool.run_chat(common.config(), openid=openid, mode=mode))
