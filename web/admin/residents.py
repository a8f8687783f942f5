"""The admin's residents page: find residents by openid fragment and community, most recent first,
never with a phone number. Community staff see their own community's residents only."""
from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from storage import residents as resident_store
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import all_communities, my_community_name, render, runtime, scope

RESIDENTS_SHOWN = 100


def _short_openid(openid: str) -> str:
    return openid if len(openid) <= 12 else f"{openid[:6]}…{openid[-4:]}"


@bp.get("/residents")
@login_required
def residents() -> ResponseReturnValue:
    rt = runtime()
    community_id = scope()
    chosen = request.args.get("community", "")
    if community_id is None and chosen.isdigit():
        community_id = int(chosen)
    q = request.args.get("q", "").strip()[:64]
    rows = resident_store.staff_search(rt.db, q, community_id, RESIDENTS_SHOWN)
    return render("admin/residents.html", rows=rows, q=q, chosen=community_id, short=_short_openid,
                  limit=RESIDENTS_SHOWN, communities=all_communities() if scope() is None else [],
                  my_community=my_community_name())
