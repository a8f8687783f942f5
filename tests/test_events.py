"""Residents sign up for events in chat: places, the waitlist, cancelling and promotion, check-in
codes, reminders tied to the start time, staff alerts. SQLite and PostgreSQL, with and without Redis."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from jobs import sweeper
from storage import events, staff
from storage.models import Delivery, Registration
from tests.conftest import DATABASES, run_jobs

CODE = re.compile(r"签到码：(\d{6})")


def _event(demo, title="社区义诊", capacity=3, starts_in=timedelta(days=2), **extra) -> events.EventView:
    now = demo.rt.now()
    spec = events.EventSpec(title, now + starts_in, now + starts_in + timedelta(hours=2), capacity,
                            place="南湖社区党群服务中心", **extra)
    return events.create(demo.rt.db, spec, "staff:admin", now)


def _sweep(rt) -> None:
    rt.kv.delete("sweeper")
    assert sweeper.sweep_once(rt)
    run_jobs(rt)


@pytest.mark.storage
def test_sign_up_fill_waitlist_cancel_and_the_waiting_resident_is_promoted(demo, wechat_api):
    """Issue 6's done-when, through the real webhook."""
    staff.link_openid(demo.rt.db, "admin", "o_staff", "staff:admin")
    event = _event(demo, capacity=3)
    chat = demo.client()
    listing = chat.say("o_ann", "活动")["Content"]
    assert listing.index("社区义诊") < listing.index("社区党群嘉年华") and "剩余3个名额" in listing
    ann = chat.say("o_ann", "报名 1 两个人")["Content"]
    assert "报名成功" in ann and "人数：2 人" in ann and CODE.search(ann)
    assert "报名成功" in chat.say("o_bob", "报名社区义诊")["Content"]
    full = chat.say("o_cat", "报名 1")["Content"]
    assert "名额已满" in full and "第 1 位" in full
    assert "第 1 位" in chat.say("o_cat", "是")["Content"]
    assert "名额已满，可候补" in chat.say("o_dan", "活动")["Content"]

    assert "确定取消「社区义诊」" in chat.say("o_ann", "取消报名")["Content"]
    assert "已取消「社区义诊」的报名" in chat.say("o_ann", "是")["Content"]
    _sweep(demo.rt)  # what the handler queued, and anything a busy Redis kept it from queueing
    (promoted,) = wechat_api.wait_messages("o_cat")
    assert "候补的活动「社区义诊」有名额了" in promoted["content"] and CODE.search(promoted["content"])
    mine = chat.say("o_cat", "我的报名")["Content"]
    assert "社区义诊" in mine and "签到码" in mine
    record = events.attendance(demo.rt.db, event.id)
    assert record.confirmed_people == 2 and {r.status for r in record.registrations} == {"confirmed", "cancelled"}
    alerts = [m["content"] for m in wechat_api.wait_messages("o_staff", 2)]
    assert any("50%" in a for a in alerts) and any("100%" in a and "已满" in a for a in alerts)


def test_the_check_in_code_works_once_at_the_door(demo):
    staff.link_openid(demo.rt.db, "admin", "o_door", "staff:admin")
    _event(demo, "读书分享会", capacity=10, starts_in=timedelta(hours=2))
    chat = demo.client()
    code = CODE.search(chat.say("o_reader", "报名读书分享会 3个人")["Content"]).group(1)
    ok = chat.say("o_door", f"核销 {code}")["Content"]
    assert "签到成功" in ok and "3 人" in ok
    assert "签到过" in chat.say("o_door", f"核销{code}")["Content"]
    assert "出示给工作人员" in chat.say("o_reader", f"签到 {code}")["Content"]  # residents cannot check in
    record = events.attendance(demo.rt.db, _only_event_id(demo, "读书分享会"))
    assert record.attended_people == 3


def test_community_staff_check_in_their_own_community_s_events_only(demo):
    from storage import communities

    ids = {c.name: c.id for c in communities.all_communities(demo.rt.db)}
    staff.add(demo.rt.db, "luohu_staff", "罗湖社工", "a-long-password-1", "community", ids["罗湖社区"],
              "staff:admin", demo.rt.now())
    staff.link_openid(demo.rt.db, "luohu_staff", "o_luohu_door", "staff:admin")
    _event(demo, "新南粤曲会", capacity=10, starts_in=timedelta(hours=2), community_id=ids["新南社区"])
    _event(demo, "罗湖太极班", capacity=10, starts_in=timedelta(hours=2), community_id=ids["罗湖社区"])
    chat = demo.client()
    xinnan = CODE.search(chat.say("o_xn", "报名新南粤曲会")["Content"]).group(1)
    luohu = CODE.search(chat.say("o_lh", "报名罗湖太极班")["Content"]).group(1)
    assert "无效" in chat.say("o_luohu_door", f"核销 {xinnan}")["Content"]  # another community's: unknown here
    assert "签到成功" in chat.say("o_luohu_door", f"核销 {luohu}")["Content"]
    assert events.attendance(demo.rt.db, _only_event_id(demo, "新南粤曲会")).attended_people == 0


