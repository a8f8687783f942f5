"""A staff member announces from chat, with a confirmation step, and reads the delivery report."""
from __future__ import annotations

from storage import residents, staff
from storage.audit import SYSTEM
from tests.conftest import run_jobs


def test_staff_announce_from_chat_and_read_the_report(demo, wechat_api):
    rt = demo.rt
    staff.link_openid(rt.db, "admin", "o_staff", SYSTEM)
    for openid in ("o_res1", "o_res2"):
        residents.subscribe(rt.db, openid, rt.now())
    chat = demo.client()
    assert "请发送公告标题" in chat.say("o_staff", "发公告")["Content"]
    assert "正文" in chat.say("o_staff", "停水通知")["Content"]
    assert "1. 全体居民" in chat.say("o_staff", "明天上午9点至12点停水，请提前储水。")["Content"]
    summary = chat.say("o_staff", "1")["Content"]
    assert "将发送给 3 位居民" in summary  # the two residents and the staff member, who follows too
    done = chat.say("o_staff", "是")["Content"]
    assert "公告已提交发送" in done
    run_jobs(rt)
    assert len(wechat_api.messages("o_res1")) == 1
    report = chat.say("o_staff", "公告报告")["Content"]
    assert "停水通知" in report and "已送达 3" in report
    for text in ("发公告", "停水通知", "明天上午9点至12点停水，请提前储水。", "1"):  # the same, again at once
        chat.say("o_staff", text)
    again = chat.say("o_staff", "是")["Content"]
    assert "已经发布过" in again and "不会重复发送" in again
    run_jobs(rt)
    assert len(wechat_api.messages("o_res1")) == 1


def test_the_staff_words_mean_nothing_to_residents(demo):
    chat = demo.client()
    assert "没有看懂" in chat.say("o_resident", "发公告")["Content"]
    assert "没有看懂" in chat.say("o_resident", "公告报告")["Content"]


def test_saying_no_at_the_confirmation_sends_nothing(demo, wechat_api):
    staff.link_openid(demo.rt.db, "admin", "o_staff2", SYSTEM)
    chat = demo.client()
    for text in ("发公告", "测试", "测试内容", "2"):
        chat.say("o_staff2", text)
    assert "没有发布" in chat.say("o_staff2", "否")["Content"]
    run_jobs(demo.rt)
    assert wechat_api.messages() == []


def test_bad_input_in_the_announce_flow_is_asked_again(demo):
    staff.link_openid(demo.rt.db, "admin", "o_staff3", SYSTEM)
    chat = demo.client()
    chat.say("o_staff3", "发公告")
    assert "1 到 64 个字" in chat.say("o_staff3", "长" * 65)["Content"]
    chat.say("o_staff3", "标题")
    chat.say("o_staff3", "正文")
    assert "请回复 1 到 11" in chat.say("o_staff3", "99")["Content"]
    assert "已取消" in chat.say("o_staff3", "取消")["Content"]
