"""Admin pages for projects, the party roster, residents and the audit log. Views call storage services only.

Scope: community staff see and act on their own community's projects, members and residents (any other
answers 404). The roster CSV import and the audit log are for sub-district admins only: an import may name
any community, and log entries do not all say which community they concern."""
from __future__ import annotations

import ast
import re
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import abort, flash, redirect, render_template, request, url_for

import nlp
from web.admin.blueprint import bp
from web.admin.auth import actor, in_scope, local_time, login_required, parse_day, runtime, scope
from storage import audit as audit_store
from storage import cards as card_store
from storage import communities as community_store
from storage import projects as project_store
from storage import residents as resident_store
from storage import roster as roster_store
from storage.communities import CommunityView
from storage.party import CODE_VALIDITY
from storage.projects import Points, ProjectNotFound, ProjectRejected, ProjectSpec

RESIDENTS_SHOWN = 100


# --- helpers ----------------------------------------------------------------------------------------------

def _local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local_time(moment, fmt, "—")


def _all_communities() -> list[CommunityView]:
    return community_store.all_communities(runtime().db)


def _community_id_by_name(name: str | None) -> int | None:
    return next((c.id for c in _all_communities() if c.name == name), None) if name else None


def _my_community_name() -> str | None:
    limited = scope()
    return next((c.name for c in _all_communities() if c.id == limited), None) if limited is not None else None


def _render(template: str, status: int = 200, **context: Any):
    return render_template(template, local=_local, **context), status


def _admins_only() -> bool:
    return scope() is None


# --- projects ---------------------------------------------------------------------------------------------

def _project_error(message: str, form: dict[str, str]) -> tuple[str, str]:
    """(field, Chinese message) for a ProjectRejected message (English, starting with the field)."""
    if message.startswith("title:"):
        return "title", "标题需 1 到 128 个字。"
    if message.startswith("claim slots:"):
        return "slots", "认领名额需在 1 到 1000 之间。"
    if message.startswith("budget and planned"):
        field = "budget" if form.get("budget", "").strip().startswith("-") else "planned"
        return field, "预算和计划受益人数不能为负数。"
    if message.startswith("category:"):
        return "category", "类别需 1 到 32 个字，例如 民生微实事。"
    if message.startswith("start:"):
        return "start", "开始日期应为有效日期，格式 YYYY-MM-DD。"
    if message.startswith("end: must not"):
        return "end", "结束日期不能早于开始日期。"
    if message.startswith("end:"):
        return "end", "结束日期应为有效日期，格式 YYYY-MM-DD。"
    if m := re.match(r"milestone (.*): expected a date", message):
        try:
            title = str(ast.literal_eval(m[1]))
        except (ValueError, SyntaxError):
            title = m[1]
        return "milestones", f"里程碑「{title}」的日期应为有效日期，格式 YYYY-MM-DD。"
    if message.startswith("milestone"):
        return "milestones", "每个里程碑都需要标题。"
    return "form", f"无法创建项目：{message}"


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
    mine = _my_community_name()
    return [p for p in shown if mine is not None and p.community_name == mine]


def _projects_page(form: dict[str, str], errors: dict[str, str], status: int = 200):
    return _render("admin/projects.html", status, projects=_visible_projects(), form=form, errors=errors,
                   labels=project_store.STATE_LABELS, communities=_all_communities() if scope() is None else [],
                   my_community=_my_community_name())


@bp.get("/projects")
@login_required
def projects():
    return _projects_page({"category": "党建项目", "slots": "1"}, {})


@bp.post("/projects")
@login_required
def project_create():
    rt = runtime()
    form = {k: request.form.get(k, "") for k in ("title", "category", "description", "community", "beneficiaries",
                                                   "planned", "budget", "slots", "start", "end", "milestones")}
    errors: dict[str, str] = {}
    community_id = scope()
    if community_id is None and form["community"].strip():
        chosen = form["community"].strip()
        community_id = int(chosen) if chosen.isdigit() else None
        if community_id is None or all(c.id != community_id for c in _all_communities()):
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
            field, message = _project_error(str(exc), form)
            errors[field] = message
        else:
            flash(f"已发布项目「{made.title}」。")
            return redirect(url_for("admin.project", project_id=made.id))
    return _projects_page(form, errors, 400)


def _scoped_disclosure(project_id: int) -> project_store.Disclosure:
    try:
        shown = project_store.disclosure(runtime().db, project_id)
    except ProjectNotFound:
        abort(404)
    in_scope(_community_id_by_name(shown.project.community_name))
    return shown


@bp.get("/projects/<int:project_id>")
@login_required
def project(project_id: int):
    shown = _scoped_disclosure(project_id)
    return _render("admin/project.html", d=shown, p=shown.project, labels=project_store.STATE_LABELS,
                   is_open=shown.project.status in project_store.OPEN_STATES)


