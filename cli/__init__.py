"""The `nanhu` command: database, demo data, web, worker, menu, the WeChat stand-in, chat, nlp-eval."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import click

from bot import config as config_module
from bot.wechat import DEFAULT_MENU
from bot.config import Config, ConfigError


def _config() -> Config:
    try:
        return config_module.load()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _runtime(cfg: Config):
    """The runtime for a command that uses the database; refuses an unmigrated one clearly."""
    from bot import runtime
    from storage import migrate

    rt = runtime.build(cfg)
    try:
        migrate.require_current(rt.db)
    except migrate.SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"cannot reach the database at database.url: {type(exc).__name__}") from None
    runtime.set_process_default(rt)
    return rt


@click.group()
def main() -> None:
    """nanhu: the Nanhu sub-district's WeChat bot. Configuration from NANHU_CONFIG (default ./nanhu.toml)."""


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema."""
    from storage import migrate
    from storage.db import Database

    cfg = _config()
    database = Database(cfg.database.url, cfg.database.timeout)
    try:
        migrate.upgrade(database, revision)
    except Exception as exc:
        raise click.ClickException(f"migration failed on {database.engine.url.render_as_string(hide_password=True)}: {exc}")
    click.echo(f"database at revision {migrate.current(database)} ({database.dialect})")


@main.command()
def demo() -> None:
    """Load demo data (communities, events, projects, party roster, one staff login)."""
    _print_demo(_load_demo(_config()))


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
    click.echo(f"  staff login for the admin web (not built yet): {demo_data.STAFF_USERNAME} / {demo_data.STAFF_PASSWORD}")


@main.command()
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker (with the scheduler) on the configured queue."""
    from rq import SimpleWorker

    from bot import logs

    cfg = _config()
    if not cfg.redis_enabled:
        raise click.ClickException("redis.url is not set: without Redis, jobs run inside the web process and no worker is needed")
    logs.setup(cfg.app.log_level, "")
    rt = _runtime(cfg)
    try:
        rt.redis.ping()
    except Exception as exc:
        raise click.ClickException(f"cannot reach Redis at redis.url: {exc}")
    if not burst:
        from jobs import sweeper
        sweeper.start(rt)
    # SimpleWorker runs jobs in this process instead of forking a work horse per job: the jobs are
    # ours, short and bounded by timeouts, and keeping the database, Redis and HTTP connections
    # warm across jobs is most of the speed of a broadcast (forking cost ~0.4 s a job here).
    SimpleWorker([cfg.redis.queue], connection=rt.redis, log_job_description=False).work(
        burst=burst, with_scheduler=True)


@main.command()
@click.option("--bind", default=None, help="host:port (default from [dev])")
def web(bind: str | None) -> None:
    """Serve the webhook with gunicorn (preloaded, [dev] web_workers workers)."""
    import os

    cfg = _config()
    bind = bind or f"{cfg.dev.host}:{cfg.dev.port}"
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:deploy.gunicorn_conf",
                               "--workers", str(cfg.dev.web_workers), "--bind", bind, "bot.wsgi:app"])


@main.command()
def dev() -> None:
    """Migrate, load demo data, start the webhook, a worker and the WeChat stand-in (what `make run` does)."""
    from cli import devserver

    cfg = _config()
    sys.exit(devserver.run(cfg, _load_demo, _print_demo))


@main.group()
def menu() -> None:
    """The official account's custom menu."""


@menu.command("push")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None)
def menu_push(path: str | None) -> None:
    """Create the menu from the JSON file in the repo (or wechat.menu_file)."""
    from bot.app import build_router

    cfg = _config()
    file = Path(path or cfg.wechat.menu_file or DEFAULT_MENU)
    try:
        spec = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}")
    router = build_router()
    missing = [k for k in menu_keys(spec) if k not in router.menu_keys]
    if missing:
        raise click.ClickException(f"{file}: no handler for click key(s) {', '.join(missing)}")
    rt = _runtime(cfg)
    try:
        rt.wechat.menu.create(spec)
    except Exception as exc:
        raise click.ClickException(f"menu not pushed: {wechat_error(exc)}") from None
    click.echo(f"menu pushed from {file}")


def menu_keys(spec: dict) -> list[str]:
    keys = []
    for button in spec.get("button", []):
        for b in [button, *button.get("sub_button", [])]:
            if b.get("type") == "click":
                keys.append(b.get("key", ""))
    return keys


@main.command("fake-wechat")
@click.option("--port", type=int, default=None, help="default: dev.fake_wechat_port")
def fake_wechat(port: int | None) -> None:
    """Serve the local WeChat API stand-in on loopback."""
    from devtools import fake_wechat as fake

    cfg = _config()
    fake.serve("127.0.0.1", port or cfg.dev.fake_wechat_port, cfg.wechat.app_id, cfg.wechat.app_secret)


@main.command()
@click.option("--openid", default=None, help="the resident to be (default: a demo openid)")
@click.option("--mode", type=click.Choice(["plain", "compatible", "safe"]), default=None,
              help="message encryption mode (default: wechat.mode)")
def chat(openid: str | None, mode: str | None) -> None:
    """Chat with the running bot as a resident, in the terminal."""
    from devtools import chat as chat_tool

    sys.exit(chat_tool.run_chat(_config(), openid=openid, mode=mode))


@main.command("nlp-eval")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--lexicon", "lexicon", type=click.Path(exists=True, dir_okay=False), default=None,
              help="evaluate with this lexicon file instead of the deployed one (try a change before deploying it)")
def nlp_eval(file: str | None, lexicon: str | None) -> None:
    """Accuracy, per-intent precision/recall/F1 and misclassified lines of a labelled TSV."""
    from nlp import evaluate

    sys.exit(evaluate.main(file, lexicon_path=lexicon))


