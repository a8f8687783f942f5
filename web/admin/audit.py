"""The admin's audit log page, filtered by actor, action, object type and days, a page at a time; for
sub-district admins only."""
from __future__ import annotations

from datetime import timedelta

from flask import request, url_for
from flask.typing import ResponseReturnValue

from storage import audit as audit_store
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import admins_only, parse_day, render, runtime


@bp.get("/audit")
@login_required
def audit_log() -> ResponseReturnValue:
    # Rule: the whole log is for sub-district admins only. Entries do not all name a community (a login, a
    # setting, a resident's subscription), so a community filter could not be both complete and honest;
    # community staff get a 403 page that says so.
    if not admins_only():
        return render("admin/audit.html", 403, forbidden=True)
    rt = runtime()
    args = {k: request.args.get(k, "").strip()[:96] for k in ("actor", "action", "object_type", "since", "until")}
    since, until = parse_day(args["since"]), parse_day(args["until"])
    if until is not None:
        until += timedelta(days=1)  # "to" a day, inclusive
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
    found = audit_store.search(rt.db, actor=args["actor"], action_prefix=args["action"],
                               object_type=args["object_type"], since=since, until=until, page=page)
    return render("admin/audit.html", forbidden=False, found=found, args=args,
                  types=audit_store.object_types(rt.db),
                  bad_dates=(bool(args["since"]) and since is None) or (bool(args["until"]) and until is None),
                  page_url=lambda n: url_for("admin.audit_log", page=n, **{k: v for k, v in args.items() if v}))
