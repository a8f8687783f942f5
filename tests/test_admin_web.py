"""The staff admin web over real HTTP: logins, CSRF, the dashboard's figures, opinions, events and
announcements, and community staff kept to their community. SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage import communities, events, opinions, staff
from storage.models import Event, Opinion
from tests.admin_client import AdminClient
from tests.conftest import run_jobs

TICKET = re.compile(r"MY\d{11}")


def _community(demo, name: str) -> int:
    return next(c.id for c in communities.all_communities(demo.rt.db) if c.name == name)


def _community_staff(demo, username="wenhua", community="文华社区") -> AdminClient:
    staff.add(demo.rt.db, username, f"{community}工作人员", "a-long-password-1", "community",
              _community(demo, community), "system", demo.rt.now())
    client = AdminClient(demo.url)
    assert client.login(username, "a-long-password-1").url.endswith("/admin/")
    return client


def _opinion(demo, openid: str, text: str, community_number: str) -> str:
    chat = demo.client()
    chat.say(openid, text)
    chat.say(openid, community_number)
    return TICKET.search(chat.say(openid, "是")["Content"]).group(0)


@pytest.mark.http
@pytest.mark.storage
def test_login_logout_wrong_passwords_and_the_lockout(demo):
    client = AdminClient(demo.url)
    assert client.get("/admin/").url.endswith("/admin/login?next=/admin/")
    for _ in range(5):
        assert "用户名或密码不正确" in client.post("/admin/login", {"username": "admin", "password": "wrong"}).text
    unknown = client.post("/admin/login", {"username": "nobody", "password": "x"})
    locked = client.login()  # even the right password waits out the lockout
    assert locked.status_code == 401 and locked.text.count("用户名或密码不正确") == 1
    assert unknown.text.replace("nobody", "") == locked.text.replace("admin", "")  # nothing tells them apart
    staff.set_password(demo.rt.db, "admin", "a-new-long-password", "system", demo.rt.now())
    assert client.login("admin", "a-new-long-password").url.endswith("/admin/")
    cookie = next(c for c in client.http.cookies if c.name == "nanhu_admin")
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
    copied = AdminClient(demo.url)  # the cookie as someone who copied it before the logout holds it
    copied.http.cookies.update(client.http.cookies)
    assert copied.get("/admin/").url.endswith("/admin/")
    client.post("/admin/logout")
    assert client.get("/admin/").url.endswith("/admin/login?next=/admin/")
    assert copied.get("/admin/").url.endswith("/admin/login?next=/admin/")  # logout ended it on the server


@pytest.mark.http
def test_a_next_link_with_a_line_break_is_refused_not_a_server_error(demo):
    client = AdminClient(demo.url)
    assert client.get("/admin/login?next=/admin/%0d%0aSet-Cookie:x=1").status_code == 400
    client.get("/admin/login")
    bad = client.post("/admin/login?next=/admin/%0d%0aSet-Cookie:x=1",
                      {"username": "admin", "password": "nanhu-demo-2026"})
    assert bad.status_code == 400 and "x=1" not in bad.headers.get("Set-Cookie", "")
    assert client.get("/admin/login?next=/admin/opinions").status_code == 200


@pytest.mark.http
def test_every_form_needs_the_csrf_token_and_a_changed_password_ends_sessions(demo):
    client = AdminClient(demo.url)
    client.login()
    forged = client.http.post(demo.url + "/admin/announcements", data={"title": "假公告", "body": "x"}, timeout=5)
    assert forged.status_code == 400
    staff.set_password(demo.rt.db, "admin", "another-long-password", "system", demo.rt.now())
    assert client.get("/admin/").url.endswith("/admin/login?next=/admin/")


@pytest.mark.http
def test_the_dashboard_finds_an_overdue_opinion_staff_assign_and_reply_and_the_resident_hears(demo, wechat_api):
    """Issue 8's done-when, over HTTP (the browser test does it in Chromium)."""
    rt = demo.rt
    ticket = _opinion(demo, "o_web", "3栋楼道灯坏了一个星期", "1")
    with rt.db.transaction() as s:  # two weeks ago, and still not handled
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket))
        o.created_at -= timedelta(days=14)
        o.due_at -= timedelta(days=14)
    client = AdminClient(demo.url)
    client.login()
    board = client.get("/admin/").text
    assert 'id="overdue-link"' in board and re.search(r'class="v late">1<', board)
    listed = client.get("/admin/opinions?overdue=1").text
    assert ticket in listed and "超期" in listed
    page = client.get(f"/admin/opinions/{ticket}").text
    assert "3栋楼道灯坏了一个星期" in page
    client.post(f"/admin/opinions/{ticket}/assign", {"assignee": "发展更新部", "note": ""})
    client.post(f"/admin/opinions/{ticket}/reply", {"note": "已安排电工明天上午更换"})
    run_jobs(rt)
    told = [m["content"] for m in wechat_api.wait_messages("o_web", 2)]
    assert any("已受理" in t and "发展更新部" in t for t in told) and any("明天上午更换" in t for t in told)
    after = client.get(f"/admin/opinions/{ticket}").text
    assert "已受理" in after and "已安排电工明天上午更换" in after
    assert opinions.staff_show(rt.db, ticket).timeline[1].state == "accepted"


