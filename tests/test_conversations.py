"""Residents talking to the bot, on every database and shared store. Each test reads like the chat."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from storage.models import AuditEntry, Opinion, Resident


def test_a_new_follower_is_welcomed_and_told_what_the_bot_does(demo):
    chat = demo.client()
    welcome = chat.event("o_alice", "subscribe", "qrscene_luohu_poster")
    assert "欢迎关注" in welcome["Content"] and "反映问题" in welcome["Content"]
    with demo.rt.db.transaction() as s:
        resident = s.scalar(select(Resident).where(Resident.openid == "o_alice"))
        assert resident.subscribed and resident.subscribe_scene == "luohu_poster"


@pytest.mark.storage
def test_raising_an_opinion_asks_only_what_is_missing_and_gives_a_ticket_number(demo):
    chat = demo.client()
    asked = chat.say("o_alice", "楼下垃圾三天没人清理，臭死了")
    assert "哪个社区" in asked["Content"] and "1. 罗湖社区" in asked["Content"]
    summary = chat.say("o_alice", "3")
    assert "文华社区" in summary["Content"] and "楼下垃圾三天没人清理" in summary["Content"]
    done = chat.say("o_alice", "是")
    ticket = re.search(r"MY\d{8}\d{3}", done["Content"]).group(0)
    mine = chat.say("o_alice", "我的意见")
    assert ticket in mine["Content"] and "已提交" in mine["Content"]
    assert "楼下垃圾三天没人清理" in chat.say("o_alice", ticket.lower())["Content"]
    # nobody else can see it, not even by its number
    other = chat.say("o_stranger", f"查一下{ticket}")["Content"]
    assert "没有找到您名下的工单" in other and "垃圾" not in other
    # the community is remembered: a second opinion goes straight to the summary
    again = chat.say("o_alice", "小区门口路灯坏了一个星期")
    assert "请确认" in again["Content"] and "文华社区" in again["Content"]


def test_saying_only_i_want_to_complain_asks_what_happened(demo):
    chat = demo.client()
    assert "遇到的问题" in chat.say("o_bob", "我要投诉")["Content"]
    assert "哪个社区" in chat.say("o_bob", "3栋电梯经常停运，老人上下楼很困难")["Content"]


def test_cancel_leaves_the_flow_and_nothing_is_written(demo):
    chat = demo.client()
    chat.say("o_carol", "楼道里堆满杂物没人管")
    assert "已取消" in chat.say("o_carol", "取消")["Content"]
    with demo.rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Opinion)) == 0
    assert "没有进行中的操作" in chat.say("o_carol", "取消")["Content"]


def test_help_inside_a_flow_keeps_the_flow_open(demo):
    chat = demo.client()
    chat.say("o_dave", "楼道里堆满杂物没人管")
    assert "您正在「反映问题」" in chat.say("o_dave", "帮助")["Content"]
    assert "请确认" in chat.say("o_dave", "2")["Content"]


def test_an_unknown_community_is_asked_again_politely(demo):
    chat = demo.client()
    chat.say("o_erin", "垃圾桶满了好几天")
    assert "没有找到这个社区" in chat.say("o_erin", "42")["Content"]
    assert "哪个位置" in chat.say("o_erin", "新南")["Content"]  # the description did not say where
    assert "请确认" in chat.say("o_erin", "跳过")["Content"]


@pytest.mark.storage
def test_the_conversation_survives_a_restart_of_the_web_process(demo, make_stack):
    chat = demo.client()
    chat.say("o_frank", "公园里的健身器材坏了")
    restarted = make_stack(_kind(demo))  # a new process on the same database and store
    assert "请确认" in restarted.client().say("o_frank", "1")["Content"]


def test_an_idle_conversation_expires(make_stack):
    stack = make_stack("sqlite+redis", conversation_idle_timeout=1)
    from datetime import datetime, timezone

    from storage import demo as demo_data
    demo_data.load(stack.rt.db, datetime.now(timezone.utc), stack.rt.config.app.secret_key)
    chat = stack.client()
    chat.say("o_gina", "路边井盖丢了很危险")
    time.sleep(1.3)
    assert "近期活动" in chat.say("o_gina", "活动")["Content"]
    assert "没有进行中的操作" in chat.say("o_gina", "取消")["Content"]


def test_the_event_list_shows_upcoming_events_with_places_left(demo):
    reply = demo.client().say("o_hana", "最近有什麼活動")  # traditional script
    assert "社区党群嘉年华" in reply["Content"] and "剩余200个名额" in reply["Content"]


def test_a_party_member_binds_with_a_code_and_shows_identity(demo):
    chat = demo.client()
    assert "还没有完成党员认证" in chat.say("o_chen", "亮身份")["Content"]
    assert "认证成功" in chat.say("o_chen", "绑定 836215")["Content"]
    reply = chat.say("o_chen", "亮身份")
    article = reply["Articles"][0]
    assert "陈建华" in article["Title"] and "罗湖社区第一党支部" in article["Description"]
    assert "13800138001" not in str(reply)
    # the code is used up
    assert "不正确或已失效" in chat.say("o_other", "绑定 836215")["Content"]
    with demo.rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "party_member.bind")) == 1


@pytest.mark.storage
def test_guessing_binding_codes_is_stopped_after_five_failures(demo):
    chat = demo.client()
    for guess in ("000001", "000002", "000003", "000004", "000005"):
        assert "不正确或已失效" in chat.say("o_guess", f"绑定 {guess}")["Content"]
    assert "尝试次数过多" in chat.say("o_guess", "绑定 402917")["Content"]


def test_a_menu_click_reaches_its_handler(demo):
    assert "可认领的社区项目" in demo.client().event("o_ivy", "CLICK", "PROJECTS")["Content"]


def test_a_voice_message_is_understood_through_its_recognition(demo):
    fields = {"ToUserName": "gh_nanhu", "FromUserName": "o_jack", "CreateTime": int(time.time()),
              "MsgType": "voice", "MediaId": "m1", "Format": "amr", "Recognition": "有什么活动", "MsgId": 7001}
    from devtools.simulator import parse_reply
    reply = parse_reply(demo.client().post_fields(fields).text)
    assert "近期活动" in reply["Content"]


def test_a_photo_on_its_own_starts_an_opinion_and_asks_for_words(demo):
    fields = {"ToUserName": "gh_nanhu", "FromUserName": "o_kim", "CreateTime": int(time.time()),
              "MsgType": "image", "PicUrl": "http://example.invalid/p.jpg", "MediaId": "m2", "MsgId": 7002}
    from devtools.simulator import parse_reply
    reply = parse_reply(demo.client().post_fields(fields).text)["Content"]
    assert "收到照片（共 1 张）" in reply and "说说这是什么问题" in reply


def test_location_link_and_video_messages_are_parsed_and_answered(demo):
    from devtools.simulator import parse_reply
    base = {"ToUserName": "gh_nanhu", "FromUserName": "o_lee", "CreateTime": int(time.time())}
    for extra in ({"MsgType": "location", "Location_X": "22.54", "Location_Y": "114.11", "Scale": "15",
                   "Label": "南湖路"},
                  {"MsgType": "link", "Title": "t", "Description": "d", "Url": "http://example.invalid"},
                  {"MsgType": "video", "MediaId": "m", "ThumbMediaId": "t"}):
        reply = parse_reply(demo.client().post_fields({**base, **extra, "MsgId": time.time_ns()}).text)
        assert "用文字或语音简单说说" in reply["Content"]


def test_unsubscribe_marks_the_resident_and_no_notice_is_sent(demo, wechat_api):
    from bot import runtime
    from jobs.sending import send_text
    chat = demo.client()
    chat.event("o_mia", "subscribe")
    from devtools.simulator import event_fields
    resp = chat.post_fields(event_fields("o_mia", "unsubscribe"))
    assert resp.text == "success"
    with runtime.use(demo.rt):
        assert send_text("o_mia", "活动提醒") == "skipped: unsubscribed"
    assert wechat_api.messages("o_mia") == []


def test_events_without_a_reply_get_success_and_are_not_counted_as_interactions(demo):
    from bot.app import build_router
    from devtools.simulator import event_fields
    router = build_router()
    for event in ("VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "MASSSENDJOBFINISH"):
        assert event.lower() in router.events  # handled on purpose, not dropped as unknown
        assert demo.client().post_fields(event_fields("o_nina", event, "x")).text == "success"
    with demo.rt.db.transaction() as s:  # none of them is the resident talking to us
        assert s.scalar(select(Resident).where(Resident.openid == "o_nina")) is None


def test_what_the_bot_does_not_understand_gets_a_helpful_answer(demo):
    assert "没有看懂" in demo.client().say("o_olga", "今天天气怎么样")["Content"]


def _kind(stack) -> str:
    db = "postgresql" if stack.rt.db.dialect == "postgresql" else "sqlite"
    return f"{db}+{'redis' if stack.rt.redis is not None else 'sqlkv'}"


def test_scanning_a_qr_code_as_a_follower_gets_a_welcome_back(demo):
    assert "欢迎回来" in demo.client().event("o_pat", "SCAN", "poster_2026",
                                             Ticket="gQH47joAAAAAAAAAASxodHRw")["Content"]


def test_announcing_a_complaint_in_traditional_script_asks_what_happened(demo):
    assert "遇到的问题" in demo.client().say("o_tw", "我要投訴")["Content"]


def test_asking_for_something_else_while_describing_leaves_the_flow(demo):
    chat = demo.client()
    chat.say("o_switch", "我要投诉")
    assert "近期活动" in chat.say("o_switch", "活动")["Content"]
    assert "没有进行中的操作" in chat.say("o_switch", "取消")["Content"]


def test_a_voice_description_is_taken_like_text(demo):
    chat = demo.client()
    chat.say("o_voice", "我要投诉")
    fields = {"ToUserName": "gh_nanhu", "FromUserName": "o_voice", "CreateTime": int(time.time()),
              "MsgType": "voice", "MediaId": "m", "Format": "amr", "Recognition": "小区门口的垃圾桶满了没人收",
              "MsgId": time.time_ns()}
    from devtools.simulator import parse_reply
    assert "哪个社区" in parse_reply(chat.post_fields(fields).text)["Content"]


@pytest.mark.storage
def test_the_same_opinion_sent_twice_is_not_a_second_ticket(demo):
    chat = demo.client()
    assert "哪个社区" in chat.say("o_twice", "路口井盖丢了很危险")["Content"]
    chat.say("o_twice", "2")
    first = chat.say("o_twice", "是")["Content"]
    assert "工单号" in first
    chat.say("o_twice", "路口井盖丢了很危险")
    second = chat.say("o_twice", "是")["Content"]
    assert "已经反映过了" in second
    with demo.rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Opinion)) == 1


def test_thanks_gets_a_thank_you_and_asking_for_a_person_is_answered_honestly(demo):
    chat = demo.client()
    assert "不客气" in chat.say("o_polite", "谢谢")["Content"]
    assert "没有人工客服" in chat.say("o_polite", "转人工客服")["Content"]


def test_no_at_the_confirmation_can_be_said_as_residents_say_it(demo):
    chat = demo.client()
    chat.say("o_no", "3栋楼下路灯坏了很久了")
    chat.say("o_no", "1")
    assert "遇到的问题" in chat.say("o_no", "不对")["Content"]


@pytest.mark.storage
def test_guessing_binding_codes_from_many_openids_stops_binding_for_everyone_and_tells_staff(demo):
    from storage import party
    from storage.attempts import BIND_TRIES_ALL as MAX_BIND_FAILURES_ALL

    chat = demo.client()
    for n in range(MAX_BIND_FAILURES_ALL):  # one wrong guess each: the per-openid limit never trips
        assert "不正确或已失效" in chat.say(f"o_guesser_{n}", f"绑定 {100000 + n}")["Content"]
    refused = chat.say("o_chen", "绑定 836215")["Content"]  # a real code, from a real member
    assert "绑定暂时停用" in refused and party.member_for(demo.rt.db, "o_chen") is None
    with demo.rt.db.transaction() as s:
        paused = s.scalars(select(AuditEntry).where(AuditEntry.action == "party_member.binding_paused")).all()
    assert len(paused) == 1
