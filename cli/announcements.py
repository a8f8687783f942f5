"""Announcements to residents: nanhu announce send / report."""
from __future__ import annotations

import click

from cli import common


@click.group()
def announce() -> None:
    """Announcements to residents: send, report."""


def _audience(rt, text: str):
    from storage import communities
    from storage.notices import Audience

    if text in ("everyone", "all", "全体"):
        return Audience("everyone")
    if text in ("party", "党员"):
        return Audience("party")
    found = communities.match(communities.all_communities(rt.db), text.removeprefix("community:"))
    if found is None:
        raise click.ClickException(f"unknown audience {text!r}: use everyone, party, or a community name")
    return Audience("community", found.id)


@announce.command("send")
@click.option("--title", required=True)
@click.option("--body", required=True)
@click.option("--audience", "audience_text", default="everyone", show_default=True,
              help="everyone | party | a community name (e.g. 文华社区)")
@click.option("--at", "at_text", default=None, help="send later: 'YYYY-MM-DD HH:MM' in app.timezone")
@click.option("--as", "staff", default="admin", show_default=True, help="the staff username recorded in the audit log")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def announce_send(title: str, body: str, audience_text: str, at_text: str | None, staff: str, yes: bool) -> None:
    """Compose an announcement, see how many will receive it, and send it now or at a time."""
    from jobs import outbox
    from storage import notices
    from storage.audit import staff_actor

    rt = common.runtime(common.config())
    audience = _audience(rt, audience_text)
    send_at = common.local_time(at_text or None, "%Y-%m-%d %H:%M", rt.tz, lambda: click.ClickException(
        f"--at {at_text!r}: expected 'YYYY-MM-DD HH:MM'"))
    count = notices.count_audience(rt.db, audience)
    when = f"at {send_at:%Y-%m-%d %H:%M}" if send_at else "now"
    click.echo(f"{count} residents will receive 「{title}」 {when}.")
    if not yes and not click.confirm("Send it?"):
        raise click.ClickException("not sent")
    try:
        with outbox.counting() as tally:  # the deliveries are queued as the announcement commits
            notice_id, new = notices.announce_once(rt.db, title, body, audience, staff_actor(staff), rt.now(), send_at)
    except notices.AnnouncementRejected as exc:
        raise click.ClickException(f"not sent: {exc}") from None
    if not new:
        click.echo(f"announcement {notice_id} was made a moment ago with the same text: not sent again")
    elif send_at is None:
        common.flush_jobs(rt)
        click.echo(f"announcement {notice_id}: {tally.queued} deliveries queued ({rt.jobs.kind})")
    else:
        click.echo(f"announcement {notice_id} scheduled; the sweeper sends it when its time comes")
    click.echo(f"delivery report: nanhu announce report {notice_id}")


@announce.command("report")
@click.argument("notice_id", type=int)
def announce_report(notice_id: int) -> None:
    """Recipients, sent, failed by errcode, pending."""
    from storage import notices

    rt = common.runtime(common.config())
    try:
        r = notices.report(rt.db, notice_id)
    except LookupError:
        raise click.ClickException(f"no announcement {notice_id}") from None
    click.echo(f"announcement {r.notice_id} 「{r.title}」 to {r.audience}")
    click.echo(f"  recipients {r.recipients}  sent {r.sent}  pending {r.pending}  skipped {r.skipped}")
    for code, n in sorted(r.failed.items()):
        click.echo(f"  failed {n} (errcode {code})")
