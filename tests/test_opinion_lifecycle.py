"""Staff move an opinion through its states from the CLI; the resident is told of each step at the
WeChat stand-in and sees the timeline in chat. SQLite and PostgreSQL, with and without Redis."""
from __future__ import annotations

import re

import pytest

from storage import opinion_states
from tests.conftest import DATABASES


@pytest.fixture
def cli(staff_cli):
    return staff_cli


def _submit(demo, openid: str) -> str:
    chat = demo.client()
    chat.say(openid, "小区门口的路灯坏了一个星期，晚上很黑")
    chat.say(openid, "1")
    return re.search(r"MY\d{11}", chat.say(openid, "是")["Content"]).group(0)


@pytest.mark.storage(*DATABASES)
def test_staff_move_an_opinion_through_its_states_and_the_resident_hears_of_each(demo, cli, wechat_api):
    ticket = _submit(demo, "o_lamp")
    steps = [
        ("opinions", "assign", ticket, "--to", "城市管理办公室"),
        ("opinions", "update", ticket, "in_progress", "--note", "已派维修人员"),
        ("opinions", "reply", ticket, "--note", "灯具已订货，周五更换"),
        ("opinions", "update", ticket, "resolved", "--note", "路灯已修好"),
        ("opinions", "update", ticket, "in_progress", "--note", "居民反映仍不亮，重新处理"),
        ("opinions", "update", ticket, "resolved", "--note", "更换了线路"),
    ]
    for step in steps:
        result = cli(*step)
        assert result.exit_code == 0, result.output
    pushed = [m["content"] for m in wechat_api.messages("o_lamp")]
    assert len(pushed) == len(steps)
    assert "已受理" in pushed[0] and "城市管理办公室" in pushed[0]
    assert "灯具已订货" in pushed[2] and "已办结" in pushed[5]
    timeline = demo.client().say("o_lamp", ticket)["Content"]
    assert "已办结" in timeline and "更换了线路" in timeline and "已派维修人员" in timeline
    shown = cli("opinions", "show", ticket)
    assert "城市管理办公室" in shown.output and shown.output.count("已办结") >= 2


def test_a_transition_the_state_table_does_not_allow_is_refused_clearly(demo, cli, wechat_api):
    ticket = _submit(demo, "o_jump")
    result = cli("opinions", "update", ticket, "resolved")
    assert result.exit_code != 0 and "submitted cannot become resolved" in result.output
    assert cli("opinions", "update", ticket, "not_responsible", "--note", "属物业管理范围").exit_code == 0
    final = cli("opinions", "update", ticket, "accepted")
    assert final.exit_code != 0 and "none (it is final)" in final.output
    assert len(wechat_api.messages("o_jump")) == 1  # only the one real change was told
    assert cli("opinions", "update", "MY20990101001", "accepted").exit_code != 0


def test_every_state_is_typed_and_reachable():
    kinds = {s.kind for s in opinion_states.STATES.values()}
    assert kinds == {opinion_states.Kind.OPEN, opinion_states.Kind.CLOSED, opinion_states.Kind.FIXED}
    reachable, frontier = {"submitted"}, ["submitted"]
    while frontier:
        for nxt in opinion_states.STATES[frontier.pop()].next:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(opinion_states.STATES)


def test_staff_list_filters_by_state(demo, cli):
    first, second = _submit(demo, "o_a"), _submit(demo, "o_b")
    cli("opinions", "assign", first, "--to", "社区事务办公室")
    listed = cli("opinions", "list", "--state", "accepted").output
    assert first in listed and second not in listed
    assert cli("opinions", "list", "--state", "bogus").exit_code != 0


def test_an_unsatisfied_resident_reopens_the_ticket_and_a_satisfied_one_confirms_it(demo, cli, wechat_api):
    ticket = _submit(demo, "o_feedback")
    chat = demo.client()
    cli("opinions", "assign", ticket, "--to", "城市管理办公室")
    cli("opinions", "update", ticket, "resolved", "--note", "路灯已修好")
    assert "满意" in wechat_api.messages("o_feedback")[-1]["content"]
    reopened = chat.say("o_feedback", "不满意，灯还是不亮")["Content"]
    assert "已重新打开" in reopened
    assert "处理中" in cli("opinions", "show", ticket).output
    assert "居民不满意：不满意，灯还是不亮" in cli("opinions", "show", ticket).output
    cli("opinions", "update", ticket, "resolved", "--note", "更换了整条线路")
    assert "已确认办结" in chat.say("o_feedback", "满意")["Content"]
    assert "已办结" in chat.say("o_feedback", ticket)["Content"]


