"""Admin pages for opinions, events and announcements: the same services as the chat and the CLI,
with the staff member's community applied to every list and every object."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for

from web.admin.blueprint import bp
from web.admin.auth import actor, in_scope, login_required, runtime, scope
from jobs.delivery import relay
from storage import communities, events, notices, opinion_states, opinions
from storage.notices import Audience


def _community_names() -> dict[int, str]:
    return {c.id: c.name for c in communities.all_communities(runtime().db)}


# --- opinions -----------------------------------------------------------------------------------------

@bp.get("/opinions", endpoint="opinions")
@login_required
def opinions_list():
    rt = runtime()
    state = request.args.get("state") or None
    category = request.args.get("category") or None
    overdue = request.args.get("overdue") == "1"
    now = rt.now()
    found = opinions.staff_list(rt.db, state if state in opinion_states.STATES else None, limit=200,
                                category=category, community_id=scope(), overdue_at=now if overdue else None)
    rules = opinions.Rules.from_config(rt.config.opinions)
    return render_template("admin/opinions.html", found=found, now=now, states=opinion_states.STATES,
                           categories=list(rules.categories), names=_community_names(),
                           shown={"state": state or "", "category": category or "", "overdue": overdue})


def _own_opinion(ticket_no: str) -> opinions.StaffOpinionView:
    try:
        view = opinions.staff_show(runtime().db, ticket_no)
    except LookupError:
        abort(404)
    in_scope(view.community_id)
    return view


@bp.get("/opinions/<ticket_no>")
@login_required
def opinion(ticket_no: str):
    rt = runtime()
    view = _own_opinion(ticket_no)
    rules = opinions.Rules.from_config(rt.config.opinions)
    nexts = sorted(opinion_states.STATES[view.status].next - {"duplicate"})
    departments = sorted({route.department for route in rules.categories.values()})
    return render_template("admin/opinion.html", o=view, now=rt.now(), nexts=nexts, states=opinion_states.STATES,
                           categories=list(rules.categories), departments=departments, names=_community_names())


def _after_change(ticket_no: str, resolved: bool = False) -> None:
    """Queue the resident's notice; after a resolution their next 满意/不满意 answers for this ticket."""
    relay()
    if resolved:
        from storage.kv import KVUnavailable
        rt = runtime()
        try:
            opinions.await_feedback(rt.db, rt.kv, ticket_no, rt.config.opinions.feedback_days)
        except KVUnavailable:
            pass  # the answer still finds the ticket (storage.opinions.awaiting_feedback)


@bp.post("/opinions/<ticket_no>/<action>")
@login_required
def opinion_action(ticket_no: str, action: str):
    rt = runtime()
    view = _own_opinion(ticket_no)
    form, now = request.form, rt.now()
    try:
        if action == "assign":
            opinions.change_state(rt.db, view.ticket_no, "accepted", actor(), now, form.get("note", ""),
                                  assignee=form.get("assignee", "").strip() or None)
            flash("已受理并分派，已通知居民。")
        elif action == "state":
            target = form.get("state", "")
            opinions.change_state(rt.db, view.ticket_no, target, actor(), now, form.get("note", ""))
            flash(f"状态已改为「{opinion_states.label(target)}」，已通知居民。")
            _after_change(view.ticket_no, resolved=target == "resolved")
            return redirect(url_for("admin.opinion", ticket_no=view.ticket_no))
        elif action == "reassign":
            opinions.reassign(rt.db, view.ticket_no, form.get("assignee", ""), actor(), now, form.get("note", ""))
            flash("已改派，已通知居民。")
        elif action == "reply":
            opinions.reply(rt.db, view.ticket_no, actor(), form.get("note", ""), now)
            flash("答复已发给居民。")
        elif action == "categorize":
            opinions.categorize(rt.db, view.ticket_no, form.get("category", ""), actor(), now,
                                opinions.Rules.from_config(rt.config.opinions))
            flash("类别已调整，责任部门和期限随之更新。")
        elif action == "merge":
            into = form.get("into", "").strip().upper()
            try:
                in_scope(opinions.staff_show(rt.db, into).community_id)
            except LookupError:
                raise opinions.OpinionRejected(f"没有工单 {into}") from None
            opinions.merge(rt.db, view.ticket_no, into, actor(), now, form.get("note", ""))
            flash(f"已并入工单 {into}，已通知居民。")
        else:
            abort(404)
    except opinion_states.InvalidTransition:
        flash("这个状态不能这样变更，请刷新页面后再试。", "error")
    except opinions.OpinionRejected as exc:
        flash(_chinese(str(exc)), "error")
    else:
        _after_change(view.ticket_no)
    return redirect(url_for("admin.opinion", ticket_no=view.ticket_no))


