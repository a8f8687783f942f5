"""A resident raises an opinion in chat: in one message or several, with a photo, a location and a
name if they like, and gets a ticket number, its category, department and deadline. Bad input gets a
polite answer and leaves nothing half-written. SQLite and PostgreSQL, with and without Redis."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storage.models import AuditEntry, DailyCounter, Opinion

TICKET = re.compile(r"MY\d{11}")


def _opinions(demo) -> list[Opinion]:
    with demo.rt.db.transaction() as s:
        return list(s.scalars(select(Opinion).order_by(Opinion.id)))


def test_an_opinion_in_one_message_is_not_asked_again(demo):
    chat = demo.client()
    assert "哪个社区" in chat.say("o_one", "楼下垃圾三天没人清理")["Content"]  # asked once, then remembered
    summary = chat.say("o_one", "1")["Content"]
    assert "楼下垃圾三天没人清理" in summary and "类别：环境卫生" in summary and "署名：不公开" in summary
    done = chat.say("o_one", "是")["Content"]
    assert TICKET.search(done) and "城区治理办公室" in done and "2 天内答复" in done

    summary = chat.say("o_one", "3栋电梯坏了两天，老人上下楼很困难")["Content"]  # community remembered
    assert summary.startswith("请确认") and "类别：物业管理" in summary
    assert "社会事务部" in chat.say("o_one", "是")["Content"]
    first, second = _opinions(demo)
    assert (first.category, first.department, first.status) == ("环境卫生", "城区治理办公室", "submitted")
    assert (first.due_at - first.created_at).total_seconds() == 48 * 3600
    assert first.public_name is None and first.photos == [] and second.category == "物业管理"


def test_an_opinion_in_several_messages_with_a_photo_a_location_and_a_name(demo, staff_cli):
    chat = demo.client()
    chat.say("o_many", "我要投诉")
    assert "收到照片（共 1 张）" in chat.photo("o_many", "http://mmbiz.example/p1.jpg", "m1")["Content"]
    assert "哪个社区" in chat.say("o_many", "垃圾桶满了好几天没人倒，很臭")["Content"]
    assert "哪个位置" in chat.say("o_many", "文华")["Content"]
    summary = chat.location("o_many", 22.5431, 114.1172, "文华社区东门垃圾站")["Content"]
    assert "位置：文华社区东门垃圾站" in summary and "照片：1 张" in summary
    assert "照片：2 张" in chat.photo("o_many", "http://mmbiz.example/p2.jpg", "m2")["Content"]
    assert "署名：张阿姨（公开）" in chat.say("o_many", "署名 张阿姨")["Content"]
    ticket = TICKET.search(chat.say("o_many", "是")["Content"]).group(0)

    (opinion,) = _opinions(demo)
    assert opinion.content == "垃圾桶满了好几天没人倒，很臭" and opinion.location == "文华社区东门垃圾站"
    assert (opinion.latitude, opinion.longitude) == (22.5431, 114.1172)
    assert [p["media_id"] for p in opinion.photos] == ["m1", "m2"] and opinion.public_name == "张阿姨"
    shown = staff_cli("opinions", "show", ticket).output
    assert "http://mmbiz.example/p2.jpg" in shown and "文华社区东门垃圾站" in shown and "张阿姨" in shown


def test_a_location_can_be_typed_or_skipped(demo):
    chat = demo.client()
    chat.say("o_loc", "垃圾没人收")
    chat.say("o_loc", "2")
    assert "位置：新南花园北门" in chat.say("o_loc", "新南花园北门")["Content"]
    chat.say("o_loc", "否")  # describe again: the location stays
    assert "位置：新南花园北门" in chat.say("o_loc", "垃圾三天没人收了")["Content"]

    chat.say("o_skip", "噪音很大睡不着")
    chat.say("o_skip", "2")
    summary = chat.say("o_skip", "跳过")["Content"]
    assert "位置：未填写" in summary and "类别：噪音扰民" in summary


def test_empty_emoji_only_and_overlong_descriptions_are_answered_politely(demo):
    chat = demo.client()
    assert "遇到的问题" in chat.say("o_bad", "我要投诉")["Content"]
    assert "说说遇到的问题" in chat.say("o_bad", "   ")["Content"]
    assert "具体一点" in chat.say("o_bad", "😡😡😡😡😡😡")["Content"]
    too_long = chat.say("o_bad", "楼下" + "垃圾" * 5000)["Content"]
    assert "10002 字" in too_long and "1000 字" in too_long
    assert _opinions(demo) == []
    assert "哪个社区" in chat.say("o_bad", "楼下垃圾没人清理")["Content"]  # still in the flow, and nothing lost

    long_first = chat.say("o_bad2", "我要投诉楼下垃圾" + "很多" * 5000)["Content"]
    assert "字" in long_first and "精简" in long_first


def test_a_photo_on_its_own_then_words(demo):
    chat = demo.client()
    assert "说说这是什么问题" in chat.photo("o_pic", "http://mmbiz.example/only.jpg")["Content"]
    assert "哪个社区" in chat.say("o_pic", "路口井盖不见了")["Content"]
    assert "照片：1 张" in chat.say("o_pic", "1")["Content"]
    chat.say("o_pic", "是")
    assert [p["url"] for p in _opinions(demo)[0].photos] == ["http://mmbiz.example/only.jpg"]


@pytest.mark.storage
def test_twenty_opinions_in_a_minute_meet_a_polite_limit(demo):
    chat = demo.client()
    limit = demo.rt.config.opinions.max_per_hour
    replies = []
    for i in range(20):
        reply = chat.say("o_busy", f"{i + 1}栋楼下垃圾没人清理")["Content"]
        if "哪个社区" in reply:
            reply = chat.say("o_busy", "1")["Content"]
        if reply.startswith("请确认"):
            reply = chat.say("o_busy", "是")["Content"]
        replies.append(reply)
    assert sum(bool(TICKET.search(r)) for r in replies) == limit
    assert all(f"一小时内已经反映了 {limit} 个问题" in r for r in replies[limit:])
    assert len(_opinions(demo)) == limit
    assert "近期活动" in chat.say("o_busy", "活动")["Content"]  # the rest of the bot still answers


def test_the_hourly_limit_holds_at_submission_too(demo):
    """Several drafts open at once (a resident on two phones): the limit is checked when storing."""
    from datetime import timedelta

    from storage import opinions, residents

    rt = demo.rt
    rules = opinions.Rules(opinions.Rules.from_config(rt.config.opinions).categories, max_per_hour=2)
    resident = residents.touch(rt.db, "o_drafts", rt.now())
    now = rt.now()
    for i in range(2):
        opinions.submit(rt.db, resident.id, opinions.Draft(f"第{i}个问题，路灯坏了", None), now, rt.tz, rules)
    with pytest.raises(opinions.TooManyOpinions):
        opinions.submit(rt.db, resident.id, opinions.Draft("第三个问题，路灯坏了", None), now, rt.tz, rules)
    later = now + timedelta(hours=1, seconds=1)
    assert opinions.submit(rt.db, resident.id, opinions.Draft("一小时后的新问题，路灯坏了", None), later, rt.tz, rules)


@pytest.mark.storage
def test_a_submission_the_database_refuses_leaves_nothing_behind(demo):
    """Stored whole or not at all: the ticket counter, the opinion and its audit entry are one transaction."""
    from sqlalchemy.exc import IntegrityError

    from storage import opinions, residents

    rt = demo.rt
    rules = opinions.Rules.from_config(rt.config.opinions)
    resident = residents.touch(rt.db, "o_refused", rt.now())
    with pytest.raises(IntegrityError):  # the foreign key refuses a community that does not exist
        opinions.submit(rt.db, resident.id, opinions.Draft("路口井盖丢了", community_id=999999), rt.now(), rt.tz, rules)
    with rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Opinion)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "opinion.submit")) == 0
        assert s.scalar(select(func.count()).select_from(DailyCounter).where(DailyCounter.name == "opinion")) == 0
    view = opinions.submit(rt.db, resident.id, opinions.Draft("路口井盖丢了", None), rt.now(), rt.tz, rules)
    assert view.ticket_no.endswith("001")


def test_nobody_sees_another_residents_ticket(demo):
    chat = demo.client()
    chat.say("o_owner", "3栋楼道灯坏了一个星期")
    chat.say("o_owner", "1")
    ticket = TICKET.search(chat.say("o_owner", "是")["Content"]).group(0)
    assert "3栋楼道灯" in chat.say("o_owner", ticket)["Content"]
    other = chat.say("o_stranger", ticket)["Content"]
    assert "没有找到您名下的工单" in other and "楼道灯" not in other
    assert "没有找到您名下的工单" in chat.say("o_stranger", ticket.lower())["Content"]


def test_at_the_summary_residents_correct_and_add_in_their_own_words(demo):
    chat = demo.client()
    chat.say("o_fix", "3栋楼下垃圾堆了三天")
    chat.say("o_fix", "1")
    assert "内容没问题就回复「是」" in chat.say("o_fix", "不用了")["Content"]  # nothing to add is not "start over"
    assert "位置：不是3栋是5栋" in chat.say("o_fix", "不是3栋是5栋")["Content"]
    added = chat.say("o_fix", "晚上还有老鼠出没")["Content"]
    assert "已补充到描述里" in added and "（补充：晚上还有老鼠出没）" in added
    assert "写上您愿意公开的称呼" in chat.say("o_fix", "公开吧")["Content"]
    assert "不要写电话号码" in chat.say("o_fix", "署名 张13812345678")["Content"]
    assert "署名：不公开" in chat.say("o_fix", "匿名")["Content"]
    chat.say("o_fix", "是")
    (opinion,) = _opinions(demo)
    assert opinion.content == "3栋楼下垃圾堆了三天（补充：晚上还有老鼠出没）"
    assert opinion.location == "不是3栋是5栋" and opinion.public_name is None


def test_a_typed_location_replaces_a_shared_pin(demo):
    chat = demo.client()
    chat.say("o_pin", "垃圾没人收")
    chat.say("o_pin", "1")
    chat.location("o_pin", 22.5, 114.1, "")
    assert "位置已更新" in chat.say("o_pin", "位置：8栋后门")["Content"]
    chat.say("o_pin", "是")
    (opinion,) = _opinions(demo)
    assert (opinion.location, opinion.latitude, opinion.longitude) == ("8栋后门", None, None)


def test_the_same_words_after_a_resolution_are_a_new_report(demo):
    from storage import opinions

    chat = demo.client()
    chat.say("o_again", "路口井盖又丢了")
    chat.say("o_again", "1")
    first = TICKET.search(chat.say("o_again", "是")["Content"]).group(0)
    chat.say("o_again", "路口井盖又丢了")
    assert "已经反映过了" in chat.say("o_again", "是")["Content"]  # still open: a re-send
    opinions.change_state(demo.rt.db, first, "accepted", "staff:admin", demo.rt.now())
    opinions.change_state(demo.rt.db, first, "resolved", "staff:admin", demo.rt.now())
    chat.say("o_again", "路口井盖又丢了")
    assert TICKET.search(chat.say("o_again", "是")["Content"]).group(0) != first  # fixed once, lost again
    assert len(_opinions(demo)) == 2


@pytest.mark.storage
def test_the_hourly_limit_holds_under_concurrent_submissions(demo):
    from concurrent.futures import ThreadPoolExecutor

    from storage import opinions, residents

    rt = demo.rt
    rules = opinions.Rules(opinions.Rules.from_config(rt.config.opinions).categories, max_per_hour=3)
    resident = residents.touch(rt.db, "o_race", rt.now())

    def one(i: int) -> str:
        try:
            return opinions.submit(rt.db, resident.id, opinions.Draft(f"第{i}个问题：路灯坏了", None), rt.now(),
                                   rt.tz, rules).ticket_no
        except opinions.TooManyOpinions:
            return "limited"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert results.count("limited") == 5 and len(_opinions(demo)) == 3
