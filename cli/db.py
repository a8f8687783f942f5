"""Database migrations: nanhu db upgrade."""
from __future__ import annotations

import click

from cli import common


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema."""
    from storage import migrate
    from storage.db import Database

    cfg = common.config()
    database = Database(cfg.database.url, cfg.database.timeout)
    try:
        migrate.upgrade(database, revision)
    except Exception as exc:
        where = database.engine.url.render_as_string(hide_password=True)
        raise click.ClickException(f"migration failed on {where}: {exc}") from None
    click.echo(f"database at revision {migrate.current(database)} ({database.dialect})")
