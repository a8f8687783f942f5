"""Admin pages for community projects: publish one (its form checked field by field, in Chinese), the
list, one project's disclosure, and marking milestones done, closing with spending, cancelling."""
from __future__ import annotations

from typing import Any, Callable

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from storage import projects as project_store
from storage.projects import Points, ProjectNotFound, ProjectRejected, ProjectSpec
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import (
    actor,
    all_communities,
    community_id_by_name,
    in_scope,
    my_community_name,
    render,
    runtime,
    scope,
)
from wording.staff import for_staff


def _number(form: dict[str, str], name: str, default: Any, kind: Callable[[str], Any], label: str,
            errors: dict[str, str]) -> Any:
    text = form.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        errors[name] = f"{label}应为{'整数' if kind is int else '数字'}。"
        return default


def _milestones(text: str, errors: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Lines "标题 YYYY-MM-DD" (the date is the last word); storage checks the dates."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(None, 1)
        if len(parts) != 2:
            errors["milestones"] = f"第 {number} 行应写成「标题 YYYY-MM-DD」（标题和日期之间空一格）。"
            return ()
        found.append((parts[0], parts[1]))
    return tuple(found)


def _visible_projects() -> list[project_store.ProjectView]:
    shown = project_store.all_projects(runtime().db, include_cancelled=True)
    if scope() is None:
        return shown
    mine = my_community_name()
    return [p for p in shown if mine is not None and p.community_name == mine]


def _projects_page(form: dict[str, str], errors: dict[str, str], status: int = 200):
    return render("admin/projects.html", status, projects=_visible_projects(), form=form, errors=errors,
                  labels=project_store.STATE_LABELS, communities=all_communities() if scope() is None else [],
                  my_community=my_community_name())


@bp.get("/projects")
@login_required
def projects() -> ResponseReturnValue:
    return _projects_page({"category": "党建项目", "slots": "1"}, {})


@bp.post("/projects")
@login_required
def project_create() -> ResponseReturnValue:
    rt = runtime()
    form = {k: request.form.get(k, "") for k in ("title", "category", "description", "community", "beneficiaries",
                                                   "planned", "budget", "slots", "start", "end", "milestones")}
    errors: dict[str, str] = {}
    community_id = scope()
    if community_id is None and form["community"].strip():
        chosen = form["community"].strip()
        community_id = int(chosen) if chosen.isdigit() else None
        if community_id is None or all(c.id != community_id for c in all_communities()):
            errors["community"] = "请选择列表中的社区。"
    planned = _number(form, "planned", 0, int, "计划受益人数", errors)
    budget = _number(form, "budget", 0.0, float, "预算", errors)
    slots = _number(form, "slots", 1, int, "认领名额", errors)
    milestones = _milestones(form["milestones"], errors)
    if not errors:
        spec = ProjectSpec(form["title"], form["category"], form["description"], community_id, form["beneficiaries"],
                           planned, budget, slots, form["start"].strip() or None, form["end"].strip() or None,
                           milestones)
        try:
            made = project_store.create(rt.db, spec, actor(), rt.now())
        except ProjectRejected as exc:
            errors[exc.field or "form"] = for_staff(exc, otherwise=f"无法创建项目：{exc}")
        else:
            flash(f"已发布项目「{made.title}」。")
            return redirect(url_for("admin.project", project_id=made.id))
    return _projects_page(form, errors, 400)


def _scoped_disclosure(project_id: int) -> project_store.Disclosure:
    try:
        shown = project_store.disclosure(runtime().db, project_id)
    except ProjectNotFound:
        abort(404)
    in_scope(community_id_by_name(shown.project.community_name))
    return shown


@bp.get("/projects/<int:project_id>")
@login_required
def project(project_id: int) -> ResponseReturnValue:
    shown = _scoped_disclosure(project_id)
    return render("admin/project.html", d=shown, p=shown.project, labels=project_store.STATE_LABELS,
                  is_open=shown.project.status in project_store.OPEN_STATES)


def _project_action(project_id: int, action: Callable[[], object], done: str) -> Any:
    _scoped_disclosure(project_id)
    try:
        action()
    except ProjectNotFound:
        abort(404)
    except ProjectRejected as exc:
        flash(for_staff(exc, otherwise=f"操作未完成：{exc}"), "error")
    else:
        flash(done)
    return redirect(url_for("admin.project", project_id=project_id))


@bp.post("/projects/<int:project_id>/milestones/<int:number>")
@login_required
def project_milestone(project_id: int, number: int) -> ResponseReturnValue:
    rt = runtime()
    return _project_action(project_id, lambda: project_store.complete_milestone(rt.db, project_id, number, actor(),
                                                                                 rt.now()),
                           f"第 {number} 个里程碑已标记完成。")


@bp.post("/projects/<int:project_id>/close")
@login_required
def project_close(project_id: int) -> ResponseReturnValue:
    rt = runtime()
    try:
        beneficiaries = int(request.form.get("beneficiaries_actual", "").strip())
        spent = float(request.form.get("spent", "").strip())
    except ValueError:
        _scoped_disclosure(project_id)
        flash("结项需填写实际受益人数（整数）和实际支出（元）。", "error")
        return redirect(url_for("admin.project", project_id=project_id))
    note = request.form.get("note", "")
    return _project_action(project_id, lambda: project_store.close(
        rt.db, project_id, beneficiaries, spent, actor(), rt.now(), Points.from_config(rt.config.party), note),
        "项目已结项，认领党员已获得完成积分。")


@bp.post("/projects/<int:project_id>/cancel")
@login_required
def project_cancel(project_id: int) -> ResponseReturnValue:
    rt = runtime()
    reason = request.form.get("reason", "")
    return _project_action(project_id, lambda: project_store.cancel(rt.db, project_id, actor(), rt.now(), reason),
                           "项目已取消。")