def test_talking_about_something_else_after_resolution_is_understood_as_that(demo, cli):
    ticket = _submit(demo, "o_moves_on2")
    cli("opinions", "assign", ticket, "--to", "社区事务办公室")
    cli("opinions", "update", ticket, "resolved")
    assert "近期活动" in demo.client().say("o_moves_on2", "最近有什么活动")["Content"]


def test_a_duplicate_is_merged_and_its_resident_hears_of_the_other_tickets_progress(demo, cli, wechat_api):
    first, second = _submit(demo, "o_first"), _submit(demo, "o_second")
    assert cli("opinions", "merge", second, "--into", first).exit_code == 0
    told = wechat_api.messages("o_second")[-1]["content"]
    assert f"与工单 {first} 是同一件事" in told
    assert "已并入工单" in demo.client().say("o_second", second)["Content"]
    shown = cli("opinions", "show", first).output
    assert f"merged here: {second}" in shown and f"合并了工单 {second}" in shown

    cli("opinions", "assign", first)
    cli("opinions", "update", first, "resolved", "--note", "路灯已修好")
    to_second = wechat_api.messages("o_second")[-1]["content"]
    assert f"已并入工单 {first}" in to_second and "已办结" in to_second and "满意吗" not in to_second
    assert "路灯已修好" not in to_second  # staff notes are for the ticket's own resident
    assert "满意吗" in wechat_api.messages("o_first")[-1]["content"]

    refused = cli("opinions", "merge", first, "--into", second)
    assert refused.exit_code != 0 and f"merged into {first}" in refused.output
    assert cli("opinions", "merge", first, "--into", first).exit_code != 0
    assert cli("opinions", "update", first, "duplicate").exit_code != 0  # only by merging


def test_staff_change_the_category_and_the_department_and_deadline_follow(demo, cli):
    ticket = _submit(demo, "o_cat")
    shown = cli("opinions", "show", ticket).output
    assert "公共设施 → 发展更新部" in shown
    assert cli("opinions", "categorize", ticket, "治安安全").exit_code == 0
    from storage import opinions
    view = opinions.staff_show(demo.rt.db, ticket)
    assert (view.category, view.department) == ("治安安全", "公共安全办公室")
    assert (view.due_at - view.created_at).total_seconds() == 24 * 3600
    assert "类别改为治安安全" in cli("opinions", "show", ticket).output
    bad = cli("opinions", "categorize", ticket, "天气")
    assert bad.exit_code != 0 and "unknown category" in bad.output
    assigned = cli("opinions", "assign", ticket)  # default: the category's department
    assert "assignee: 公共安全办公室" in assigned.output


def test_overdue_opinions_are_listed_for_staff(demo, cli, monkeypatch):
    from datetime import timedelta

    late, fresh = _submit(demo, "o_late"), _submit(demo, "o_fresh")
    cli("opinions", "categorize", late, "治安安全")  # 24 hours; the street lamp's 公共设施 has 120
    real_now = demo.rt.now()
    monkeypatch.setattr("bot.runtime.Runtime.now", lambda self: real_now + timedelta(hours=25))
    listed = cli("opinions", "list", "--overdue").output
    assert late in listed and fresh not in listed and "超期" in listed
    assert fresh in cli("opinions", "list", "--category", "公共设施").output
    assert late not in cli("opinions", "list", "--community", "新南").output  # _submit lives in 罗湖 (1)


def test_every_state_from_the_cli_with_a_notice_for_each(demo, cli, wechat_api):
    """Issue 5's done-when: one ticket to resolved and back, one not ours, one merged."""
    main, other, dup = _submit(demo, "o_all"), _submit(demo, "o_not_ours"), _submit(demo, "o_dup")
    for step in (("assign", main), ("update", main, "in_progress"), ("update", main, "resolved")):
        assert cli("opinions", *step).exit_code == 0
    assert "已重新打开" in demo.client().say("o_all", "不满意")["Content"]
    assert cli("opinions", "update", main, "resolved", "--note", "已彻底修复").exit_code == 0
    assert "已确认办结" in demo.client().say("o_all", "满意")["Content"]
    assert cli("opinions", "update", other, "not_responsible", "--note", "属供电局管理").exit_code == 0
    assert cli("opinions", "merge", dup, "--into", main).exit_code == 0
    from storage import opinions
    assert [opinions.staff_show(demo.rt.db, t).status for t in (main, other, dup)] == \
        ["resolved", "not_responsible", "duplicate"]
    seen = {e.state for t in (main, other, dup) for e in opinions.staff_show(demo.rt.db, t).timeline}
    assert seen == set(opinion_states.STATES)
    assert len(wechat_api.messages("o_all")) == 4 and len(wechat_api.messages("o_not_ours")) == 1
    assert len(wechat_api.messages("o_dup")) == 1


