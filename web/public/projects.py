"""Public disclosure pages for community projects ("三公开": content and beneficiaries, timeline,
expenditure), readable on a phone. Claimers appear by name and branch; never a phone number, and
evaluations never say who gave them."""
from __future__ import annotations

from datetime import datetime, tzinfo

from flask import Response

from bot.runtime import current as runtime
from storage import projects
from web.public.common import page, public_bp


def _yuan(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} 元"


def _day(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.year}-{local.month:02d}-{local.day:02d}"


@public_bp.get("/projects")
def project_list() -> Response:
    rt = runtime()
    found = projects.all_projects(rt.db, include_cancelled=True)  # disclosure includes what was dropped
    return page("projects.html", found=found, labels=projects.STATE_LABELS)


@public_bp.get("/projects/<int:project_id>")
def project_page(project_id: int) -> Response:
    rt = runtime()
    try:
        d = projects.disclosure(rt.db, project_id)
    except projects.ProjectNotFound:
        return page("project_missing.html", 404)
    return page("project.html", d=d, p=d.project, labels=projects.STATE_LABELS, yuan=_yuan,
                day=lambda moment: _day(moment, rt.tz))