def _chinese(message: str) -> str:
    """Storage explains refusals in English for the CLI; the page says them in Chinese."""
    known = {"回复内容是空的": "答复内容不能为空。", "only open tickets change category": "只有未办结的工单可以调整类别。",
             "cannot be merged into itself": "不能并入自身。", "is itself merged into": "目标工单已并入其他工单，请并入那一张。",
             "merge into an open or resolved ticket": "只能并入未关闭的工单。", "unknown category": "没有这个类别。",
             "承办部门是空的": "请选择承办部门。", "only open tickets are reassigned": "只有未办结的工单可以改派。"}
    return next((zh for en, zh in known.items() if en in message), message)


# --- events -------------------------------------------------------------------------------------------

EVENT_FIELDS = ("title", "description", "place", "start", "end", "capacity", "max_per_registration", "deadline",
                "reminder_hours", "community")


def _when(text: str, tz) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=tz) if text else None


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
            values[name] = _when(form.get(name, ""), rt.tz)
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
        if community_id not in _community_names():
            errors["community"] = "没有这个社区。"
    if errors:
        return None, errors
    return events.EventSpec(form["title"].strip(), values["start"], values["end"], values["capacity"],
                            form.get("place", "").strip()[:128], form.get("description", "").strip(), community_id,
                            values["max_per_registration"], values.get("deadline"), form.get("waitlist") == "on",
                            values["reminder_hours"], "party" if form.get("audience") == "party" else "everyone"), {}


@bp.route("/events", methods=["GET", "POST"], endpoint="events")
@login_required
def events_list():
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
def event(event_id: int):
    rt = runtime()
    _own_event(event_id)
    record = events.attendance(rt.db, event_id)
    return render_template("admin/event.html", e=record.event, record=record, tz=rt.tz)


@bp.post("/events/<int:event_id>/checkin")
@login_required
def event_checkin(event_id: int):
    rt = runtime()
    _own_event(event_id)
    code = request.form.get("code", "").strip()
    if not (code.isdigit() and len(code) == 6):
        flash("签到码是 6 位数字。", "error")
        return redirect(url_for("admin.event", event_id=event_id))
    result = events.check_in(rt.db, code, actor(), rt.now(), event_id=event_id)
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
def event_cancel(event_id: int):
    rt = runtime()
    _own_event(event_id)
    try:
        events.cancel_event(rt.db, event_id, actor(), rt.now(), request.form.get("reason", ""))
    except events.EventRejected:
        flash("这个活动已经取消或已经结束。", "error")
    else:
        relay()
        flash("活动已取消，已通知所有报名的居民。")
    return redirect(url_for("admin.event", event_id=event_id))


@bp.post("/events/<int:event_id>/move")
@login_required
def event_move(event_id: int):
    rt = runtime()
    _own_event(event_id)
    try:
        start, end = _when(request.form.get("start", ""), rt.tz), _when(request.form.get("end", ""), rt.tz)
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
        relay()
        flash("活动已改期，已通知所有报名的居民，提醒时间随之调整。")
    return redirect(url_for("admin.event", event_id=event_id))