@pytest.mark.http
def test_community_staff_see_their_community_only_and_get_404_elsewhere(demo):
    luohu_ticket = _opinion(demo, "o_luohu", "罗湖社区3栋门口垃圾没人清", "1")   # 1 = 罗湖社区
    wenhua_ticket = _opinion(demo, "o_wenhua", "文华社区5栋门口积水", "3")        # 3 = 文华社区
    client = _community_staff(demo)
    listed = client.get("/admin/opinions").text
    assert wenhua_ticket in listed and luohu_ticket not in listed
    assert client.get(f"/admin/opinions/{wenhua_ticket}").status_code == 200
    assert client.get(f"/admin/opinions/{luohu_ticket}").status_code == 404
    assert client.post(f"/admin/opinions/{luohu_ticket}/reply", {"note": "越权"}).status_code == 404
    luohu_event = events.create(demo.rt.db, events.EventSpec("罗湖读书会", demo.rt.now() + timedelta(days=3),
                                                             demo.rt.now() + timedelta(days=3, hours=2), 20,
                                                             community_id=_community(demo, "罗湖社区")),
                                "staff:admin", demo.rt.now())
    assert client.get(f"/admin/events/{luohu_event.id}").status_code == 404
    assert "罗湖读书会" not in client.get("/admin/events").text
    assert client.get("/admin/events/999999").status_code == 404


@pytest.mark.http
def test_an_event_form_with_mistakes_says_so_next_to_each_field_and_creates_nothing(demo):
    client = AdminClient(demo.url)
    client.login()
    with demo.rt.db.transaction() as s:
        before = s.scalar(select(func.count()).select_from(Event))
    bad = client.post("/admin/events", {"title": "", "start": "2020-01-01T10:00", "end": "2020-01-01T09:00",
                                        "capacity": "0", "max_per_registration": "4", "reminder_hours": "24"})
    assert bad.status_code == 400
    for field, message in (("title", "请填写活动名称"), ("start", "开始时间必须在以后"),
                           ("end", "结束时间要晚于开始时间"), ("capacity", "名额请填 1 到 100000")):
        assert re.search(rf'id="error-{field}">[^<]*{message}', bad.text), field
    with demo.rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == before


def _publish_event(client: AdminClient, demo, title: str, starts_in: timedelta, **extra: str):
    """The admin's new-event form, filled in for 20 places, 2 a registration, two hours long."""
    start = (demo.rt.now() + starts_in).astimezone(demo.rt.tz)
    return client.post("/admin/events", {"title": title, "place": "南湖社区党群服务中心", "community": "",
                                         "start": start.strftime("%Y-%m-%dT%H:%M"),
                                         "end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
                                         "capacity": "20", "max_per_registration": "2", "audience": "everyone",
                                         **extra})