def _project_action(project_id: int, action: Callable[[], object], done: str) -> Any:
    _scoped_disclosure(project_id)
    try:
        action()
    except ProjectNotFound:
        abort(404)
    except ProjectRejected as exc:
        text = str(exc)
        if "is already" in text:
            flash("项目已完成或已取消，不能再操作。", "error")
        elif "cannot be negative" in text:
            flash("实际受益人数和支出不能为负数。", "error")
        elif "milestones; no number" in text:
            flash("没有这个里程碑。", "error")
        else:
            flash(f"操作未完成：{text}", "error")
    else:
        flash(done)
    return redirect(url_for("admin.project", project_id=project_id))


@bp.post("/projects/<int:project_id>/milestones/<int:number>")
@login_required
def project_milestone(project_id: int, number: int):
    rt = runtime()
    return _project_action(project_id, lambda: project_store.complete_milestone(rt.db, project_id, number, actor(),
                                                                                 rt.now()),
                           f"第 {number} 个里程碑已标记完成。")


@bp.post("/projects/<int:project_id>/close")
@login_required
def project_close(project_id: int):
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
def project_cancel(project_id: int):
    rt = runtime()
    reason = request.form.get("reason", "")
    return _project_action(project_id, lambda: project_store.cancel(rt.db, project_id, actor(), rt.now(), reason),
                           "项目已取消。")


# --- party members ----------------------------------------------------------------------------------------

_IMPORT_PROBLEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"header: the file is empty.*"), lambda m: "文件是空的：第 1 行应为列名，例如 姓名,手机,支部,社区,职务"),
    (re.compile(r"header: column .*\((.+)\) appears twice \(columns (\d+) and (\d+)\)"),
     lambda m: f"表头：「{m[1]}」列出现了两次（第 {m[2]} 列和第 {m[3]} 列）"),
    (re.compile(r"header: missing column .*\((.+)\)"), lambda m: f"表头：缺少「{m[1]}」列"),
    (re.compile(r"header: line (\d+) should name the columns.*"),
     lambda m: f"表头：第 {m[1]} 行应为列名，例如 姓名,手机,支部,社区,职务"),
    (re.compile(r"the file has no members under the header"), lambda m: "表头下面没有党员"),
    (re.compile(r"line (\d+): more values than the header has columns.*"),
     lambda m: f"第 {m[1]} 行：值比表头的列多（值中有逗号时须用英文双引号括起来）"),
    (re.compile(r"line (\d+): .*\((.+)\) is empty"), lambda m: f"第 {m[1]} 行：「{m[2]}」为空"),
    (re.compile(r"line (\d+): .*\((.+)\) is longer than (\d+) characters"),
     lambda m: f"第 {m[1]} 行：「{m[2]}」超过 {m[3]} 个字"),
    (re.compile(r"line (\d+): mobile (.*) is not an 11-digit mainland mobile"),
     lambda m: f"第 {m[1]} 行：手机 {nlp.mask_mobile(m[2])} 不是 11 位手机号"),
    (re.compile(r"line (\d+): unknown community (.*)"), lambda m: f"第 {m[1]} 行：没有「{m[2]}」这个社区"),
    (re.compile(r"line (\d+): joined_on \(入党日期\) (.*) is not a date.*"),
     lambda m: f"第 {m[1]} 行：入党日期「{m[2]}」不是有效日期（YYYY-MM-DD）"),
    (re.compile(r"line (\d+): mobile (\d+) appears again \(line (\d+)\)"),
     lambda m: f"第 {m[1]} 行：手机 {nlp.mask_mobile(m[2])} 与第 {m[3]} 行重复"),
    (re.compile(r"line (\d+): mobile (\d+) is already on the roster"),
     lambda m: f"第 {m[1]} 行：手机 {nlp.mask_mobile(m[2])} 已在党员名册中"),
    (re.compile(r"the roster changed while importing.*"),
     lambda m: "导入时名册有变动（有手机号同时被添加），未导入任何人：请重新导入查看是哪一行"),
]


def _import_problem(message: str) -> str:
    """A roster import problem in Chinese, phones masked (storage words them in English for the CLI)."""
    for pattern, chinese in _IMPORT_PROBLEMS:
        if m := pattern.fullmatch(message):
            return chinese(m)
    return nlp.mask_mobiles(message)


