"""Community events for staff."""
from __future__ import annotations

import click

from cli import common


@click.group()
def events() -> None:
    """Community events: create, list, show, move, cancel, check in, export registrations."""


def _print_event(view, tz) -> None:
    where = f"{view.community_name}·{view.place}" if view.community_name else view.place or "-"
    click.echo(f"#{view.id}  {view.title}  [{view.status}]")
    click.echo(f"  {view.starts_at.astimezone(tz):%Y-%m-%d %H:%M} – {view.ends_at.astimezone(tz):%H:%M}  {where}")
    taken = view.capacity - view.places_left
    click.echo(f"  places: {taken}/{view.capacity} taken, {view.waiting} waiting"
               f"{'' if view.waitlist else ' (no waitlist)'}; at most {view.max_per_registration} per sign-up")
    if view.signup_deadline:
        click.echo(f"  sign-up until {view.signup_deadline.astimezone(tz):%Y-%m-%d %H:%M}")
    click.echo(f"  reminder: {f'{view.reminder_hours} h before' if view.reminder_hours else 'none'}")


def _show(rt, view) -> None:
    _print_event(view, rt.tz)


@events.command("create")
@click.option("--title", required=True)
@click.option("--start", "start", required=True, help="'YYYY-MM-DD HH:MM' in app.timezone")
@click.option("--end", "end", required=True, help="'YYYY-MM-DD HH:MM'")
@click.option("--capacity", type=int, required=True, help="places in all")
@click.option("--place", default="")
@click.option("--description", default="")
@click.option("--community", default=None, help="a community's name; default: the whole sub-district")
@click.option("--max-per-signup", type=int, default=4, show_default=True, help="people one resident may sign up")
@click.option("--deadline", default=None, help="no sign-ups after 'YYYY-MM-DD HH:MM' (default: the start)")
@click.option("--waitlist/--no-waitlist", default=True, show_default=True)
@click.option("--reminder-hours", type=int, default=24, show_default=True, help="0: no reminder")
@click.option("--audience", type=click.Choice(["everyone", "party"]), default="everyone", show_default=True)
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_show)
def events_create(rt, title, start, end, capacity, place, description, community, max_per_signup, deadline, waitlist,
                  reminder_hours, audience, staff_name):
    """Publish an event residents can sign up for in chat."""
    from storage import events as store
    from storage.audit import staff_actor

    spec = store.EventSpec(title, common.when_option(start, "--start", rt.tz), common.when_option(end, "--end", rt.tz),
                           capacity, place, description, getattr(common.community(rt, community), "id", None),
                           max_per_signup, common.when_option(deadline, "--deadline", rt.tz), waitlist,
                           reminder_hours, audience)
    return store.create(rt.db, spec, staff_actor(staff_name), rt.now())


@events.command("list")
@click.option("--all", "include_past", is_flag=True, help="also events that have ended")
def events_list(include_past: bool) -> None:
    """Events with places taken and waiting."""
    from storage import events as store

    rt = common.runtime(common.config())
    found = store.staff_list(rt.db, rt.now(), include_past)
    for view in found:
        taken = view.capacity - view.places_left
        click.echo(f"#{view.id:<4} {view.starts_at.astimezone(rt.tz):%Y-%m-%d %H:%M}  {taken:>4}/{view.capacity:<4} "
                   f"waiting {view.waiting:<3} {view.status:<9} {view.title}")
    if not found:
        click.echo("no events")


@events.command("show")
@click.argument("event_id", type=int)
def events_show(event_id: int) -> None:
    """One event with its registrations (codes, head counts, check-ins; no names or phones)."""
    from storage import events as store

    rt = common.runtime(common.config())
    try:
        record = store.attendance(rt.db, event_id)
    except store.EventNotFound:
        raise click.ClickException(f"no event {event_id}") from None
    _print_event(record.event, rt.tz)
    click.echo(f"  people confirmed: {record.confirmed_people}; checked in: {record.attended_people}")
    for r in record.registrations:
        seen = f"  checked in {r.checked_in_at.astimezone(rt.tz):%m-%d %H:%M}" if r.checked_in_at else ""
        place = f" #{r.position}" if r.position else ""
        click.echo(f"  {r.code}  {r.status}{place}  people: {r.head_count}{seen}")


@events.command("move")
@click.argument("event_id", type=int)
@click.option("--start", "start", required=True)
@click.option("--end", "end", required=True)
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_show)
def events_move(rt, event_id: int, start: str, end: str, note: str, staff_name: str):
    """Move an event; every registrant is told, and reminders follow the new time."""
    from storage import events as store
    from storage.audit import staff_actor

    return store.reschedule(
        rt.db, event_id, common.when_option(start, "--start", rt.tz), common.when_option(end, "--end", rt.tz),
        staff_actor(staff_name), rt.now(), rt.tz, note)


@events.command("cancel")
@click.argument("event_id", type=int)
@click.option("--reason", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_show)
def events_cancel(rt, event_id: int, reason: str, staff_name: str):
    """Cancel an event; every registrant is told and no reminder goes out."""
    from storage import events as store
    from storage.audit import staff_actor

    return store.cancel_event(rt.db, event_id, staff_actor(staff_name), rt.now(), reason)


@events.command("checkin")
@click.argument("event_id", type=int)
@click.argument("code")
@click.option("--as", "staff_name", default="admin", show_default=True)
def events_checkin(event_id: int, code: str, staff_name: str) -> None:
    """Validate a resident's check-in code at the door (once)."""
    from storage import events as store
    from storage.audit import staff_actor

    rt = common.runtime(common.config())
    result = store.check_in(rt.db, code, staff_actor(staff_name), rt.now(), event_id=event_id)
    r = result.registration
    if result.outcome == "checked_in":
        click.echo(f"checked in: #{event_id} {r.event.title}, people: {r.head_count}")
        return
    if result.outcome == "already":
        used = r.checked_in_at.astimezone(rt.tz)
        raise click.ClickException(f"code {code} was already used at {used:%Y-%m-%d %H:%M}")
    if result.outcome == "not_confirmed":
        raise click.ClickException(f"code {code} belongs to a registration that is {r.status}")
    raise click.ClickException(f"no registration with code {code} for event {event_id}")


@events.command("export")
@click.argument("event_id", type=int)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default="-", show_default=True,
              help="CSV file to write ('-': standard output)")
def events_export(event_id: int, out: str) -> None:
    """Registrations as CSV for staff, with the phone numbers residents left (keep it among staff)."""
    import csv

    from storage import events as store

    rt = common.runtime(common.config())
    try:
        record = store.attendance(rt.db, event_id)
    except store.EventNotFound:
        raise click.ClickException(f"no event {event_id}") from None
    with click.open_file(out, "w", encoding="utf-8-sig" if out != "-" else None) as f:  # Excel reads the BOM
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code", "status", "waitlist_position", "head_count", "registered_at", "checked_in_at",
                         "phone"])
        for r in record.registrations:
            writer.writerow([r.code, r.status, r.position or "", r.head_count,
                             r.created_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.created_at else "",
                             r.checked_in_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.checked_in_at else "",
                             r.phone if r.status != "cancelled" and r.phone else ""])  # not of those who withdrew