@pytest.mark.http
def test_staff_create_an_event_see_a_sign_up_and_check_the_resident_in(demo):
    client = AdminClient(demo.url)
    client.login()
    made = _publish_event(client, demo, "社区义剪", timedelta(days=2), reminder_hours="24", waitlist="on")
    assert "已发布" in made.text
    event_path = made.url[len(demo.url):]
    code = re.search(r"签到码：(\d{6})", demo.client().say("o_cut", "报名社区义剪 两个人")["Content"]).group(1)
    page = client.get(event_path).text
    # codes are shown at the door, not here
    assert f"****{code[-2:]}" in page and code not in page and 'id="taken">2/20' in page
    assert "签到成功：2 人" in client.post(event_path + "/checkin", {"code": code}).text
    assert "不能重复签到" in client.post(event_path + "/checkin", {"code": code}).text
    assert 'id="attended">2' in client.get(event_path).text
    assert "签到码是 6 位数字" in client.post(event_path + "/checkin", {"code": "12"}).text


@pytest.mark.http
def test_guessing_check_in_codes_in_the_admin_web_stops_after_a_few_tries(demo):
    from storage.attempts import CHECK_IN_TRIES

    client = AdminClient(demo.url)
    client.login()
    made = _publish_event(client, demo, "社区观影", timedelta(hours=2), reminder_hours="0")
    event_path = made.url[len(demo.url):]
    code = re.search(r"签到码：(\d{6})", demo.client().say("o_film", "报名社区观影")["Content"]).group(1)
    wrong = [f"{n:06d}" for n in range(100) if f"{n:06d}" != code][:CHECK_IN_TRIES]
    for guess in wrong:
        assert "本活动没有签到码" in client.post(event_path + "/checkin", {"code": guess}).text
    assert "错误次数过多" in client.post(event_path + "/checkin", {"code": code}).text
    assert 'id="attended">0' in client.get(event_path).text


@pytest.mark.http
def test_staff_send_an_announcement_after_seeing_the_count_and_read_its_report(demo, wechat_api):
    for openid in ("o_ann1", "o_ann2", "o_ann3"):
        demo.client().event(openid, "subscribe")
    client = AdminClient(demo.url)
    client.login()
    empty = client.post("/admin/announcements", {"title": "", "body": "", "audience": "everyone"})
    assert "请填写标题" in empty.text and "请填写正文" in empty.text
    preview = client.post("/admin/announcements",
                          {"title": "停水通知", "body": "明天9点至12点停水", "audience": "everyone"})
    count = int(re.search(r"将发送给 (\d+) 位居民", preview.text).group(1))
    assert count >= 3
    sent = client.post("/admin/announcements", {"title": "停水通知", "body": "明天9点至12点停水",
                                                "audience": "everyone", "confirmed": str(count)})
    assert "送达报告" in sent.text
    run_jobs(demo.rt)
    assert all(wechat_api.wait_messages(o) for o in ("o_ann1", "o_ann2", "o_ann3"))
    report = client.get(sent.url[len(demo.url):]).text
    assert re.search(r'id="sent">\d+<', report)


