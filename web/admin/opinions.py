"""Admin pages for opinions: the list with its filters, one ticket, and what staff do with it (accept and
assign, change state, reassign, reply, recategorize, merge). Each change notifies the resident."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from storage import opinion_states, opinions
from storage.kv import KVUnavailable
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.common import actor, community_names, in_scope, runtime, scope
from wording.staff import for_staff


@bp.get("/opinions", endpoint="opinions")
@login_required
def opinions_list() -> ResponseReturnValue:
    rt = runtime()
    state = request.args.get("state") or None
    category = request.args.get("category") or None
    overdue = request.args.get("overdue") == "1"
    now = rt.now()
    found = opinions.staff_list(rt.db, state if state in opinion_states.STATES else None, limit=200,
                                category=category, community_id=scope(), overdue_at=now if overdue else None)
    rules = opinions.Rules.from_config(rt.config.opinions)
    return render_template("admin/opinions.html", found=found, now=now, states=opinion_states.STATES,
                           categories=list(rules.categories), names=community_names(),
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
def opinion(ticket_no: str) -> ResponseReturnValue:
    rt = runtime()
    view = _own_opinion(ticket_no)
    rules = opinions.Rules.from_config(rt.config.opinions)
    nexts = sorted(opinion_states.STATES[view.status].next - {"duplicate"})
    departments = sorted({route.department for route in rules.categories.values()})
    return render_template("admin/opinion.html", o=view, now=rt.now(), nexts=nexts, states=opinion_states.STATES,
                           categories=list(rules.categories), departments=departments, names=community_names())


def _after_change(ticket_no: str, resolved: bool = False) -> None:
    """After a resolution the resident's next 满意/不满意 answers for this ticket (their notice was
    queued when the change committed)."""
    if resolved:
        rt = runtime()
        try:
            opinions.await_feedback(rt.db, rt.kv, ticket_no, rt.config.opinions.feedback_days)
        except KVUnavailable:
            pass  # the answer still finds the ticket (storage.opinions.awaiting_feedback)


@bp.post("/opinions/<ticket_no>/<action>")
@login_required
def opinion_action(ticket_no: str, action: str) -> ResponseReturnValue:
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
                raise opinions.OpinionRejected("no_ticket", field="into", ticket_no=into) from None
            opinions.merge(rt.db, view.ticket_no, into, actor(), now, form.get("note", ""))
            flash(f"已并入工单 {into}，已通知居民。")
        else:
            abort(404)
    except opinion_states.InvalidTransition:
        flash("这个状态不能这样变更，请刷新页面后再试。", "error")
    except opinions.OpinionRejected as exc:
        flash(for_staff(exc), "error")
    else:
        _after_change(view.ticket_no)
    return redirect(url_for("admin.opinion", ticket_no=view.ticket_no))
