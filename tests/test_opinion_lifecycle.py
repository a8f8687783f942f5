"""Staff move an opinion through its states from the CLI; the resident is told of each step at the
WeChat stand-in and sees the timeline in chat. SQLite and PostgreSQL, with and without Redis."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from bot.cli import main
from storage import opinion_states
from tests.conftest import ROOT, run_jobs


@pytest.fixture
def cli(demo, monkeypatch):
    cfg = demo.rt.config
    for name, value in {"NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_DATABASE_URL": cfg.database.url,
                        "NANHU_REDIS_URL": cfg.redis.url, "NANHU_WECHAT_API_BASE_URL": cfg.wechat.api_base_url,
                        "NANHU_WECHAT_APP_ID": cfg.wechat.app_id, "NANHU_WECHAT_APP_SECRET": cfg.wechat.app_secret,
                        "NANHU_APP_LEXICON_LOG": ""}.items():
        monkeypatch.setenv(name, value)

    def run(*args):
        result = CliRunner().invoke(main, list(args))
        run_jobs(demo.rt)
        return result
    return run


def _submit(demo, openid: str) -> str:
    chat = demo.client()
    chat.say(openid, "小区门口的路灯坏了一个星期，晚上很黑")
    chat.say(openid, "1")
    return re.search(r"MY\d{11}", chat.say(openid, "是")["Content"]).group(0)


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
