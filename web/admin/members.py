"""Admin pages for the party roster: binding codes (shown once), unbinding, revoking and reinstating
identity cards, and the roster CSV import with its problems line by line, in Chinese.

Community staff act on their own community's members only (any other answers 404); the import is for
sub-district admins only, since a file may name any community."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from storage import cards as card_store
from storage import roster as roster_store
from storage.party import CODE_VALIDITY
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import actor, admins_only, local, render, runtime, scope
from wording.staff import for_staff


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
    return render("admin/members.html", status, members=entries, revoked=revoked, can_import=admins_only(),
                  **extra)


@bp.get("/members")
@login_required
def members() -> ResponseReturnValue:
    return _members_page()


@bp.post("/members/<int:member_id>/code")
@login_required
def member_code(member_id: int) -> ResponseReturnValue:
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
    return _members_page(new_code=(entry, code, local(now + CODE_VALIDITY)))


@bp.post("/members/<int:member_id>/unbind")
@login_required
def member_unbind(member_id: int) -> ResponseReturnValue:
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
def member_revoke(member_id: int) -> ResponseReturnValue:
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
def member_reinstate(member_id: int) -> ResponseReturnValue:
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
def member_import() -> ResponseReturnValue:
    if not admins_only():
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
        return _members_page(400, problems=[for_staff(p) for p in report.problems],
                             ignored=report.ignored_columns)
    flash(f"已导入 {len(report.created)} 名党员。")
    # the codes exist nowhere else: shown in this response only
    return _members_page(created=report.created, ignored=report.ignored_columns)