def _only_event_id(demo, title: str) -> int:
    return next(e.id for e in events.staff_list(demo.rt.db, demo.rt.now()) if e.title == title)


@pytest.mark.storage
def test_guessing_codes_is_stopped_after_a_few_tries(demo):
    staff.link_openid(demo.rt.db, "admin", "o_guess", "staff:admin")
    _event(demo, "粤剧欣赏", capacity=10, starts_in=timedelta(hours=2))
    chat = demo.client()
    real = CODE.search(chat.say("o_fan", "报名粤剧欣赏")["Content"]).group(1)
    wrong = [f"{n:06d}" for n in range(1000) if f"{n:06d}" != real][:10]
    for code in wrong:
        assert "无效" in chat.say("o_guess", f"核销 {code}")["Content"]
    assert "错误次数过多" in chat.say("o_guess", f"核销 {real}")["Content"]
    assert events.attendance(demo.rt.db, _only_event_id(demo, "粤剧欣赏")).attended_people == 0


def test_bad_sign_ups_get_a_clear_answer_and_write_nothing(demo):
    event = _event(demo, "亲子运动会", capacity=20, max_per_registration=4)
    chat = demo.client()
    chat.say("o_odd", "活动")
    assert "没有第 99 个活动" in chat.say("o_odd", "报名 99")["Content"]
    assert "至少 1 人" in chat.say("o_odd", "报名 1 0人")["Content"]
    assert "最多报 4 人" in chat.say("o_odd", "报名 1 100人")["Content"]
    assert "最多报 4 人" in chat.say("o_odd", "报名 1 三百人")["Content"]
    events.cancel_event(demo.rt.db, event.id, "staff:admin", demo.rt.now(), "场地维修")
    assert "已取消" in chat.say("o_odd", "报名亲子运动会")["Content"]
    with demo.rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 0


def test_a_past_event_or_one_past_its_deadline_takes_no_sign_ups(demo):
    rt = demo.rt
    soon = _event(demo, "早场太极", capacity=10, starts_in=timedelta(hours=1), reminder_hours=0)
    closed = _event(demo, "晚场太极", capacity=10, starts_in=timedelta(days=1),
                    signup_deadline=rt.now() + timedelta(hours=1))
    later = rt.now() + timedelta(hours=2)
    assert events.register(rt.db, soon.id, _resident(demo, "o_late1"), 1, later, rt.tz).outcome == "started"
    assert events.register(rt.db, closed.id, _resident(demo, "o_late2"), 1, later, rt.tz).outcome == "deadline"


def _resident(demo, openid: str) -> int:
    from storage import residents
    return residents.touch(demo.rt.db, openid, demo.rt.now()).id


def test_signing_up_twice_is_refused_kindly(demo):
    _event(demo, "插花课", capacity=10)
    chat = demo.client()
    chat.say("o_twice_ev", "报名插花课")
    again = chat.say("o_twice_ev", "报名插花课")["Content"]
    assert "已经报名了「插花课」" in again and "不用重复报名" in again


@pytest.mark.storage
def test_a_reminder_goes_out_when_its_time_comes(demo, wechat_api, clock):
    clock.drive(demo.rt)
    _event(demo, "健康讲座", capacity=10, starts_in=timedelta(hours=1, seconds=2), reminder_hours=1)
    chat = demo.client()
    code = CODE.search(chat.say("o_remind", "报名健康讲座")["Content"]).group(1)
    _sweep(demo.rt)
    assert not [m for m in wechat_api.messages("o_remind") if "活动提醒" in m["content"]]  # not yet
    clock.advance(2.5)  # the reminder's time (an hour before the start) passes
    _sweep(demo.rt)
    reminders = [m for m in wechat_api.wait_messages("o_remind") if "活动提醒" in m["content"]]
    assert len(reminders) == 1 and "健康讲座" in reminders[0]["content"] and code in reminders[0]["content"]


