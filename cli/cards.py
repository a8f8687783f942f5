"""Party members' identity cards (亮身份)."""
from __future__ import annotations

import click

from cli import common


@click.group()
def card() -> None:
    """Party members' identity cards (亮身份): list, revoke, reinstate, participation."""


@card.command("list")
def card_list() -> None:
    """Every member on the roster with their card: id (for revoke/reinstate), bound or not, status, last shown."""
    from storage import cards

    rt = common.runtime(common.config())
    rows = [["id", "姓名", "支部", "社区", "认证", "党员证", "最近亮身份"]]
    for m in cards.roster(rt.db):
        status = (f"已注销 {m.revoked_at.astimezone(rt.tz):%Y-%m-%d}" if m.revoked_at else "有效") + f" #{m.serial}"
        shown = f"{m.last_shown_at.astimezone(rt.tz):%Y-%m-%d %H:%M}" if m.last_shown_at else "—"
        rows.append([str(m.member_id), m.name, m.branch, m.community_name or "—", "是" if m.bound else "否", status,
                     shown])
    if len(rows) == 1:
        click.echo("the party roster is empty")
        return
    for line in common.table(rows):
        click.echo(line)


@card.command("revoke")
@click.argument("member_id", type=int)
@click.option("--reason", default="", help="recorded in the audit log")
@click.option("--as", "staff_name", default="admin", show_default=True)
def card_revoke(member_id: int, reason: str, staff_name: str) -> None:
    """Revoke a member's card: its links show 已注销 and 亮身份 tells the member."""
    from storage import cards
    from storage.audit import staff_actor

    rt = common.runtime(common.config())
    try:
        changed = cards.revoke(rt.db, member_id, staff_actor(staff_name), rt.now(), reason)
    except cards.MemberNotFound:
        raise click.ClickException(f"no party member {member_id} (see: nanhu card list)") from None
    click.echo(f"card of member {member_id} revoked" if changed else f"card of member {member_id} was already revoked")


@card.command("reinstate")
@click.argument("member_id", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
def card_reinstate(member_id: int, staff_name: str) -> None:
    """Give a revoked member a valid card again; links handed out before stay revoked."""
    from storage import cards
    from storage.audit import staff_actor

    rt = common.runtime(common.config())
    try:
        serial = cards.reinstate(rt.db, member_id, staff_actor(staff_name), rt.now())
    except cards.MemberNotFound:
        raise click.ClickException(f"no party member {member_id} (see: nanhu card list)") from None
    if serial is None:
        raise click.ClickException(f"the card of member {member_id} is not revoked")
    click.echo(f"card of member {member_id} reinstated (serial {serial}); earlier links stay revoked, "
               "亮身份 gives the member a new one")


@card.command("participation")
@click.option("--since", default=None,
              help="from this day, YYYY-MM-DD in app.timezone (default: the 1st of this month)")
@click.option("--until", default=None, help="up to this day, YYYY-MM-DD in app.timezone (exclusive; default: now)")
def card_participation(since: str | None, until: str | None) -> None:
    """Participation rate: the share of bound members who showed their identity (亮身份) in the period."""
    from storage import cards

    rt = common.runtime(common.config())
    start = common.day_start(since, "--since", rt.tz)
    end = common.day_start(until, "--until", rt.tz)
    if start is None:
        start = rt.now().astimezone(rt.tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if end is not None and start >= end:
        raise click.UsageError(f"--since {start:%Y-%m-%d} must be before --until {until}")
    figures = cards.participation(rt.db, start, end)
    period = f"{start:%Y-%m-%d} 至 {until + ' 前' if until else '现在'}（{rt.config.app.timezone}）"
    click.echo(f"亮身份参与率 {period}")
    click.echo(f"  已认证党员 {figures.bound_members}  亮过身份 {figures.showed}  "
               f"参与率 {common.percent(figures.rate)}")
    click.echo("说明：已认证党员 = 现已绑定微信、且在期末前认证的党员；"
               "亮过身份 = 其中期间内至少发过一次「亮身份」的人数"
               "（同一人多次只算一次，已注销的党员证不计）。")