@bp.get("/events/<int:event_id>/export.csv")
@login_required
def event_export(event_id: int):
    rt = runtime()
    _own_event(event_id)
    record = events.attendance(rt.db, event_id)
    from storage import audit
    audit.log(rt.db, actor(), "event.export", "event", event_id, rt.now(), rows=len(record.registrations))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["签到码", "状态", "候补位次", "人数", "报名时间", "签到时间", "联系电话"])
    for r in record.registrations:
        writer.writerow([r.code, {"confirmed": "已报名", "waitlisted": "候补", "cancelled": "已取消"}.get(r.status, r.status),
                         r.position or "", r.head_count,
                         r.created_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.created_at else "",
                         r.checked_in_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if r.checked_in_at else "",
                         r.phone if r.status != "cancelled" and r.phone else ""])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=event-{event_id}.csv",
                             "Cache-Control": "no-store"})


# --- announcements ------------------------------------------------------------------------------------

def _audience(form) -> tuple[Audience | None, str]:
    chosen = form.get("audience", "")
    if scope() is not None:  # community staff announce to their own community only
        return Audience("community", scope()), ""
    if chosen in ("everyone", "party"):
        return Audience(chosen), ""
    if chosen.isdigit() and int(chosen) in _community_names():
        return Audience("community", int(chosen)), ""
    return None, "请选择发送对象。"


@bp.route("/announcements", methods=["GET", "POST"], endpoint="announcements")
@login_required
def announcements_page():
    rt = runtime()
    errors: dict[str, str] = {}
    form = request.form
    confirm = None
    if request.method == "POST":
        title, body = form.get("title", "").strip(), form.get("body", "").strip()
        if not title:
            errors["title"] = "请填写标题。"
        elif len(title) > 64:
            errors["title"] = "标题不能超过 64 字。"
        if not body:
            errors["body"] = "请填写正文。"
        elif len(body) > 600:
            errors["body"] = "正文不能超过 600 字（微信消息的长度限制）。"
        audience, problem = _audience(form)
        if problem:
            errors["audience"] = problem
        if not errors:
            count = notices.count_audience(rt.db, audience)
            try:
                send_at = _when(form.get("send_at", ""), rt.tz)
            except ValueError:
                send_at, errors["send_at"] = None, "请按日历选择发送时间。"
            if send_at is not None and send_at <= rt.now():
                errors["send_at"] = "定时发送的时间要在以后；立即发送请留空。"
            if errors:
                pass
            elif form.get("confirmed") != str(count):
                confirm = count  # show how many will receive it and ask once more
            else:
                try:
                    notice_id = notices.announce(rt.db, title, body, audience, actor(), rt.now(), send_at=send_at)
                except notices.AnnouncementRejected as exc:
                    errors["body"] = str(exc)
                else:
                    if send_at is None:
                        relay(notice_id)
                        flash(f"公告已发出，共 {count} 位居民。")
                    else:
                        flash(f"公告已定时，将于 {send_at:%m-%d %H:%M} 发给 {count} 位居民。")
                    return redirect(url_for("admin.announcement", notice_id=notice_id))
    latest = [notices.report(rt.db, nid) for nid in notices.latest_announcements(rt.db, 20, scope())]
    return render_template("admin/announcements.html", errors=errors, form=form, confirm=confirm, latest=latest,
                           communities=communities.all_communities(rt.db) if scope() is None else []), \
        400 if errors else 200


@bp.get("/announcements/<int:notice_id>")
@login_required
def announcement(notice_id: int):
    rt = runtime()
    try:
        report = notices.report(rt.db, notice_id)
    except LookupError:
        abort(404)
    audience = notices.audience_of(rt.db, notice_id)
    if audience is None:
        abort(404)
    if scope() is not None and (audience.kind != "community" or audience.community_id != scope()):
        abort(404)
    return render_template("admin/announcement.html", r=report)