def test_a_staff_step_taken_while_the_queue_is_down_reaches_the_resident_later(make_stack, wechat_api):
    from datetime import datetime, timezone

    from bot import runtime
    from jobs import delivery, outbox
    from storage import demo as demo_data
    from storage import opinions, residents
    from tests.conftest import run_jobs

    down = make_stack("sqlite+redis", redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2)
    demo_data.load(down.rt.db, datetime.now(timezone.utc), down.rt.config.app.secret_key)
    resident = residents.touch(down.rt.db, "o_outage_op", down.rt.now())
    rules = opinions.Rules.from_config(down.rt.config.opinions)
    view = opinions.submit(down.rt.db, resident.id, opinions.Draft("路口井盖丢了", None), down.rt.now(), down.rt.tz,
                           rules)
    opinions.change_state(down.rt.db, view.ticket_no, "accepted", "staff:admin", down.rt.now())
    with runtime.use(down.rt):
        # nothing could be queued, nothing was lost
        assert outbox.relay(down.rt.db, down.rt.jobs, 100, down.rt.now) == 0
    back = make_stack("sqlite+redis")
    with runtime.use(back.rt):
        delivery.sweep()
    run_jobs(back.rt)
    (told,) = wechat_api.wait_messages("o_outage_op")
    assert view.ticket_no in told["content"] and "已受理" in told["content"]


def test_a_long_history_still_shows_its_latest_step_within_wechats_limit(demo, cli):
    ticket = _submit(demo, "o_history")
    cli("opinions", "assign", ticket)
    for i in range(10):
        assert cli("opinions", "reply", ticket, "--note", f"第{i}次回复：" + "正在协调" * 80).exit_code == 0
    shown = demo.client().say("o_history", ticket)["Content"]
    assert "第9次回复" in shown and "第0次回复" not in shown and "更早的" in shown
    assert len(shown.encode()) <= 2048 and "已截断" not in shown


def test_a_staff_note_goes_only_to_the_tickets_own_resident(demo, cli, wechat_api):
    first, second = _submit(demo, "o_main2"), _submit(demo, "o_merged2")
    cli("opinions", "merge", second, "--into", first)
    cli("opinions", "reply", first, "--note", "明天上午上门，请给家里老人留门")
    assert "留门" in wechat_api.messages("o_main2")[-1]["content"]
    assert all("留门" not in m["content"] for m in wechat_api.messages("o_merged2"))
    assert "目前：已提交" in demo.client().say("o_merged2", second)["Content"]


def test_a_closed_tickets_category_and_deadline_stay_as_they_were(demo, cli):
    ticket = _submit(demo, "o_late_cat")
    cli("opinions", "assign", ticket)
    cli("opinions", "update", ticket, "resolved")
    refused = cli("opinions", "categorize", ticket, "其他")
    assert refused.exit_code != 0 and "only open tickets" in refused.output


def test_satisfied_said_after_doing_something_else_still_answers_for_the_ticket(demo, cli):
    ticket = _submit(demo, "o_later")
    cli("opinions", "assign", ticket)
    cli("opinions", "update", ticket, "resolved")
    chat = demo.client()
    chat.say("o_later", "我要投诉")       # the 满意吗 conversation gives way to a new one
    chat.say("o_later", "取消")
    assert f"工单 {ticket} 已重新打开" in chat.say("o_later", "不满意")["Content"]
    assert "处理中" in cli("opinions", "show", ticket).output
    assert "没有看懂" in chat.say("o_later", "满意")["Content"]  # nothing is waiting for an answer now


def test_an_accepted_ticket_is_handed_to_another_department(demo, cli, wechat_api):
    ticket = _submit(demo, "o_handover")
    cli("opinions", "assign", ticket, "--to", "城区治理办公室")
    moved = cli("opinions", "assign", ticket, "--to", "公共安全办公室", "--note", "涉及治安")
    assert moved.exit_code == 0 and "assignee: 公共安全办公室" in moved.output and "accepted" in moved.output
    assert "改由公共安全办公室办理" in wechat_api.messages("o_handover")[-1]["content"]