@main.group()
def opinions() -> None:
    """Residents' opinions (社情民意): list, show, assign, update, categorize, merge, reply."""


def _opinion_command(action, arm_feedback: bool = False):
    """Run a staff action on an opinion, queue the resident's notice, and print the ticket. After a
    resolution (`arm_feedback`) the resident's next 满意 / 不满意 answers for this ticket."""
    from storage import opinion_states
    from storage.opinions import OpinionRejected

    rt = _runtime(_config())
    try:
        view = action(rt)
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    except (opinion_states.InvalidTransition, OpinionRejected) as exc:
        raise click.ClickException(str(exc)) from None
    if arm_feedback and view.status == "resolved":
        from storage import opinions
        from storage.kv import KVUnavailable

        try:
            opinions.await_feedback(rt.db, rt.kv, view.ticket_no, rt.config.opinions.feedback_days)
        except KVUnavailable:  # the change is made; an answer still finds the ticket (handlers.opinions)
            click.echo("warning: the shared store is down; the resident's answer will be matched when it comes",
                       err=True)
    if rt.jobs.kind == "in-process":
        rt.jobs.shutdown()  # without a worker, this command delivers the resident's notice before it exits
    _print_opinion(view)


def _print_opinion(view) -> None:
    from storage.opinion_states import label

    tz = _runtime_tz()
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


def _runtime_tz():
    from bot import runtime

    return runtime.current().tz


def _community(rt, name: str | None):
    """The community staff named on the command line (a fragment of its name will do), or None."""
    from storage import communities

    if not name:
        return None
    found = communities.match(communities.all_communities(rt.db), name)
    if found is None:
        raise click.ClickException(f"unknown community {name!r}: give a community name, e.g. 文华社区")
    return found


@opinions.command("list")
@click.option("--state", default=None, help="only opinions in this state")
@click.option("--category", default=None, help="only this category (环境卫生, 其他, ...)")
@click.option("--community", default=None, help="only this community (name)")
@click.option("--overdue", is_flag=True, help="only open opinions past their deadline")
def opinions_list(state: str | None, category: str | None, community: str | None, overdue: bool) -> None:
    """The latest opinions (contents shown to staff only; no names or phones)."""
    from nlp import mask_mobiles
    from storage import opinions as store
    from storage.opinion_states import STATES, label

    if state and state not in STATES:
        raise click.ClickException(f"unknown state {state!r}; states: {', '.join(STATES)}")
    rt = _runtime(_config())
    rules = store.Rules.from_config(rt.config.opinions)
    if category and category not in rules.categories:
        raise click.ClickException(f"unknown category {category!r}; categories: {', '.join(rules.categories)}")
    now = rt.now()
    views = store.staff_list(rt.db, state, category=category, community_id=getattr(_community(rt, community), "id", None),
                             overdue_at=now if overdue else None)
    for view in views:
        late = "  超期" if view.overdue(now) else ""
        click.echo(f"{view.ticket_no}  {label(view.status):<6}  {view.category:<4}  "
                   f"{view.created_at.astimezone(rt.tz):%Y-%m-%d}  {mask_mobiles(view.content)[:40]}{late}")
    if not views:
        click.echo("no opinions match")


@opinions.command("show")
@click.argument("ticket")
def opinions_show(ticket: str) -> None:
    """One opinion with its timeline."""
    from storage import opinions as store

    rt = _runtime(_config())
    try:
        _print_opinion(store.staff_show(rt.db, ticket))
    except LookupError:
        raise click.ClickException(f"no opinion {ticket}") from None


@opinions.command("assign")
@click.argument("ticket")
@click.option("--to", "assignee", default=None,
              help="the responsible department or person (default: the department of its category)")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
def opinions_assign(ticket: str, assignee: str | None, note: str, staff_name: str) -> None:
    """Accept an opinion and assign it (submitted → accepted)."""
    from storage import opinions as store
    from storage.audit import staff_actor

    def action(rt):
        if store.staff_show(rt.db, ticket).status != "submitted" and assignee:  # already accepted: hand it over
            return store.reassign(rt.db, ticket, assignee, staff_actor(staff_name), rt.now(), note)
        return store.change_state(rt.db, ticket, "accepted", staff_actor(staff_name), rt.now(), note, assignee=assignee)
    _opinion_command(action)


@opinions.command("update")
@click.argument("ticket")
@click.argument("state")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
def opinions_update(ticket: str, state: str, note: str, staff_name: str) -> None:
    """Move an opinion to STATE (in_progress, resolved, not_responsible, ...)."""
    from storage import opinions as store
    from storage.audit import staff_actor

    _opinion_command(lambda rt: store.change_state(rt.db, ticket, state, staff_actor(staff_name), rt.now(), note),
                     arm_feedback=state == "resolved")


@opinions.command("categorize")
@click.argument("ticket")
@click.argument("category")
@click.option("--as", "staff_name", default="admin", show_default=True)
def opinions_categorize(ticket: str, category: str, staff_name: str) -> None:
    """Change an opinion's category: its department and deadline follow [opinions.categories]."""
    from storage import opinions as store
    from storage.audit import staff_actor

    _opinion_command(lambda rt: store.categorize(rt.db, ticket, category, staff_actor(staff_name), rt.now(),
                                                 store.Rules.from_config(rt.config.opinions)))


