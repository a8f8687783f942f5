"""The job queue and the outbox: lengths, failed jobs, requeueing, rq-dashboard."""
from __future__ import annotations

import click

from cli import common


@click.group(invoke_without_command=True)
@click.pass_context
def queues(ctx: click.Context) -> None:
    """Queue lengths, failed jobs and how to requeue them; the outbox by state."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy import func, select

    from storage.models import Delivery

    rt = common.runtime(common.config())
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

    cfg = common.config()
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
    rt = common.runtime(common.config())
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
