"""Admin pages for events: publish one (its form checked field by field, in Chinese), the list, one
event with its registrations, check-in at the door, cancel, move, and the attendance CSV."""
from __future__ import annotations

import csv
import io

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from storage import attempts as tries
from storage import audit, communities, events
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import actor, community_names, in_scope, runtime, scope, when


def _event_form(form) -> tuple[events.EventSpec | None, dict[str, str]]:
    """The event a form describes, or the problems, in Chinese, by field."""
    rt = runtime()
    errors: dict[str, str] = {}
    values: dict = {}
    if not form.get("title", "").strip():
        errors["title"] = "请填写活动名称。"
    elif len(form["title"].strip()) > 128:
        errors["title"] = "活动名称不能超过 128 字。"
    for name in ("start", "end", "deadline"):
        try:
            values[name] = when(form.get(name, ""), rt.tz)
        except ValueError:
            errors[name] = "请按日历选择日期和时间。"
    if values.get("start") is None and "start" not in errors:
        errors["start"] = "请填写开始时间。"
    if values.get("end") is None and "end" not in errors:
        errors["end"] = "请填写结束时间。"
    if values.get("start") and values["start"] <= rt.now():
        errors["start"] = "开始时间必须在以后。"
    if values.get("start") and values.get("end") and values["end"] <= values["start"]:
        errors["end"] = "结束时间要晚于开始时间。"
    if values.get("deadline") and values.get("start") and values["deadline"] > values["start"]:
        errors["deadline"] = "报名截止不能晚于开始时间。"
    for name, low, high, label in (("capacity", 1, 100000, "名额"), ("max_per_registration", 1, 50, "每人最多报名人数"),
                                   ("reminder_hours", 0, 336, "提前提醒小时数")):
        raw = form.get(name, "").strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors[name] = f"{label}请填 {low} 到 {high} 之间的整数。"
        else:
            values[name] = int(raw)
    community_id = scope()
    if community_id is None and form.get("community", "").isdigit():
        community_id = int(form["community"])
        if community_id not in community_names():
            errors["community"] = "没有这个社区。"
    if errors:
        return None, errors
    return events.EventSpec(form["title"].strip(), values["start"], values["end"], values["capacity"],
                            form.get("place", "").strip()[:128], form.get("description", "").strip(), community_id,
                            values["max_per_registration"], values.get("deadline"), form.get("waitlist") == "on",
                            values["reminder_hours"], "party" if form.get("audience") == "party" else "everyone"), {}


@bp.route("/events", methods=["GET", "POST"], endpoint="events")
@login_required
def events_list() -> ResponseReturnValue:
    rt = runtime()
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else {"capacity": "50", "max_per_registration": "4",
                                                           "reminder_hours": "24", "waitlist": "on"}
    if request.method == "POST":
        spec, errors = _event_form(request.form)
        if spec is not None:
            try:
                made = events.create(rt.db, spec, actor(), rt.now())
            except events.EventRejected:
                errors["title"] = "活动信息有误，请检查各项后再发布。"
            else:
                flash(f"活动「{made.title}」已发布，居民发「活动」即可看到。")
                return redirect(url_for("admin.event", event_id=made.id))
    found = [e for e in events.staff_list(rt.db, rt.now(), include_past=request.args.get("all") == "1")
             if scope() is None or e.community_id == scope()]
    return render_template("admin/events.html", found=found, errors=errors, form=form,
                           communities=communities.all_communities(rt.db) if scope() is None else []), \
        400 if errors else 200


def _own_event(event_id: int) -> events.EventView:
    try:
        view = events.get(runtime().db, event_id)
    except events.EventNotFound:
        abort(404)
    in_scope(view.community_id)
    return view


@bp.get("/events/<int:event_id>")
@login_required
def event(event_id: int) -> ResponseReturnValue:
    rt = runtime()
    _own_event(event_id)
    record = events.attendance(rt.db, event_id)
    return render_template("admin/event.html", e=record.event, record=record, tz=rt.tz)