@opinions.command("merge")
@click.argument("ticket")
@click.option("--into", "into", required=True, help="the ticket it duplicates")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
def opinions_merge(ticket: str, into: str, note: str, staff_name: str) -> None:
    """Close TICKET as a duplicate of another; its resident then hears of the other ticket's progress."""
    from storage import opinions as store
    from storage.audit import staff_actor

    _opinion_command(lambda rt: store.merge(rt.db, ticket, into, staff_actor(staff_name), rt.now(), note))


@opinions.command("reply")
@click.argument("ticket")
@click.option("--note", required=True)
@click.option("--as", "staff_name", default="admin", show_default=True)
def opinions_reply(ticket: str, note: str, staff_name: str) -> None:
    """Tell the resident something about their opinion, without changing its state."""
    from storage import opinions as store
    from storage.audit import staff_actor

    _opinion_command(lambda rt: store.reply(rt.db, ticket, staff_actor(staff_name), note, rt.now()))


@main.group()
def projects() -> None:
    """Community projects: publish, show, mark milestones, close with spending, cancel."""


def _project_command(action):
    from storage import projects as store

    rt = _runtime(_config())
    try:
        view = action(rt, store)
    except store.ProjectNotFound as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    except store.ProjectRejected as exc:
        raise click.ClickException(str(exc)) from None
    _print_project(rt, view.id)


def _print_project(rt, project_id: int) -> None:
    from storage import projects as store

    d = store.disclosure(rt.db, project_id)
    p = d.project
    click.echo(f"#{p.id}  {p.title}  [{p.status}]  {p.category} · {p.community_name or '全街道'}")
    click.echo(f"  claimed {p.claim_slots - p.places_left}/{p.claim_slots}: "
               + (", ".join(f"{name} ({branch})" for name, branch in d.claimers) or "-"))
    actual = d.beneficiaries_actual if d.beneficiaries_actual is not None else "-"
    click.echo(f"  beneficiaries: {d.beneficiaries or '-'}; planned {d.beneficiaries_planned}, actual {actual}")
    spent = f"{d.spent_yuan:.2f}" if d.spent_yuan is not None else "-"
    click.echo(f"  budget {d.budget_yuan:.2f} yuan, spent {spent}; plan {d.starts_on or '-'} – {d.ends_on or '-'}")
    for i, (title, due, done) in enumerate(d.milestones, 1):
        click.echo(f"  milestone {i}: {due} {title}" + (" (done)" if done else ""))
    click.echo(f"  progress reports: {len(d.progress)}; ratings: {len(d.ratings)}"
               + (f", average {d.average_stars:.1f}" if d.ratings else ""))
    click.echo(f"  public page: {rt.config.app.base_url.rstrip('/')}/projects/{p.id}")


def _milestone(text: str) -> tuple[str, str]:
    title, sep, day = text.rpartition("@")
    if not sep:
        raise click.UsageError(f"--milestone {text!r}: expected 'title@YYYY-MM-DD'")
    return title, day


@projects.command("create")
@click.option("--title", required=True)
@click.option("--category", default="党建项目", show_default=True, help="e.g. 民生微实事")
@click.option("--description", default="")
@click.option("--community", default=None, help="a community's name; default: the whole sub-district")
@click.option("--beneficiaries", default="", help="who benefits, in words")
@click.option("--planned", "planned", type=int, default=0, help="how many people are to benefit")
@click.option("--budget", type=float, default=0.0, help="yuan")
@click.option("--slots", type=int, default=1, show_default=True, help="how many members may claim it")
@click.option("--start", "starts_on", default=None, help="YYYY-MM-DD")
@click.option("--end", "ends_on", default=None, help="YYYY-MM-DD")
@click.option("--milestone", "milestones", multiple=True, help="'title@YYYY-MM-DD', repeatable")
@click.option("--as", "staff_name", default="admin", show_default=True)
def projects_create(title, category, description, community, beneficiaries, planned, budget, slots, starts_on,
                    ends_on, milestones, staff_name) -> None:
    """Publish a project for party members to claim; its public page opens at once."""
    from storage.audit import staff_actor

    steps = tuple(_milestone(m) for m in milestones)
    _project_command(lambda rt, store: store.create(rt.db, store.ProjectSpec(
        title, category, description, getattr(_community(rt, community), "id", None), beneficiaries, planned,
        budget, slots, starts_on, ends_on, steps), staff_actor(staff_name), rt.now()))


@projects.command("list")
@click.option("--all", "include_cancelled", is_flag=True, help="also cancelled projects")
def projects_list(include_cancelled: bool) -> None:
    """Projects with their state and claims."""
    from storage import projects as store

    rt = _runtime(_config())
    found = store.all_projects(rt.db, include_cancelled)
    for p in found:
        click.echo(f"#{p.id:<4} {p.status:<11} claimed {p.claim_slots - p.places_left}/{p.claim_slots:<3} {p.title}")
    if not found:
        click.echo("no projects")


@projects.command("show")
@click.argument("project_id", type=int)
def projects_show(project_id: int) -> None:
    """One project: claimers, beneficiaries, budget and spending, milestones, reports and ratings."""
    from storage import projects as store

    rt = _runtime(_config())
    try:
        _print_project(rt, project_id)
    except store.ProjectNotFound:
        raise click.ClickException(f"no project {project_id}") from None


