"""Staff accounts."""
from __future__ import annotations

import click

from cli import common


@click.group()
def staff() -> None:
    """Staff accounts: link a chat account, add an admin web login, change its password, disable."""


@staff.command("link")
@click.argument("username")
@click.argument("openid")
def staff_link(username: str, openid: str) -> None:
    """Let a staff member use staff commands (发公告, 公告报告) in chat from OPENID."""
    from storage import staff as staff_store
    from storage.audit import SYSTEM

    rt = common.runtime(common.config())
    try:
        member = staff_store.link_openid(rt.db, username, openid.strip(), SYSTEM)
    except staff_store.StaffNotFound:
        raise click.ClickException(f"no staff member {username!r}") from None
    click.echo(f"{member.display_name} ({member.username}) can now announce from chat as {openid}")


@staff.command("add")
@click.argument("username")
@click.option("--name", "display_name", default="", help="shown in the admin web and the audit log")
@click.option("--role", type=click.Choice(["admin", "community"]), required=True,
              help="admin: the whole sub-district; community: one community only")
@click.option("--community", default=None, help="for community staff: their community")
@click.password_option(help="asked for when not given (at least 10 characters)")
def staff_add(username: str, display_name: str, role: str, community: str | None, password: str) -> None:
    """A login for the admin web (/admin)."""
    from storage import staff as staff_store
    from storage.audit import SYSTEM

    rt = common.runtime(common.config())
    found = common.community(rt, community)
    try:
        member = staff_store.add(rt.db, username, display_name, password, role, getattr(found, "id", None), SYSTEM,
                                 rt.now())
    except staff_store.StaffRejected as exc:
        raise click.ClickException(str(exc)) from None
    where = f" for {found.name}" if found else ""
    click.echo(f"added {member.username} ({member.role}{where}); log in at {rt.config.app.base_url.rstrip('/')}/admin")


@staff.command("passwd")
@click.argument("username")
@click.password_option(help="asked for when not given (at least 10 characters)")
def staff_passwd(username: str, password: str) -> None:
    """A new password (ends the member's open sessions, lifts a lockout)."""
    from storage import staff as staff_store
    from storage.audit import SYSTEM

    rt = common.runtime(common.config())
    try:
        staff_store.set_password(rt.db, username, password, SYSTEM, rt.now())
    except staff_store.StaffNotFound:
        raise click.ClickException(f"no staff member {username!r}") from None
    except staff_store.StaffRejected as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password changed for {username}")


@staff.command("disable")
@click.argument("username")
def staff_disable(username: str) -> None:
    """No more logins or chat commands; open sessions end."""
    from storage import staff as staff_store
    from storage.audit import SYSTEM

    rt = common.runtime(common.config())
    try:
        staff_store.disable(rt.db, username, SYSTEM, rt.now())
    except staff_store.StaffNotFound:
        raise click.ClickException(f"no staff member {username!r}") from None
    click.echo(f"{username} disabled")
