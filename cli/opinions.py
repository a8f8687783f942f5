"""Residents' opinions (社情民意) for staff."""
from __future__ import annotations

import click

from cli import common


@click.group()
def opinions() -> None:
    """Residents' opinions (社情民意): list, show, assign, update, categorize, merge, reply."""


def _print_opinion(rt, view) -> None:
    from storage.opinion_states import label

    tz = rt.tz
    click.echo(f"{view.ticket_no}  {view.status} ({label(view.status)})  {view.category} → {view.department or '-'}"
               f"  assignee: {view.assignee or '-'}")
    if view.due_at:
        click.echo(f"  due: {view.due_at.astimezone(tz):%Y-%m-%d %H:%M}")
    click.echo(f"  {view.content}")
    if view.location:
        pin = f"  ({view.latitude:.5f}, {view.longitude:.5f})" if view.latitude is not None else ""
        click.echo(f"  location: {view.location}{pin}")
    for url in view.photos:
        click.echo(f"  photo: {url}")
    click.echo(f"  name shown: {view.public_name or 'no (anonymous)'}")
    if view.merged_into:
        click.echo(f"  merged into: {view.merged_into} ({view.merged_into_status})")
    if view.merged:
        click.echo(f"  merged here: {', '.join(view.merged)}")
    for entry in view.timeline:
        note = f"  — {entry.note}" if entry.note else ""
        click.echo(f"  {entry.at.astimezone(tz):%Y-%m-%d %H:%M}  {label(entry.state)}{note}")


@opinions.command("list")
@click.option("--state", default=None, help="only opinions in this state")
@click.option("--category", default=None, help="only this category (环境卫生, 其他, ...)")
@click.option("--community", default=None, help="only this community (name)")
@click.option("--overdue", is_flag=True, help="only open opinions past their deadline")
def opinions_list(state: str | None, category: str | None, community: str | None, overdue: bool) -> None:
    """The latest opinions (contents shown to staff only; no names or phones)."""
    from nlp import mask_phones
    from storage import opinions as store
    from storage.opinion_states import STATES, label

    if state and state not in STATES:
        raise click.ClickException(f"unknown state {state!r}; states: {', '.join(STATES)}")
    rt = common.runtime(common.config())
    rules = store.Rules.from_config(rt.config.opinions)
    if category and category not in rules.categories:
        raise click.ClickException(f"unknown category {category!r}; categories: {', '.join(rules.categories)}")
    now = rt.now()
    views = store.staff_list(rt.db, state, category=category,
                             community_id=getattr(common.community(rt, community), "id", None),
                             overdue_at=now if overdue else None)
    for view in views:
        late = "  超期" if view.overdue(now) else ""
        click.echo(f"{view.ticket_no}  {label(view.status):<6}  {view.category:<4}  "
                   f"{view.created_at.astimezone(rt.tz):%Y-%m-%d}  {mask_phones(view.content)[:40]}{late}")
    if not views:
        click.echo("no opinions match")


@opinions.command("show")
@click.argument("ticket")
def opinions_show(ticket: str) -> None:
    """One opinion with its timeline."""
    from storage import opinions as store

    rt = common.runtime(common.config())
    try:
        _print_opinion(rt, store.staff_show(rt.db, ticket))
    except LookupError:
        raise click.ClickException(f"no opinion {ticket}") from None


@opinions.command("assign")
@click.argument("ticket")
@click.option("--to", "assignee", default=None,
              help="the responsible department or person (default: the department of its category)")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_print_opinion)
def opinions_assign(rt, ticket: str, assignee: str | None, note: str, staff_name: str):
    """Accept an opinion and assign it (submitted → accepted)."""
    from storage import opinions as store
    from storage.audit import staff_actor

    if store.staff_show(rt.db, ticket).status != "submitted" and assignee:  # already accepted: hand it over
        return store.reassign(rt.db, ticket, assignee, staff_actor(staff_name), rt.now(), note)
    return store.change_state(rt.db, ticket, "accepted", staff_actor(staff_name), rt.now(), note, assignee=assignee)


@opinions.command("update")
@click.argument("ticket")
@click.argument("state")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_print_opinion)
def opinions_update(rt, ticket: str, state: str, note: str, staff_name: str):
    """Move an opinion to STATE (in_progress, resolved, not_responsible, ...)."""
    from storage import opinions as store
    from storage.audit import staff_actor

    view = store.change_state(rt.db, ticket, state, staff_actor(staff_name), rt.now(), note)
    if state == "resolved":
        _await_feedback(rt, view)
    return view


def _await_feedback(rt, view) -> None:
    """After a resolution the resident's next 满意 / 不满意 answers for this ticket."""
    if view.status != "resolved":
        return
    from storage import opinions
    from storage.kv import KVUnavailable

    try:
        opinions.await_feedback(rt.db, rt.kv, view.ticket_no, rt.config.opinions.feedback_days)
    except KVUnavailable:  # the change is made; an answer still finds the ticket (handlers.opinions)
        click.echo("warning: the shared store is down; the resident's answer will be matched when it comes",
                   err=True)


@opinions.command("categorize")
@click.argument("ticket")
@click.argument("category")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_print_opinion)
def opinions_categorize(rt, ticket: str, category: str, staff_name: str):
    """Change an opinion's category: its department and deadline follow [opinions.categories]."""
    from storage import opinions as store
    from storage.audit import staff_actor

    return store.categorize(rt.db, ticket, category, staff_actor(staff_name), rt.now(),
                            store.Rules.from_config(rt.config.opinions))


@opinions.command("merge")
@click.argument("ticket")
@click.option("--into", "into", required=True, help="the ticket it duplicates")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_print_opinion)
def opinions_merge(rt, ticket: str, into: str, note: str, staff_name: str):
    """Close TICKET as a duplicate of another; its resident then hears of the other ticket's progress."""
    from storage import opinions as store
    from storage.audit import staff_actor

    return store.merge(rt.db, ticket, into, staff_actor(staff_name), rt.now(), note)


@opinions.command("reply")
@click.argument("ticket")
@click.option("--note", required=True)
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_print_opinion)
def opinions_reply(rt, ticket: str, note: str, staff_name: str):
    """Tell the resident something about their opinion, without changing its state."""
    from storage import opinions as store
    from storage.audit import staff_actor

    return store.reply(rt.db, ticket, staff_actor(staff_name), note, rt.now())