@projects.command("milestone-done")
@click.argument("project_id", type=int)
@click.argument("number", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
def projects_milestone_done(project_id: int, number: int, staff_name: str) -> None:
    """Mark milestone NUMBER (as `show` lists them) done."""
    from storage.audit import staff_actor

    _project_command(lambda rt, store: store.complete_milestone(rt.db, project_id, number, staff_actor(staff_name),
                                                                rt.now()))


@projects.command("close")
@click.argument("project_id", type=int)
@click.option("--beneficiaries", "actual", type=int, required=True, help="people who actually benefited")
@click.option("--spent", type=float, required=True, help="yuan actually spent")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
def projects_close(project_id: int, actual: int, spent: float, note: str, staff_name: str) -> None:
    """Complete a project with its actual beneficiaries and spending; claimers earn completion points."""
    from storage.audit import staff_actor

    _project_command(lambda rt, store: store.close(rt.db, project_id, actual, spent, staff_actor(staff_name), rt.now(),
                                                   store.Points.from_config(rt.config.party), note))


@projects.command("cancel")
@click.argument("project_id", type=int)
@click.option("--reason", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
def projects_cancel(project_id: int, reason: str, staff_name: str) -> None:
    """Cancel a project (it stays on the public list with the reason)."""
    from storage.audit import staff_actor

    _project_command(lambda rt, store: store.cancel(rt.db, project_id, staff_actor(staff_name), rt.now(), reason))


@main.group()
def events() -> None:
    """Community events: create, list, show, move, cancel, check in, export registrations."""


def _local_time(text: str | None, fmt: str, tz, problem: Callable[[], click.ClickException]):
    """A date or time staff typed, in app.timezone; None when not given; `problem()` is raised when malformed."""
    from datetime import datetime

    if text is None:
        return None
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=tz)
    except ValueError:
        raise problem() from None


def _when_option(text: str | None, name: str, tz):
    return _local_time(text, "%Y-%m-%d %H:%M", tz, lambda: click.UsageError(
        f"{name} {text!r}: expected 'YYYY-MM-DD HH:MM' (in app.timezone)"))


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


def _event_command(action):
    """Run a staff action on an event; the notices it queues go out (in-process: before exiting)."""
    from storage import events as store

    rt = _runtime(_config())
    try:
        view = action(rt, store)
    except store.EventNotFound as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    except store.EventRejected as exc:
        raise click.ClickException(str(exc)) from None
    if rt.jobs.kind == "in-process":
        rt.jobs.shutdown()
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
def events_create(title, start, end, capacity, place, description, community, max_per_signup, deadline, waitlist,
                  reminder_hours, audience, staff_name) -> None:
    """Publish an event residents can sign up for in chat."""
    from storage.audit import staff_actor

    def action(rt, store):
        spec = store.EventSpec(title, _when_option(start, "--start", rt.tz), _when_option(end, "--end", rt.tz),
                               capacity, place, description, getattr(_community(rt, community), "id", None),
                               max_per_signup, _when_option(deadline, "--deadline", rt.tz), waitlist,
                               reminder_hours, audience)
        return store.create(rt.db, spec, staff_actor(staff_name), rt.now())
    _event_command(action)


@events.command("list")
@click.option("--all", "include_past", is_flag=True, help="also events that have ended")
def events_list(include_past: bool) -> None:
    """Events with places taken and waiting."""
    from storage import events as store

    rt = _runtime(_config())
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

    rt = _runtime(_config())
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
def events_move(event_id: int, start: str, end: str, note: str, staff_name: str) -> None:
    """Move an event; every registrant is told, and reminders follow the new time."""
    from storage.audit import staff_actor

    _event_command(lambda rt, store: store.reschedule(
        rt.db, event_id, _when_option(start, "--start", rt.tz), _when_option(end, "--end", rt.tz),
        staff_actor(staff_name), rt.now(), rt.tz, note))


@events.command("cancel")
@click.argument("event_id", type=int)
@click.option("--reason", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
def events_cancel(event_id: int, reason: str, staff_name: str) -> None:
    """Cancel an event; every registrant is told and no reminder goes out."""
    from storage.audit import staff_actor

    _event_command(lambda rt, store: store.cancel_event(rt.db, event_id, staff_actor(staff_name), rt.now(), reason))


@events.command("checkin")
@click.argument("event_id", type=int)
@click.argument("code")
@click.option("--as", "staff_name", default="admin", show_default=True)
def events_checkin(event_id: int, code: str, staff_name: str) -> None:
    """Validate a resident's check-in code at the door (once)."""
    from storage import events as store
    from storage.audit import staff_actor

    rt = _runtime(_config())
    result = store.check_in(rt.db, code, staff_actor(staff_name), rt.now(), event_id=event_id)
    r = result.registration
    if result.outcome == "checked_in":
        click.echo(f"checked in: #{event_id} {r.event.title}, people: {r.head_count}")
        return
    if result.outcome == "already":
        raise click.ClickException(f"code {code} was already used at {r.checked_in_at.astimezone(rt.tz):%Y-%m-%d %H:%M}")
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

    rt = _runtime(_config())
    try:
        record = store.attendance(rt.db, event_id)
    except store.EventNotFound:
        raise click.ClickException(f"no event {event_id}") from None
    with click.open_file(out, "w", encoding="utf-8-sig" if out != "-" else None) as f:  # Excel reads the BOM
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code", "status", "waitlist_position", "head_count", "registered_at", "checked_in_at", "phone"])
        for r in record.registrations:
            writer.writerow([r.code, r.status, r.position or "", r.head_count,
                             r.created_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.created_at else "",
                             r.checked_in_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.checked_in_at else "",
                             r.phone if r.status != "cancelled" and r.phone else ""])  # not of those who withdrew


@main.group()
def party() -> None:
    """The party roster: import members with binding codes from CSV, list them, issue a new code, unbind."""


def _roster_text(path: str) -> str:
    """The CSV as text: UTF-8 (with or without BOM), else GB18030 (a superset of the GBK that Excel writes on
    Chinese Windows, so rare characters in names survive too)."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    raise click.ClickException(f"{path} is neither UTF-8 nor GBK text: save the spreadsheet as CSV")


def _write_codes(out, created, tz) -> None:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "branch", "community", "mobile", "code", "expires"])
    for m in created:
        writer.writerow([m.name, m.branch, m.community, m.masked_mobile, m.code,
                         m.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")])


@party.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--codes-out", default=None, type=click.Path(dir_okay=False),
              help="new CSV file for the binding codes (default: print them)")
@click.option("--as", "staff_name", default="admin", show_default=True)
def party_import(file: str, codes_out: str | None, staff_name: str) -> None:
    """Add members from a CSV with a header row: 姓名/name, 手机/mobile, 支部/branch, 社区/community, and
    optionally 职务/role, 入党日期/joined_on, 服务承诺/commitment. Every line is checked first; any problem
    and nothing is imported. Each new member gets a one-time binding code, shown only here."""
    import io

    from storage import roster
    from storage.audit import staff_actor

    text = _roster_text(file)
    rt = _runtime(_config())
    try:
        # opened before importing: the codes are in no other place, so they must have somewhere to go
        out = open(codes_out, "x", encoding="utf-8-sig", newline="") if codes_out else None  # Excel reads the BOM
    except FileExistsError:
        raise click.ClickException(f"{codes_out} already exists (it may hold codes not handed out yet): "
                                   "give a new file name") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {codes_out}: {exc.strerror}") from None
    report = None
    try:
        report = roster.import_csv(rt.db, text, rt.config.app.secret_key, rt.now(), staff_actor(staff_name))
    finally:
        if out and (report is None or not report.ok):  # no codes to keep: leave no empty file behind
            out.close()
            Path(codes_out).unlink()
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}", err=True)
    if not report.ok:
        for problem in report.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{len(report.problems)} problem(s) in {file}; nothing was imported")
    # without --codes-out, standard output carries only the codes CSV, so it can be redirected to a file
    click.echo(f"imported {len(report.created)} party members", err=not out)
    if out:
        with out:
            _write_codes(out, report.created, rt.tz)
        click.echo(f"binding codes written to {codes_out}: give each member their own code; it is stored nowhere "
                   "else (nanhu party code ID issues a new one)")
    else:
        buffer = io.StringIO()
        _write_codes(buffer, report.created, rt.tz)
        click.echo(buffer.getvalue(), nl=False)


def _aligned(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns, CJK characters counting double."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip() for row in rows]


@party.command("list")
@click.option("--community", default=None, help="only this community (name)")
def party_list(community: str | None) -> None:
    """The roster with masked phones: bound or not, and until when an unused code works."""
    from storage import roster

    rt = _runtime(_config())
    now = rt.now()
    entries = roster.roster(rt.db, getattr(_community(rt, community), "id", None))
    if not entries:
        click.echo("no party members")
        return

    def state(e) -> str:
        if e.bound:
            return "bound"
        if e.code_expires_at is None:
            return "no code"
        if e.code_expires_at <= now:
            return "code expired"
        return f"code until {e.code_expires_at.astimezone(rt.tz):%Y-%m-%d}"
    rows = [["id", "name", "mobile", "community", "branch", "role", "state", "points"]]
    rows += [[f"#{e.id}", e.name, e.masked_mobile, e.community or "-", e.branch, e.role, state(e), str(e.points)]
             for e in entries]
    for line in _aligned(rows):
        click.echo(line)


@party.command("code")
@click.argument("member_id", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
def party_code(member_id: int, staff_name: str) -> None:
    """A new binding code for a member not yet bound (shown once; the previous code stops working)."""
    from storage import roster
    from storage.audit import staff_actor
    from storage.party import CODE_VALIDITY

    rt = _runtime(_config())
    now = rt.now()
    try:
        code = roster.new_binding_code(rt.db, member_id, rt.config.app.secret_key, now, staff_actor(staff_name))
    except (roster.MemberNotFound, roster.RosterError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"binding code for #{member_id}: {code}, until {(now + CODE_VALIDITY).astimezone(rt.tz):%Y-%m-%d %H:%M}"
               f" (the member sends 「绑定 {code}」; it is shown only now)")


@party.command("unbind")
@click.argument("member_id", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
def party_unbind(member_id: int, staff_name: str) -> None:
    """Release a member's WeChat account (e.g. a new phone); identity-card links issued before stop verifying."""
    from storage import roster
    from storage.audit import staff_actor

    rt = _runtime(_config())
    try:
        member = roster.unbind(rt.db, member_id, staff_actor(staff_name), rt.now())
    except (roster.MemberNotFound, roster.RosterError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{member.id} {member.name} is no longer bound; card links issued before no longer verify. "
               f"To bind again: nanhu party code {member.id}")


@main.group()
def staff() -> None:
    """Staff accounts (the admin web will add more)."""


@staff.command("link")
@click.argument("username")
@click.argument("openid")
def staff_link(username: str, openid: str) -> None:
    """Let a staff member use staff commands (发公告, 公告报告) in chat from OPENID."""
    from storage import staff as staff_store
    from storage.audit import SYSTEM

    rt = _runtime(_config())
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

    rt = _runtime(_config())
    found = _community(rt, community)
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

    rt = _runtime(_config())
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

    rt = _runtime(_config())
    try:
        staff_store.disable(rt.db, username, SYSTEM, rt.now())
    except staff_store.StaffNotFound:
        raise click.ClickException(f"no staff member {username!r}") from None
    click.echo(f"{username} disabled")


@main.group(invoke_without_command=True)
@click.pass_context
def queues(ctx: click.Context) -> None:
    """Queue lengths, failed jobs and how to requeue them; the outbox by state."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy import func, select

    from storage.models import Delivery

    rt = _runtime(_config())
    with rt.db.transaction(read_only=True) as s:
        outbox = dict(s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
    click.echo("outbox: " + (", ".join(f"{state} {n}" for state, n in sorted(outbox.items())) or "empty"))
    if rt.redis is None:
        click.echo("no redis.url: jobs run inside the web process; nothing is queued in Redis")
        return
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    q = Queue(rt.config.redis.queue, connection=rt.redis)
    failed = FailedJobRegistry(queue=q)
    click.echo(f"queue {q.name}: waiting {q.count}, running {StartedJobRegistry(queue=q).count}, "
               f"scheduled {ScheduledJobRegistry(queue=q).count}, failed {failed.count}")
    for job_id in failed.get_job_ids()[:20]:
        job = q.fetch_job(job_id)
        reason = (job.latest_result().exc_string or "").strip().splitlines()[-1:] if job and job.latest_result() else []
        click.echo(f"  failed {job_id}  {job.description if job else ''}  {reason[0] if reason else ''}")
    if failed.count:
        click.echo("requeue them with: nanhu queues requeue --all   (or: nanhu queues requeue JOB_ID)")


@queues.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9181, show_default=True)
def queues_dashboard(host: str, port: int) -> None:
    """Serve rq-dashboard at http://HOST:PORT/rq (loopback only: it has no login)."""
    from werkzeug.serving import run_simple

    from web.rq_dashboard import LOOPBACK, create_app

    cfg = _config()
    if not cfg.redis_enabled:
        raise click.ClickException("no redis.url: there is no RQ queue to watch")
    if host not in LOOPBACK:
        raise click.ClickException("the dashboard has no login, so it only listens on loopback (127.0.0.1); "
                                   "use an SSH tunnel to reach it from elsewhere")
    click.echo(f"rq-dashboard at http://{host}:{port}/rq")
    run_simple(host, port, create_app(cfg.redis.url))


@queues.command("requeue")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="every failed job")
def queues_requeue(job_ids: tuple[str, ...], everything: bool) -> None:
    """Put failed jobs back on the queue (delivery jobs are safe to run again)."""
    rt = _runtime(_config())
    if rt.redis is None:
        raise click.ClickException("no redis.url: there is no RQ queue")
    from rq import Queue
    from rq.registry import FailedJobRegistry

    failed = FailedJobRegistry(queue=Queue(rt.config.redis.queue, connection=rt.redis))
    targets = failed.get_job_ids() if everything else list(job_ids)
    if not targets:
        raise click.ClickException("name the jobs to requeue, or --all")
    for job_id in targets:
        failed.requeue(job_id)
    click.echo(f"requeued {len(targets)} job(s)")


@main.group()
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

    rt = _runtime(_config())
    audience = _audience(rt, audience_text)
    send_at = _local_time(at_text or None, "%Y-%m-%d %H:%M", rt.tz, lambda: click.ClickException(
        f"--at {at_text!r}: expected 'YYYY-MM-DD HH:MM'"))
    count = notices.count_audience(rt.db, audience)
    when = f"at {send_at:%Y-%m-%d %H:%M}" if send_at else "now"
    click.echo(f"{count} residents will receive 「{title}」 {when}.")
    if not yes and not click.confirm("Send it?"):
        raise click.ClickException("not sent")
    try:
        with outbox.counting() as tally:  # the deliveries are queued as the announcement commits
            notice_id = notices.announce(rt.db, title, body, audience, staff_actor(staff), rt.now(), send_at)
    except notices.AnnouncementRejected as exc:
        raise click.ClickException(f"not sent: {exc}") from None
    if send_at is None:
        queued = tally.queued
        if rt.jobs.kind == "in-process":
            rt.jobs.shutdown()  # without a worker, this command delivers before it exits
        click.echo(f"announcement {notice_id}: {queued} deliveries queued ({rt.jobs.kind})")
    else:
        click.echo(f"announcement {notice_id} scheduled; the sweeper sends it when its time comes")
    click.echo(f"delivery report: nanhu announce report {notice_id}")


@announce.command("report")
@click.argument("notice_id", type=int)
def announce_report(notice_id: int) -> None:
    """Recipients, sent, failed by errcode, pending."""
    from storage import notices

    rt = _runtime(_config())
    try:
        r = notices.report(rt.db, notice_id)
    except LookupError:
        raise click.ClickException(f"no announcement {notice_id}") from None
    click.echo(f"announcement {r.notice_id} 「{r.title}」 to {r.audience}")
    click.echo(f"  recipients {r.recipients}  sent {r.sent}  pending {r.pending}  skipped {r.skipped}")
    for code, n in sorted(r.failed.items()):
        click.echo(f"  failed {n} (errcode {code})")


@main.command("nlp-misses")
@click.option("--days", type=int, default=30, show_default=True, help="only messages from the last N days")
@click.option("--top", type=int, default=50, show_default=True)
def nlp_misses(days: int, top: int) -> None:
    """Messages the bot did not understand, most frequent first, with what it makes of them now."""
    from datetime import datetime, timedelta

    import nlp
    from bot.logs import read_misses

    cfg = _config()
    if not cfg.app.lexicon_log:
        raise click.ClickException("app.lexicon_log is empty: not-understood messages are not being kept")
    misses = read_misses(cfg.app.lexicon_log, datetime.now() - timedelta(days=days))[:top]
    if not misses:
        click.echo(f"no not-understood messages in {cfg.app.lexicon_log} from the last {days} days")
        return
    nlp.load()
    click.echo("count  last seen         now understood as   message")
    for m in misses:
        now = nlp.classify(m.text).name
        click.echo(f"{m.count:5d}  {m.last_seen:%Y-%m-%d %H:%M}  {now:<18}  {m.text}")


@main.command("send-text")
@click.argument("openid")
@click.argument("text")
def send_text_cmd(openid: str, text: str) -> None:
    """Send a customer-service text message to one resident (through the worker when Redis is configured)."""
    from jobs.sending import send_text

    if not text.strip():
        raise click.ClickException("the message is empty")
    rt = _runtime(_config())
    if rt.jobs.kind == "rq":
        click.echo(f"queued for the worker: job {rt.jobs.enqueue(send_text, openid, text)}")
        return
    try:  # no worker without Redis: send now and say how it went
        outcome = send_text(openid, text)
    except Exception as exc:
        raise click.ClickException(f"not sent: {wechat_error(exc)}") from None
    click.echo(outcome)


def wechat_error(exc: Exception) -> str:
    """A WeChat API failure in one line, without the URL (it carries the access token)."""
    import requests
    from wechatpy.exceptions import WeChatClientException

    if isinstance(exc, WeChatClientException):
        return f"WeChat answered errcode {exc.errcode} ({exc.errmsg})"
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the WeChat API at wechat.api_base_url ({type(exc).__name__})"
    return f"{type(exc).__name__}"



# --- statistics --------------------------------------------------------------------------------------

@main.group()
def stats() -> None:
    """Figures for staff: stats opinions."""


def _day_start(text: str | None, option: str, tz):
    return _local_time(text, "%Y-%m-%d", tz, lambda: click.UsageError(f"{option} {text!r}: expected a date YYYY-MM-DD"))


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: list[list[str]]) -> list[str]:
    """Aligned columns (CJK characters count double): the first left-aligned, the rest right-aligned."""
    widths = [max(_display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0] + " " * (widths[0] - _display_width(row[0]))]
        cells += [" " * (w - _display_width(cell)) + cell for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return lines


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _hours(hours: float | None) -> str:
    return "—" if hours is None else f"{hours:.1f}"


STATS_HEADINGS = ["", "总数", "已办结", "已完结", "按时办结", "超期未办", "如实办结率", "办结率", "首次响应中位(时)",
                  "办结用时中位(时)", "满意", "不满意", "默认满意", "待评价", "未询问", "满意率"]


def _stats_row(name: str, f) -> list[str]:
    return [name, str(f.total), str(f.resolved), str(f.finished), str(f.on_time), str(f.overdue_open),
            _percent(f.honest_rate), _percent(f.plain_rate), _hours(f.median_first_response_hours),
            _hours(f.median_resolution_hours), str(f.satisfied), str(f.unsatisfied), str(f.confirmed_by_silence),
            str(f.awaiting), str(f.not_asked), _percent(f.satisfaction_rate)]


@stats.command("opinions")
@click.option("--since", default=None, help="from this day, YYYY-MM-DD in app.timezone (inclusive)")
@click.option("--until", default=None, help="up to this day, YYYY-MM-DD in app.timezone (exclusive)")
@click.option("--community", default=None, help="only this community (e.g. 文华社区)")
@click.option("--by", "by", type=click.Choice(["community", "category", "month", "all"]), default="all",
              show_default=True)
def stats_opinions(since: str | None, until: str | None, community: str | None, by: str) -> None:
    """Opinions handled on time, resolution rates, response times and satisfaction (definitions under the table)."""
    from zoneinfo import ZoneInfo

    from storage.stats import opinion_stats

    cfg = _config()
    tz = ZoneInfo(cfg.app.timezone)
    start, end = _day_start(since, "--since", tz), _day_start(until, "--until", tz)
    if start is not None and end is not None and start >= end:
        raise click.UsageError(f"--since {since} must be before --until {until}")
    rt = _runtime(cfg)
    found = _community(rt, community)
    now = rt.now()
    days = cfg.opinions.feedback_days
    figures = opinion_stats(rt.db, now, rt.tz, days, start, end, found.id if found else None)

    period = f"{since or '最早'} 至 {until + ' 前' if until else '现在'}"
    scope = found.name if found else "全街道"
    click.echo(f"意见统计 {scope}  提交时间 {period}（{cfg.app.timezone}）  截至 {now.astimezone(rt.tz):%Y-%m-%d %H:%M}")
    rows = [STATS_HEADINGS, _stats_row("总体", figures.overall)]
    sections = {"community": ("按社区", figures.by_community), "category": ("按类别", figures.by_category),
                "month": ("按月份", figures.by_month)}
    for key, (title, groups) in sections.items():
        if by in (key, "all") and groups:
            rows.append([f"[{title}]"] + [""] * (len(STATS_HEADINGS) - 1))
            rows += [_stats_row(name, f) for name, f in groups.items()]
    for line in _table(rows):
        click.echo(line)
    click.echo(f"""
说明：统计提交时间在期间内的意见，不含"已合并"（duplicate）工单：合并的问题只在主工单计一次。
  已完结 = 已办结 + 非本街道职责；超期未办 = 尚未完结（已提交、已受理、处理中）且已过办理期限。
  按时办结 = 已办结，且办结时间不晚于期限（没有期限的算按时）。
  如实办结率 = 按时办结 ÷ (已完结 + 超期未办)；办结率 = 已办结 ÷ 总数。
  首次响应中位 = 提交到工作人员首次处理或回复的小时数中位数（只算已响应的）；
  办结用时中位 = 已办结工单从提交到最后一次办结的小时数中位数。
  满意、不满意 = 居民的回复（不满意含因此重新打开的工单）；默认满意 = 询问满意度满 {days} 天未评价；
  待评价 = 询问满意度未满 {days} 天、尚未评价；未询问 = 已办结但居民已取消关注、没有收到询问（不计入满意率）。
  满意率 = (满意 + 默认满意) ÷ (满意 + 不满意 + 默认满意)。
  "—" 表示没有数据（分母为 0）。""")


# --- identity cards -----------------------------------------------------------------------------------

@main.group()
def card() -> None:
    """Party members' identity cards (亮身份): list, revoke, reinstate, participation."""


@card.command("list")
def card_list() -> None:
    """Every member on the roster with their card: id (for revoke/reinstate), bound or not, status, last shown."""
    from storage import cards

    rt = _runtime(_config())
    rows = [["id", "姓名", "支部", "社区", "认证", "党员证", "最近亮身份"]]
    for m in cards.roster(rt.db):
        status = (f"已注销 {m.revoked_at.astimezone(rt.tz):%Y-%m-%d}" if m.revoked_at else "有效") + f" #{m.serial}"
        shown = f"{m.last_shown_at.astimezone(rt.tz):%Y-%m-%d %H:%M}" if m.last_shown_at else "—"
        rows.append([str(m.member_id), m.name, m.branch, m.community_name or "—", "是" if m.bound else "否", status, shown])
    if len(rows) == 1:
        click.echo("the party roster is empty")
        return
    widths = [max(_display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell + " " * (w - _display_width(cell)) for cell, w in zip(r, widths)).rstrip())


@card.command("revoke")
@click.argument("member_id", type=int)
@click.option("--reason", default="", help="recorded in the audit log")
@click.option("--as", "staff_name", default="admin", show_default=True)
def card_revoke(member_id: int, reason: str, staff_name: str) -> None:
    """Revoke a member's card: its links show 已注销 and 亮身份 tells the member."""
    from storage import cards
    from storage.audit import staff_actor

    rt = _runtime(_config())
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

    rt = _runtime(_config())
    try:
        serial = cards.reinstate(rt.db, member_id, staff_actor(staff_name), rt.now())
    except cards.MemberNotFound:
        raise click.ClickException(f"no party member {member_id} (see: nanhu card list)") from None
    if serial is None:
        raise click.ClickException(f"the card of member {member_id} is not revoked")
    click.echo(f"card of member {member_id} reinstated (serial {serial}); earlier links stay revoked, "
               "亮身份 gives the member a new one")


@card.command("participation")
@click.option("--since", default=None, help="from this day, YYYY-MM-DD in app.timezone (default: the 1st of this month)")
@click.option("--until", default=None, help="up to this day, YYYY-MM-DD in app.timezone (exclusive; default: now)")
def card_participation(since: str | None, until: str | None) -> None:
    """Participation rate: the share of bound members who showed their identity (亮身份) in the period."""
    from storage import cards

    rt = _runtime(_config())
    start = _day_start(since, "--since", rt.tz)
    end = _day_start(until, "--until", rt.tz)
    if start is None:
        start = rt.now().astimezone(rt.tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if end is not None and start >= end:
        raise click.UsageError(f"--since {start:%Y-%m-%d} must be before --until {until}")
    figures = cards.participation(rt.db, start, end)
    period = f"{start:%Y-%m-%d} 至 {until + ' 前' if until else '现在'}（{rt.config.app.timezone}）"
    click.echo(f"亮身份参与率 {period}")
    click.echo(f"  已认证党员 {figures.bound_members}  亮过身份 {figures.showed}  参与率 {_percent(figures.rate)}")
    click.echo("说明：已认证党员 = 现已绑定微信、且在期末前认证的党员；亮过身份 = 其中期间内至少发过一次「亮身份」的人数"
               "（同一人多次只算一次，已注销的党员证不计）。")


@stats.command("party")
@click.option("--since", default=None, help="identity shows from this day, YYYY-MM-DD in app.timezone (inclusive)")
@click.option("--until", default=None, help="up to this day (exclusive)")
def stats_party(since: str | None, until: str | None) -> None:
    """Members bound, identity participation, projects by state, beneficiaries, ratings, points by branch."""
    from zoneinfo import ZoneInfo

    from storage.projects import STATE_LABELS
    from storage.stats import party_stats

    cfg = _config()
    tz = ZoneInfo(cfg.app.timezone)
    start, end = _day_start(since, "--since", tz), _day_start(until, "--until", tz)
    if start is not None and end is not None and start >= end:
        raise click.UsageError(f"--since {since} must be before --until {until}")
    rt = _runtime(cfg)
    f = party_stats(rt.db, start, end)
    click.echo(f"党员统计  亮身份期间 {since or '最早'} 至 {until + ' 前' if until else '现在'}")
    rows = [["党员（名册）", str(f.members)], ["已绑定微信", str(f.bound)],
            ["期间亮身份", f"{f.participation.showed}/{f.participation.bound_members}"],
            ["亮身份参与率", _percent(f.participation.rate)]]
    rows += [[f"项目·{STATE_LABELS.get(state, state)}", str(n)] for state, n in sorted(f.projects_by_state.items())]
    rows += [["已完成项目受益人数", str(f.beneficiaries)], ["居民评价", str(f.ratings)],
             ["平均评价（星）", "—" if f.average_stars is None else f"{f.average_stars:.2f}"]]
    for line in _table(rows):
        click.echo(line)
    click.echo("\n积分（按支部）")
    for line in _table([["支部", "积分", "党员"]] + [[b, str(p), str(n)] for b, p, n in f.points_by_branch]):
        click.echo(line)
    click.echo("\n说明：亮身份参与率 = 期间亮过身份的党员 ÷ 期末前已绑定的党员（同 nanhu card participation）；"
               "受益人数为已完成项目结项时登记的实际人数。")


if __name__ == "__main__":
    main()
