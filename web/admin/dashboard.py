"""The dashboard: the figures the Nanhu model judges itself by, for a community and a period."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from storage import cards, communities, events, notices, opinions, projects
from storage.stats import opinion_stats
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.charts import bars
from web.admin.common import parse_day, runtime, scope


def period_and_community() -> tuple[datetime | None, datetime | None, int | None, dict]:
    """The filters every figure page shares: ?since=&until= (days) and, for admins, ?community=."""
    since, until = parse_day(request.args.get("since", "")), parse_day(request.args.get("until", ""))
    if until is not None:
        until += timedelta(days=1)  # the page says "to" a day, inclusive
    community_id = scope()
    if community_id is None and request.args.get("community", "").isdigit():
        community_id = int(request.args["community"])
    shown = {"since": request.args.get("since", ""), "until": request.args.get("until", ""),
             "community": community_id}
    return since, until, community_id, shown


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    rt = runtime()
    since, until, community_id, shown = period_and_community()
    now = rt.now()
    ops = opinion_stats(rt.db, now, rt.tz, rt.config.opinions.feedback_days, since, until, community_id)
    overdue = len(opinions.staff_list(rt.db, limit=1000, community_id=community_id, overdue_at=now))
    months = [(month, [f.total, f.resolved, f.on_time]) for month, f in list(ops.by_month.items())[-12:]]
    chart = Markup(bars(months, [("提交", "#90a4ae"), ("办结", "#ef9a9a"), ("按时办结", "#b71c1c")]))
    latest = [notices.report(rt.db, nid) for nid in notices.latest_announcements(rt.db, 3, scope())]
    return render_template(
        "admin/dashboard.html", ops=ops.overall, overdue=overdue, chart=chart,
        ev=events.figures(rt.db, community_id, since, until), pj=projects.figures(rt.db, community_id),
        party=cards.participation(rt.db, since, until, community_id), latest=latest, shown=shown,
        communities=communities.all_communities(rt.db) if scope() is None else [])