@pytest.mark.http
def test_staff_move_an_event_and_schedule_an_announcement(demo, wechat_api):
    rt = demo.rt
    client = AdminClient(demo.url)
    client.login()
    event = events.create(rt.db, events.EventSpec("书法课", rt.now() + timedelta(days=2),
                                                  rt.now() + timedelta(days=2, hours=2), 10), "staff:admin", rt.now())
    demo.client().say("o_brush", "报名书法课")
    later = (rt.now() + timedelta(days=4)).astimezone(rt.tz)
    moved = client.post(f"/admin/events/{event.id}/move",
                        {"start": later.strftime("%Y-%m-%dT%H:%M"),
                         "end": (later + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
                         "note": "场地调整"})
    assert "已改期" in moved.text
    run_jobs(rt)
    assert "场地调整" in wechat_api.wait_messages("o_brush")[-1]["content"]
    assert "改期失败" in client.post(f"/admin/events/{event.id}/move", {"start": "2020-01-01T10:00",
                                                                        "end": "2020-01-01T12:00"}).text
    tomorrow = (rt.now() + timedelta(days=1)).astimezone(rt.tz).strftime("%Y-%m-%dT%H:%M")
    data = {"title": "明日停电", "body": "明天检修线路", "audience": "everyone", "send_at": tomorrow}
    count = re.search(r"将发送给 (\d+) 位", client.post("/admin/announcements", data).text).group(1)
    scheduled = client.post("/admin/announcements", {**data, "confirmed": count})
    assert "公告已定时" in scheduled.text
    past = client.post("/admin/announcements", {**data, "send_at": "2020-01-01T10:00"})
    assert "定时发送的时间要在以后" in past.text


@pytest.mark.http
@pytest.mark.storage
def test_one_address_flooding_the_login_is_stopped_without_hashing(demo):
    from storage.attempts import LOGIN_TRIES as LOGIN_TRIES_PER_ADDRESS

    client = AdminClient(demo.url)
    for i in range(LOGIN_TRIES_PER_ADDRESS):
        client.post("/admin/login", {"username": f"guess{i}", "password": "x"})
    assert client.post("/admin/login", {"username": "admin", "password": "nanhu-demo-2026"}).status_code == 429
    other = AdminClient(demo.url)  # the same address in tests: cleared by the window's expiry only
    demo.rt.kv.delete("loginfail:127.0.0.1")
    assert other.login().url.endswith("/admin/")


@pytest.mark.http
def test_behind_a_trusted_proxy_one_visitor_s_flood_locks_out_only_that_visitor(make_stack):
    from storage import demo as demo_data
    from storage.attempts import LOGIN_TRIES as LOGIN_TRIES_PER_ADDRESS

    stack = make_stack("sqlite+sqlkv", app_trusted_proxies="127.0.0.1")
    demo_data.load(stack.rt.db, stack.rt.now(), stack.rt.config.app.secret_key)
    attacker = AdminClient(stack.url)
    attacker.http.headers["X-Forwarded-For"] = "203.0.113.7"
    for i in range(LOGIN_TRIES_PER_ADDRESS):
        attacker.post("/admin/login", {"username": f"guess{i}", "password": "x"})
    assert attacker.post("/admin/login", {"username": "admin", "password": "nanhu-demo-2026"}).status_code == 429
    staff_member = AdminClient(stack.url)  # through the same proxy, from another address
    staff_member.http.headers["X-Forwarded-For"] = "198.51.100.9"
    assert staff_member.login().url.endswith("/admin/")


@pytest.mark.http
def test_with_the_shared_store_down_the_login_is_refused_politely_not_with_a_server_error(make_stack):
    down = make_stack("sqlite+redis", redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2)
    client = AdminClient(down.url)
    refused = client.post("/admin/login", {"username": "admin", "password": "nanhu-demo-2026"})
    assert refused.status_code == 503 and "登录暂时不可用" in refused.text


@pytest.mark.http
def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(demo):
    from storage.attempts import LOGIN_TRIES as LOGIN_TRIES_PER_ADDRESS

    client = AdminClient(demo.url)
    for i in range(LOGIN_TRIES_PER_ADDRESS):  # a new made-up address on every try
        client.post("/admin/login", {"username": f"guess{i}", "password": "x"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"})
    refused = client.post("/admin/login", {"username": "admin", "password": "nanhu-demo-2026"},
                          headers={"X-Forwarded-For": "192.0.2.1"})
    assert refused.status_code == 429


@pytest.mark.http
def test_community_staff_see_only_their_announcements_and_figures(demo, wechat_api):
    from storage.notices import Audience, announce

    rt = demo.rt
    for openid, number in (("o_l1", "1"), ("o_w1", "3")):
        _opinion(demo, openid, "5栋楼下垃圾没人清理", number)
    announce(rt.db, "罗湖停水", "明天停水", Audience("community", _community(demo, "罗湖社区")),
             "staff:admin", rt.now())
    announce(rt.db, "文华停电", "明天停电", Audience("community", _community(demo, "文华社区")),
             "staff:admin", rt.now())
    client = _community_staff(demo)
    listed = client.get("/admin/announcements").text
    assert "文华停电" in listed and "罗湖停水" not in listed
    board = client.get("/admin/").text
    assert "文华停电" in board and "罗湖停水" not in board
    assert "办结率（0/1）" in board  # their community's one ticket, not both
    export = client.get("/admin/events/999999/export.csv")
    assert export.status_code == 404
