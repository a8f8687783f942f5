"""Community projects for staff."""
from __future__ import annotations

import click

from cli import common


@click.group()
def projects() -> None:
    """Community projects: publish, show, mark milestones, close with spending, cancel."""


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


def _show(rt, view) -> None:
    _print_project(rt, view.id)


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
@common.staff_action(_show)
def projects_create(rt, title, category, description, community, beneficiaries, planned, budget, slots, starts_on,
                    ends_on, milestones, staff_name):
    """Publish a project for party members to claim; its public page opens at once."""
    from storage import projects as store
    from storage.audit import staff_actor

    steps = tuple(_milestone(m) for m in milestones)
    return store.create(rt.db, store.ProjectSpec(
        title, category, description, getattr(common.community(rt, community), "id", None), beneficiaries, planned,
        budget, slots, starts_on, ends_on, steps), staff_actor(staff_name), rt.now())


@projects.command("list")
@click.option("--all", "include_cancelled", is_flag=True, help="also cancelled projects")
def projects_list(include_cancelled: bool) -> None:
    """Projects with their state and claims."""
    from storage import projects as store

    rt = common.runtime(common.config())
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

    rt = common.runtime(common.config())
    try:
        _print_project(rt, project_id)
    except store.ProjectNotFound:
        raise click.ClickException(f"no project {project_id}") from None


@projects.command("milestone-done")
@click.argument("project_id", type=int)
@click.argument("number", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_show)
def projects_milestone_done(rt, project_id: int, number: int, staff_name: str):
    """Mark milestone NUMBER (as `show` lists them) done."""
    from storage import projects as store
    from storage.audit import staff_actor

    return store.complete_milestone(rt.db, project_id, number, staff_actor(staff_name), rt.now())


@projects.command("close")
@click.argument("project_id", type=int)
@click.option("--beneficiaries", "actual", type=int, required=True, help="people who actually benefited")
@click.option("--spent", type=float, required=True, help="yuan actually spent")
@click.option("--note", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_show)
def projects_close(rt, project_id: int, actual: int, spent: float, note: str, staff_name: str):
    """Complete a project with its actual beneficiaries and spending; claimers earn completion points."""
    from storage import projects as store
    from storage.audit import staff_actor

    return store.close(rt.db, project_id, actual, spent, staff_actor(staff_name), rt.now(),
                       store.Points.from_config(rt.config.party), note)


@projects.command("cancel")
@click.argument("project_id", type=int)
@click.option("--reason", default="")
@click.option("--as", "staff_name", default="admin", show_default=True)
@common.staff_action(_show)
def projects_cancel(rt, project_id: int, reason: str, staff_name: str):
    """Cancel a project (it stays on the public list with the reason)."""
    from storage import projects as store
    from storage.audit import staff_actor

    return store.cancel(rt.db, project_id, staff_actor(staff_name), rt.now(), reason)