def test_a_moved_event_sends_no_stale_reminder_and_tells_every_registrant(demo, wechat_api, clock):
    rt = demo.rt
    clock.drive(rt)
    event = _event(demo, "消防演练", capacity=10, starts_in=timedelta(hours=1, seconds=2), reminder_hours=1)
    chat = demo.client()
    chat.say("o_move1", "报名消防演练")
    chat.say("o_move2", "报名消防演练 两个人")
    later = event.starts_at + timedelta(days=1)
    events.reschedule(rt.db, event.id, later, later + timedelta(hours=2), "staff:admin", rt.now(), rt.tz)
    clock.advance(2.5)  # the old reminder's time passes
    _sweep(rt)
    for openid in ("o_move1", "o_move2"):
        told = [m["content"] for m in wechat_api.wait_messages(openid)]
        assert any("时间有变" in t for t in told) and not any("活动提醒" in t for t in told)
    with rt.db.transaction() as s:
        states = sorted(s.scalars(select(Delivery.state)
                                  .join(Registration, Registration.reminder_delivery_id == Delivery.id)))
        skipped = s.scalars(select(Delivery.errmsg).where(Delivery.state == "skipped")).all()
    assert states == ["pending", "pending"]  # the new reminders, a day later
    assert len(skipped) == 2  # the old ones


def test_a_cancelled_event_tells_every_registrant(demo, wechat_api):
    rt = demo.rt
    event = _event(demo, "包粽子", capacity=1)
    chat = demo.client()
    chat.say("o_zong1", "报名包粽子")
    chat.say("o_zong2", "报名包粽子")
    chat.say("o_zong2", "是")  # waitlisted
    events.cancel_event(rt.db, event.id, "staff:admin", rt.now(), "天气原因")
    _sweep(rt)
    for openid in ("o_zong1", "o_zong2"):
        assert "天气原因" in wechat_api.wait_messages(openid)[-1]["content"]


@pytest.mark.http
def test_the_registration_page_shows_the_code_and_a_forged_link_shows_nothing(demo):
    _event(demo, "书法体验", capacity=5)
    reply = demo.client().say("o_page", "报名书法体验 两个人")["Content"]
    link = re.search(r"http\S+/r/\S+", reply).group(0)
    code = CODE.search(reply).group(1)
    page = requests.get(demo.url + link[link.index("/r/"):], timeout=5)
    assert page.status_code == 200 and code in page.text and "<svg" in page.text and "2 人" in page.text
    assert "o_page" not in page.text
    forged = requests.get(demo.url + link[link.index("/r/"):-2] + "xx", timeout=5)
    assert forged.status_code == 404 and code not in forged.text


def test_staff_export_registrations_with_phones_left_by_residents(demo, staff_cli):
    event = _event(demo, "义务理发", capacity=5)
    chat = demo.client()
    chat.say("o_hair", "报名义务理发")
    assert "已记下" in chat.say("o_hair", "13800138000")["Content"]
    out = staff_cli("events", "export", str(event.id)).output
    assert "13800138000" in out and "confirmed" in out
    shown = staff_cli("events", "show", str(event.id)).output
    assert "13800138000" not in shown and "1/5 taken" in shown


def test_fifty_residents_race_for_the_last_ten_places_through_the_webhook(demo):
    """Real concurrent requests: exactly 10 get places; the others are offered the waitlist, or (when
    more pushes are in flight than the webhook takes) asked to send again, with nothing written."""
    from concurrent.futures import ThreadPoolExecutor

    from storage import residents

    rt = demo.rt
    event = _event(demo, "元宵灯会", capacity=20, max_per_registration=10)
    early = residents.touch(rt.db, "o_early", rt.now()).id
    assert events.register(rt.db, event.id, early, 10, rt.now(), rt.tz).outcome == "confirmed"

    def sign_up(i: int) -> str:
        return demo.client().say(f"o_race_{i}", "报名元宵灯会")["Content"]
    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(sign_up, range(50)))
    placed = [r for r in replies if "报名成功" in r]
    assert 1 <= len(placed) <= 10  # a reply given late ("正在处理") may hide a confirmed place
    assert all("名额已满" in r or "稍后再发" in r or "正在处理" in r for r in replies if r not in placed)
    run_jobs(rt)
    record = events.attendance(rt.db, event.id)
    assert record.confirmed_people == 20 and len(record.registrations) == 11
    assert len({r.code for r in record.registrations}) == 11