def _decode(raw: bytes) -> str | None:
    """UTF-8 (with or without BOM), else GB18030, as `nanhu party import` reads a file."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return None


def _roster_entry(member_id: int) -> roster_store.RosterEntry:
    """The member, if the staff member may act on them (404 otherwise)."""
    entry = next((m for m in roster_store.roster(runtime().db, scope()) if m.id == member_id), None)
    if entry is None:
        abort(404)
    return entry


def _members_page(status: int = 200, **extra: Any):
    rt = runtime()
    entries = roster_store.roster(rt.db, scope())
    revoked = {c.member_id: c.revoked_at for c in card_store.roster(rt.db)}
    extra.setdefault("problems", [])
    extra.setdefault("created", [])
    extra.setdefault("new_code", None)
    return _render("admin/members.html", status, members=entries, revoked=revoked, can_import=_admins_only(),
                   **extra)


@bp.get("/members")
@login_required
def members():
    return _members_page()


@bp.post("/members/<int:member_id>/code")
@login_required
def member_code(member_id: int):
    rt = runtime()
    entry = _roster_entry(member_id)
    now = rt.now()
    try:
        code = roster_store.new_binding_code(rt.db, member_id, rt.config.app.secret_key, now, actor())
    except roster_store.MemberNotFound:
        abort(404)
    except roster_store.RosterError:
        flash(f"{entry.name} 已绑定微信，需先解绑才能发新绑定码。", "error")
        return redirect(url_for("admin.members"))
    # shown in this response only (never put in the session cookie, as a flash would be)
    return _members_page(new_code=(entry, code, _local(now + CODE_VALIDITY)))


@bp.post("/members/<int:member_id>/unbind")
@login_required
def member_unbind(member_id: int):
    rt = runtime()
    entry = _roster_entry(member_id)
    try:
        roster_store.unbind(rt.db, member_id, actor(), rt.now())
    except roster_store.MemberNotFound:
        abort(404)
    except roster_store.RosterError:
        flash(f"{entry.name} 没有绑定微信。", "error")
    else:
        flash(f"已解绑 {entry.name}；此前发出的身份证链接不再有效。需要重新绑定时请发新绑定码。")
    return redirect(url_for("admin.members"))


@bp.post("/members/<int:member_id>/revoke")
@login_required
def member_revoke(member_id: int):
    rt = runtime()
    entry = _roster_entry(member_id)
    try:
        changed = card_store.revoke(rt.db, member_id, actor(), rt.now(), request.form.get("reason", "").strip())
    except card_store.MemberNotFound:
        abort(404)
    flash(f"已注销 {entry.name} 的党员身份证。" if changed else f"{entry.name} 的身份证此前已注销。",
          "message" if changed else "error")
    return redirect(url_for("admin.members"))


@bp.post("/members/<int:member_id>/reinstate")
@login_required
def member_reinstate(member_id: int):
    rt = runtime()
    entry = _roster_entry(member_id)
    try:
        serial = card_store.reinstate(rt.db, member_id, actor(), rt.now())
    except card_store.MemberNotFound:
        abort(404)
    if serial is None:
        flash(f"{entry.name} 的身份证没有被注销。", "error")
    else:
        flash(f"已恢复 {entry.name} 的党员身份证（此前的链接仍然无效）。")
    return redirect(url_for("admin.members"))


@bp.post("/members/import")
@login_required
def member_import():
    if not _admins_only():
        abort(404)
    rt = runtime()
    upload = request.files.get("file")
    raw = upload.read() if upload else b""
    if not raw:
        return _members_page(400, problems=["请选择要导入的 CSV 文件。"])
    text = _decode(raw)
    if text is None:
        return _members_page(400, problems=["文件既不是 UTF-8 也不是 GBK 编码：请在表格软件中另存为 CSV。"])
    report = roster_store.import_csv(rt.db, text, rt.config.app.secret_key, rt.now(), actor())
    if not report.ok:
        return _members_page(400, problems=[_import_problem(p) for p in report.problems],
                             ignored=report.ignored_columns)
    flash(f"已导入 {len(report.created)} 名党员。")
    # the codes exist nowhere else: shown in this response only
    return _members_page(created=report.created, ignored=report.ignored_columns)


# --- residents --------------------------------------------------------------------------------------------

def _short_openid(openid: str) -> str:
    return openid if len(openid) <= 12 else f"{openid[:6]}…{openid[-4:]}"


@bp.get("/residents")
@login_required
def residents():
    rt = runtime()
    community_id = scope()
    chosen = request.args.get("community", "")
    if community_id is None and chosen.isdigit():
        community_id = int(chosen)
    q = request.args.get("q", "").strip()[:64]
    rows = resident_store.staff_search(rt.db, q, community_id, RESIDENTS_SHOWN)
    return _render("admin/residents.html", rows=rows, q=q, chosen=community_id, short=_short_openid,
                   limit=RESIDENTS_SHOWN, communities=_all_communities() if scope() is None else [],
                   my_community=_my_community_name())


# --- audit log --------------------------------------------------------------------------------------------

@bp.get("/audit")
@login_required
def audit_log():
    # Rule: the whole log is for sub-district admins only. Entries do not all name a community (a login, a
    # setting, a resident's subscription), so a community filter could not be both complete and honest;
    # community staff get a 403 page that says so.
    if not _admins_only():
        return _render("admin/audit.html", 403, forbidden=True)
    rt = runtime()
    args = {k: request.args.get(k, "").strip()[:96] for k in ("actor", "action", "object_type", "since", "until")}
    since, until = parse_day(args["since"]), parse_day(args["until"])
    if until is not None:
        until += timedelta(days=1)  # "to" a day, inclusive
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
    found = audit_store.search(rt.db, actor=args["actor"], action_prefix=args["action"],
                               object_type=args["object_type"], since=since, until=until, page=page)
    return _render("admin/audit.html", forbidden=False, found=found, args=args,
                   types=audit_store.object_types(rt.db),
                   bad_dates=(bool(args["since"]) and since is None) or (bool(args["until"]) and until is None),
                   page_url=lambda n: url_for("admin.audit_log", page=n, **{k: v for k, v in args.items() if v}))
