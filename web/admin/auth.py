"""Staff sessions: login with hashed passwords and a lockout, a CSRF token on every form, and the
security headers of every admin page."""
from __future__ import annotations

import functools
import hmac
import logging
import secrets
from typing import Any, Callable

from flask import abort, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from storage import attempts as tries
from storage import staff as staff_store
from storage.kv import KVUnavailable
from web.admin.blueprint import bp
from web.admin.common import runtime

log = logging.getLogger("nanhu.admin")


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "me": getattr(g, "staff", None)}


MAX_UPLOAD = 5 * 1024 * 1024  # the site's limit is 64 KiB; a roster CSV can be larger


@bp.before_request
def _check_csrf() -> None:
    request.max_content_length = MAX_UPLOAD
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            abort(400, "表单已过期，请刷新页面后重试。")


def login_required(view: Callable) -> Callable:
    """The view for a logged-in staff member (in `g.staff`); anyone else goes to the login page."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        member = None
        if "staff_id" in session:
            member = staff_store.for_session(runtime().db, session["staff_id"], session.get("staff_v", 0))
        if member is None:
            session.pop("staff_id", None)
            return redirect(url_for("admin.login", next=request.path))
        g.staff = member
        return view(*args, **kwargs)
    return wrapped


UNAVAILABLE = "登录暂时不可用，请稍后再试。"
WRONG = "用户名或密码不正确，或尝试次数过多、账号被暂时锁定。请稍后再试，或联系管理员。"


@bp.after_request
def _headers(response):
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")  # codes, phones and tickets stay off shared caches
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if any(ord(c) < 32 or ord(c) == 127 for c in request.args.get("next", "")):
        abort(400, "链接无效。")  # a CR or LF would end up in the redirect's Location header
    error = ""
    if request.method == "POST":
        rt = runtime()
        attempts = tries.login(rt.kv)
        # a flood from one address costs no password hashing and locks nobody's account
        try:
            if attempts.blocked(request.remote_addr):
                return render_template("admin/login.html", error=WRONG), 429
        except KVUnavailable:  # the count cannot be read: no login rather than an uncounted one
            return render_template("admin/login.html", error=UNAVAILABLE), 503
        result = staff_store.authenticate(rt.db, request.form.get("username", ""), request.form.get("password", ""),
                                          rt.now())
        if result.outcome == "ok":
            session.clear()  # a fresh session and a fresh CSRF token: nothing from before the login carries over
            session.permanent = True
            session.update(staff_id=result.staff.id, staff_v=result.session_version, csrf=secrets.token_urlsafe(32))
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/admin") else url_for("admin.dashboard"))
        # one answer for a wrong password, an unknown user and a locked account: nothing to learn from it
        try:
            attempts.failed(request.remote_addr)
        except KVUnavailable:
            log.warning("a failed admin login could not be counted: the shared store is down")
        error = WRONG
    return render_template("admin/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if "staff_id" in session:  # server-side: the session's cookie, wherever it was copied, opens nothing after
        rt = runtime()
        staff_store.end_sessions(rt.db, session["staff_id"], session.get("staff_v", 0), rt.now())
    session.clear()
    return redirect(url_for("admin.login"))