@bp.post("/events/<int:event_id>/checkin")
@login_required
def event_checkin(event_id: int) -> ResponseReturnValue:
    rt = runtime()
    _own_event(event_id)
    code = request.form.get("code", "").strip()
    if not (code.isdigit() and len(code) == 6):
        flash("签到码是 6 位数字。", "error")
        return redirect(url_for("admin.event", event_id=event_id))
    attempts = tries.check_in(rt.kv)  # the same limit as 核销 in chat, per staff member
    if attempts.blocked(actor()):
        flash(f"错误次数过多，请 {int(attempts.window) // 60} 分钟后再试。", "error")
        return redirect(url_for("admin.event", event_id=event_id))
    result = events.check_in(rt.db, code, actor(), rt.now(), event_id=event_id)
    if result.outcome == "unknown":
        attempts.failed(actor())
    r = result.registration
    if result.outcome == "checked_in":
        flash(f"签到成功：{r.head_count} 人。")
    elif result.outcome == "already":
        flash(f"签到码 {code} 已于 {r.checked_in_at.astimezone(rt.tz):%m-%d %H:%M} 使用过，不能重复签到。", "error")
    elif result.outcome == "not_confirmed":
        flash(f"签到码 {code} 的报名{'在候补中' if r.status == 'waitlisted' else '已取消'}，不能签到。", "error")
    else:
        flash(f"本活动没有签到码 {code}。", "error")
    return redirect(url_for("admin.event", event_id=event_id))


@bp.post("/events/<int:event_id>/cancel")
@login_required
def event_cancel(event_id: int) -> ResponseReturnValue:
    rt = runtime()
    _own_event(event_id)
    try:
        events.cancel_event(rt.db, event_id, actor(), rt.now(), request.form.get("reason", ""))
    except events.EventRejected:
        flash("这个活动已经取消或已经结束。", "error")
    else:
        flash("活动已取消，已通知所有报名的居民。")
    return redirect(url_for("admin.event", event_id=event_id))


@bp.post("/events/<int:event_id>/move")
@login_required
def event_move(event_id: int) -> ResponseReturnValue:
    rt = runtime()
    _own_event(event_id)
    try:
        start, end = when(request.form.get("start", ""), rt.tz), when(request.form.get("end", ""), rt.tz)
    except ValueError:
        start = end = None
    if start is None or end is None or end <= start or start <= rt.now():
        flash("改期失败：请填写以后的开始时间，结束时间要晚于开始时间。", "error")
        return redirect(url_for("admin.event", event_id=event_id))
    try:
        events.reschedule(rt.db, event_id, start, end, actor(), rt.now(), rt.tz, request.form.get("note", ""))
    except events.EventRejected:
        flash("这个活动已经取消，不能改期。", "error")
    else:
        flash("活动已改期，已通知所有报名的居民，提醒时间随之调整。")
    return redirect(url_for("admin.event", event_id=event_id))


@bp.get("/events/<int:event_id>/export.csv")
@login_required
def event_export(event_id: int) -> ResponseReturnValue:
    rt = runtime()
    _own_event(event_id)
    record = events.attendance(rt.db, event_id)
    audit.log(rt.db, actor(), "event.export", "event", event_id, rt.now(), rows=len(record.registrations))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["签到码", "状态", "候补位次", "人数", "报名时间", "签到时间", "联系电话"])
    for r in record.registrations:
        writer.writerow([r.code,
                         {"confirmed": "已报名", "waitlisted": "候补", "cancelled": "已取消"}.get(r.status, r.status),
                         r.position or "", r.head_count,
                         r.created_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.created_at else "",
                         r.checked_in_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.checked_in_at else "",
                         r.phone if r.status != "cancelled" and r.phone else ""])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=event-{event_id}.csv",
                             "Cache-Control": "no-store"})