@pytest.mark.storage(*DATABASES)
def test_fifty_concurrent_sign_ups_for_ten_places_and_a_waitlist_in_order(demo):
    from concurrent.futures import ThreadPoolExecutor

    from storage import residents

    rt = demo.rt
    event = _event(demo, "重阳敬老宴", capacity=10)
    people = [residents.touch(rt.db, f"o_feast_{i}", rt.now()).id for i in range(50)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda rid: events.register(rt.db, event.id, rid, 1, rt.now(), rt.tz,
                                                            join_waitlist=True), people))
    assert sorted(r.outcome for r in results).count("confirmed") == 10
    assert [r.outcome for r in results].count("waitlisted") == 40
    record = events.attendance(rt.db, event.id)
    assert sorted(r.position for r in record.registrations if r.status == "waitlisted") == list(range(1, 41))
    assert record.event.places_left == 0 and record.confirmed_people == 10


def test_a_title_and_a_number_mean_that_event_for_that_many_people(demo):
    _event(demo, "社区义诊", capacity=10)
    chat = demo.client()
    chat.say("o_num", "活动")  # 社区义诊 is 1 on the list, 社区党群嘉年华 2
    done = chat.say("o_num", "报名社区党群嘉年华 2")["Content"]
    assert "社区党群嘉年华" in done and "人数：2 人" in done


def test_cancel_right_after_signing_up_keeps_the_place(demo):
    _event(demo, "剪纸课", capacity=10)
    chat = demo.client()
    chat.say("o_keep", "报名剪纸课")
    assert "报名仍然有效" in chat.say("o_keep", "取消")["Content"]
    assert "剪纸课" in chat.say("o_keep", "我的报名")["Content"]
    chat.say("o_keep", "取消报名")
    assert "报名保留" in chat.say("o_keep", "取消")["Content"]
    assert "剪纸课" in chat.say("o_keep", "我的报名")["Content"]


def test_a_cancelled_event_leaves_my_registrations_and_its_reminder_is_not_sent(demo, wechat_api, clock):
    rt = demo.rt
    clock.drive(rt)
    event = _event(demo, "观影会", capacity=10, starts_in=timedelta(hours=1, seconds=2), reminder_hours=1)
    chat = demo.client()
    chat.say("o_film", "报名观影会")
    events.cancel_event(rt.db, event.id, "staff:admin", rt.now(), "设备故障")
    assert "没有报名的活动" in chat.say("o_film", "我的报名")["Content"]
    assert "已取消" in chat.say("o_film", "报名观影会")["Content"]
    clock.advance(2.5)
    _sweep(rt)
    told = [m["content"] for m in wechat_api.wait_messages("o_film")]
    assert any("设备故障" in t for t in told) and not any("活动提醒" in t for t in told)


def test_a_reminder_in_flight_when_the_event_moved_is_caught_when_sending(demo, wechat_api, clock):
    """The move skips pending reminders; one already handed to a worker is checked again at claim time."""
    from storage import notices

    rt = demo.rt
    clock.drive(rt)
    event = _event(demo, "茶话会", capacity=10, starts_in=timedelta(hours=1, seconds=1), reminder_hours=1)
    demo.client().say("o_tea", "报名茶话会")
    with rt.db.transaction() as s:
        reminder_id = s.scalar(select(Registration.reminder_delivery_id))
    later = event.starts_at + timedelta(days=2)
    with rt.db.transaction() as s:  # as if it had been claimed before the move: the move does not see it pending
        s.get(Delivery, reminder_id).state = "queued-elsewhere"
    events.reschedule(rt.db, event.id, later, later + timedelta(hours=1), "staff:admin", rt.now(), rt.tz)
    with rt.db.transaction() as s:
        s.get(Delivery, reminder_id).state = "pending"
    clock.advance(1.5)
    assert notices.claim(rt.db, [reminder_id], rt.now(), timedelta(hours=48)) == []
    with rt.db.transaction() as s:
        assert s.get(Delivery, reminder_id).errmsg == notices.STALE_REMINDER


@pytest.mark.storage(*DATABASES)
@pytest.mark.slow
def test_check_in_codes_are_unique_across_current_events(demo):
    rt = demo.rt
    first, second = _event(demo, "上午场", capacity=600), _event(demo, "下午场", capacity=600)
    codes = []
    for i in range(300):
        rid = _resident(demo, f"o_code_{i}")
        for e in (first, second):
            codes.append(events.register(rt.db, e.id, rid, 1, rt.now(), rt.tz).registration.code)
    assert len(set(codes)) == len(codes)
