"""Admin pages for announcements: write one to everyone, the party members or a community, confirm how
many will receive it, send it now or at a set time; and the delivery report of each."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from storage import communities, notices
from storage.notices import Audience
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import actor, community_names, runtime, scope, when
from wording.staff import for_staff


def _audience(form) -> tuple[Audience | None, str]:
    chosen = form.get("audience", "")
    if scope() is not None:  # community staff announce to their own community only
        return Audience("community", scope()), ""
    if chosen in ("everyone", "party"):
        return Audience(chosen), ""
    if chosen.isdigit() and int(chosen) in community_names():
        return Audience("community", int(chosen)), ""
    return None, "请选择发送对象。"


@bp.route("/announcements", methods=["GET", "POST"], endpoint="announcements")
@login_required
def announcements_page() -> ResponseReturnValue:
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
                send_at = when(form.get("send_at", ""), rt.tz)
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
                    errors["body"] = for_staff(exc)
                else:
                    if send_at is None:
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
def announcement(notice_id: int) -> ResponseReturnValue:
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
