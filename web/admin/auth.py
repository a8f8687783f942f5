"""Staff sessions: login with hashed passwords and a lockout, a CSRF token on every form, and the
community a staff member may see."""
from __future__ import annotations

import functools
import hmac
import secrets
from datetime import datetime
from typing import Any, Callable

from flask import abort, current_app, g, redirect, render_template, request, session, url_for

from web.admin.blueprint import bp
from storage import staff as staff_store
from storage.attempts import Attempts
from storage.kv import keys
from storage.staff import StaffView


def runtime():
    return current_app.extensions["nanhu"]["runtime"]


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_template_filter("local")
def local_time(moment, fmt: str = "%m-%d %H:%M", empty: str = "") -> str:
    """A time as staff read it, in app.timezone."""
    return moment.astimezone(runtime().tz).strftime(fmt) if moment else empty


def parse_day(text: str) -> datetime | None:
    """A day from a filter (YYYY-MM-DD) as the start of that day in app.timezone; None when empty or malformed."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=runtime().tz) if text else None
    except ValueError:
        return None


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


def scope() -> int | None:
    """The community the logged-in staff member is limited to; None for sub-district admins."""
    member: StaffView = g.staff
    return member.community_id if member.role == "community" else None


def in_scope(community_id: int | None) -> None:
    """404 for an object outside the staff member's community (as if it did not exist)."""
    limited = scope()
    if limited is not None and community_id != limited:
        abort(404)


def actor() -> str:
    from storage.audit import staff_actor
    return staff_actor(g.staff.username)


LOGIN_TRIES_PER_ADDRESS = 20   # failed logins from one address per window, whatever the usernames
LOGIN_WINDOW = 900
WRONG = "用户名或密码不正确，或尝试次数过多、账号被暂时锁定。请稍后再试，或联系管理员。"


def _login_attempts(rt) -> Attempts:
    return Attempts(rt.kv, keys.login_failures, LOGIN_TRIES_PER_ADDRESS, LOGIN_WINDOW)


@bp.after_request
def _headers(response):
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")  # codes, phones and tickets stay off shared caches
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    if request.method == "POST":
        rt = runtime()
        attempts = _login_attempts(rt)
        # a flood from one address costs no password hashing and locks nobody's account
        if attempts.blocked(request.remote_addr):
            return render_template("admin/login.html", error=WRONG), 429
        result = staff_store.authenticate(rt.db, request.form.get("username", ""), request.form.get("password", ""),
                                          rt.now())
        if result.outcome == "ok":
            session.clear()  # a fresh session and a fresh CSRF token: nothing from before the login carries over
            session.permanent = True
            session.update(staff_id=result.staff.id, staff_v=result.session_version, csrf=secrets.token_urlsafe(32))
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/admin") else url_for("admin.dashboard"))
        # one answer for a wrong password, an unknown user and a locked account: nothing to learn from it
        attempts.failed(request.remote_addr)
        error = WRONG
    return render_template("admin/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("admin.login"))
