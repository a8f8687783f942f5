"""Each push handled once; every accepted push answered in time, with an apology when something fails."""
from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.chat.router import Router
from bot.webhook.receiver import APOLOGY, BUSY, LATER, UNDONE
from bot.wechat.replies import Text
from devtools.simulator import parse_reply, text_fields
from tests.conftest import DATABASES


class Counting:
    """A router whose one handler counts calls, takes its time and can run concurrently."""

    def __init__(self, delay: float = 0.0):
        self.calls = 0
        self.active: dict[str, int] = {}
        self.overlaps = 0
        self.delay = delay
        self.lock = threading.Lock()
        self.router = Router("counting")
        self.router.fallback(self.handle)

    def handle(self, ctx):
        openid = ctx.message.openid
        with self.lock:
            self.calls += 1
            n = self.calls
            self.active[openid] = self.active.get(openid, 0) + 1
            if self.active[openid] > 1:
                self.overlaps += 1
        time.sleep(self.delay)
        with self.lock:
            self.active[openid] -= 1
        return Text(f"第{n}次处理")


def test_concurrent_retries_of_one_msgid_are_handled_once_and_share_the_reply(stack_with_router):
    counting = Counting(delay=0.3)
    stack = stack_with_router(counting.router)
    fields = text_fields("o_alice", "随便说点什么")
    client = stack.client()
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: client.sim.open_reply(client.post_fields(fields).content), range(4)))
    assert counting.calls == 1
    assert {parse_reply(r)["Content"] for r in replies} == {"第1次处理"}


def test_a_msgid_is_handled_once_across_two_app_instances_sharing_the_store(make_stack):
    # (real processes: see test_end_to_end, where gunicorn's two workers get concurrent retries)
    counting = Counting(delay=0.2)
    first = make_stack("sqlite+redis", router=counting.router)
    second = make_stack("sqlite+redis", router=counting.router)  # another app, same database and Redis
    fields = text_fields("o_alice", "重复的消息")
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda s: parse_reply(s.client().post_fields(fields).text), [first, second])
    assert counting.calls == 1 and a["Content"] == b["Content"] == "第1次处理"


def test_events_are_deduplicated_by_sender_time_event_and_key(stack_with_router):
    counting = Counting()
    counting.router.event("click")(counting.handle)
    stack = stack_with_router(counting.router)
    client = stack.client()
    from devtools.simulator import event_fields
    click = event_fields("o_alice", "CLICK", "HELP", create_time=1795000000)
    client.post_fields(click)
    client.post_fields(click)
    assert counting.calls == 1
    client.post_fields(event_fields("o_alice", "CLICK", "EVENTS", create_time=1795000000))
    assert counting.calls == 2


def test_same_resident_never_overlaps(stack_with_router):
    counting = Counting(delay=0.2)
    stack = stack_with_router(counting.router)
    client = stack.client()
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda i: client.say("o_alice", f"第{i}条"), range(3)))
    assert counting.calls == 3 and counting.overlaps == 0


def test_a_slow_handler_is_answered_in_time_and_the_real_reply_follows(make_stack, wechat_api):
    counting = Counting(delay=1.5)
    stack = make_stack("sqlite+sqlkv", router=counting.router, app_reply_deadline=0.5)
    started = time.monotonic()
    reply = stack.client().say("o_alice", "慢慢来")
    assert time.monotonic() - started < 1.4
    assert reply["Content"] == LATER  # not "send again": the message is being handled
    pushed = wechat_api.wait_messages("o_alice", 1)
    assert pushed and pushed[0]["body"]["text"]["content"] == "第1次处理"


def test_a_late_reply_goes_through_the_outbox_like_every_other_push(make_stack, wechat_api):
    from sqlalchemy import select

    from storage.models import Delivery, Notice

    stack = make_stack("sqlite+sqlkv", router=Counting(delay=1.0).router, app_reply_deadline=0.5)
    assert stack.client().say("o_bob", "慢慢来")["Content"] == LATER
    pushed = wechat_api.wait_messages("o_bob", 1)
    assert pushed and pushed[0]["body"]["text"]["content"] == "第1次处理"
    with stack.rt.db.transaction() as s:
        states = s.execute(select(Notice.kind, Delivery.state).join(Delivery, Delivery.notice_id == Notice.id)
                           .where(Delivery.openid == "o_bob")).all()
    assert [tuple(row) for row in states] == [("late_reply", "sent")]


def test_a_handler_that_fails_after_the_promise_is_answered_honestly_not_with_silence(make_stack, wechat_api):
    router = Router("slow-then-failing")

    @router.fallback
    def fails_late(ctx):
        time.sleep(1.0)
        raise RuntimeError("lock timeout, say")

    stack = make_stack("sqlite+sqlkv", router=router, app_reply_deadline=0.5)
    assert stack.client().say("o_carol", "我确认提交")["Content"] == LATER
    pushed = wechat_api.wait_messages("o_carol", 1)
    assert pushed and pushed[0]["body"]["text"]["content"] == UNDONE


def test_a_push_that_queued_behind_the_proxy_too_long_gets_the_apology_at_once(make_stack):
    counting = Counting()
    stack = make_stack("sqlite+sqlkv", router=counting.router, app_trusted_proxies="127.0.0.1")
    client = stack.client()
    client.http.headers["X-Request-Start"] = f"t={time.time() - 4.8:.3f}"  # nginx's arrival stamp
    started = time.monotonic()
    assert client.say("o_queued", "你好")["Content"] == APOLOGY
    assert time.monotonic() - started < 1.0 and counting.calls == 0  # shed, not handled half-way
    client.http.headers["X-Request-Start"] = f"t={time.time():.3f}"
    assert client.say("o_queued", "你好")["Content"] == "第1次处理"


def test_an_arrival_stamp_from_anyone_but_a_trusted_proxy_is_ignored(make_stack):
    counting = Counting()
    stack = make_stack("sqlite+sqlkv", router=counting.router)  # no app.trusted_proxies
    client = stack.client()
    client.http.headers["X-Request-Start"] = f"t={time.time() - 4.8:.3f}"
    assert client.say("o_forger", "你好")["Content"] == "第1次处理" and counting.calls == 1


def test_a_locked_database_gives_the_resident_an_apology_not_a_500(make_stack):
    stack = make_stack("sqlite+redis", database_timeout=0.3, app_reply_deadline=2.0)
    path = stack.rt.config.database.url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        resp = stack.client().post_fields(text_fields("o_newcomer", "活动"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert resp.status_code == 200
    assert parse_reply(resp.text)["Content"] in (APOLOGY, BUSY)


@pytest.mark.http
def test_redis_down_gives_an_apology_and_healthz_says_degraded(make_stack):
    stack = make_stack("sqlite+redis", redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2)
    resp = stack.client().post_fields(text_fields("o_alice", "活动"))
    assert resp.status_code == 200 and parse_reply(resp.text)["Content"] == APOLOGY
    health = requests.get(stack.url + "/healthz", timeout=5)
    assert health.status_code == 503 and health.json()["redis"].startswith("unreachable")


def test_a_crashing_handler_gets_an_apology(stack_with_router):
    router = Router("crashing")

    @router.fallback
    def boom(ctx):
        raise RuntimeError("bug")

    stack = stack_with_router(router)
    assert stack.client().say("o_alice", "你好")["Content"] == APOLOGY


@pytest.mark.http
@pytest.mark.storage
def test_healthz_reports_database_and_redis(stack):
    body = requests.get(stack.url + "/healthz", timeout=5).json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["redis"] == ("ok" if stack.rt.redis is not None else "not configured (jobs run in the web process)")


@pytest.mark.slow
def test_a_slow_but_alive_redis_still_gets_an_answer_within_five_seconds(make_stack, redis_url):
    from tests.slowproxy import SlowProxy

    host_port = redis_url.split("//")[1].split("/")[0]
    with SlowProxy(host_port, delay=0.9) as proxy:
        stack = make_stack("sqlite+redis", redis_url=f"redis://127.0.0.1:{proxy.port}/15", redis_timeout=1.0)
        for text in ("活动", "帮助", "楼下垃圾没人清理"):
            started = time.monotonic()
            resp = stack.client().post_fields(text_fields("o_slow", text))
            assert resp.status_code == 200 and time.monotonic() - started < 5.0
            assert parse_reply(resp.text)["MsgType"] == "text"


@pytest.mark.storage(*DATABASES)
def test_ticket_numbers_stay_unique_and_gap_free_under_concurrent_submissions(stack):
    from datetime import datetime, timezone

    from storage import demo as demo_data
    from storage import opinions, residents

    demo_data.load(stack.rt.db, datetime.now(timezone.utc), stack.rt.config.app.secret_key)
    ids = [residents.touch(stack.rt.db, f"o_{i}", stack.rt.now()).id for i in range(12)]
    rules = opinions.Rules.from_config(stack.rt.config.opinions)
    with ThreadPoolExecutor(6) as pool:
        views = list(pool.map(lambda rid: opinions.submit(stack.rt.db, rid, opinions.Draft(f"问题{rid}", None),
                                                          stack.rt.now(), stack.rt.tz, rules), ids))
    numbers = sorted(int(v.ticket_no[-3:]) for v in views)
    assert numbers == list(range(1, 13))


@pytest.fixture
def stack_with_router(make_stack):
    return lambda router: make_stack("sqlite+redis", router=router)


def test_a_store_busy_after_the_handler_still_gives_the_handlers_reply(make_stack):
    done = []
    router = Router("busy-after")

    @router.fallback
    def handle(ctx):
        path = ctx.rt.config.database.url.removeprefix("sqlite:///")
        blocker = sqlite3.connect(path, timeout=0.1, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")  # another writer, outside nanhu's queue, holds SQLite past the turn

        def let_go():
            blocker.execute("ROLLBACK")
            blocker.close()
        threading.Timer(1.5, let_go).start()
        done.append(1)  # the handler's work is committed
        return Text("已办好")

    stack = make_stack("sqlite+sqlkv", router=router, database_timeout=0.3, app_reply_deadline=3.0)
    reply = stack.client().say("o_busy", "帮我办")
    time.sleep(1.6)
    assert done == [1]
    assert reply["Content"] == "已办好"  # not keeping it for retries is logged; the resident still gets it


def test_a_handler_that_changed_the_resident_and_then_failed_leaves_no_stale_profile(make_stack):
    from storage import residents
    from storage.models import Community

    router = Router("stale")

    @router.fallback
    def handle(ctx):
        if ctx.message.text == "搬家":
            residents.set_community(ctx.rt.db, ctx.resident.id, community_id, "test")  # committed
            raise RuntimeError("a later step fails")
        return Text(f"community={ctx.resident.community_id}")

    stack = make_stack("sqlite+redis", router=router)
    with stack.rt.db.transaction() as s:
        community = Community(code="c-moved", name="新社区")
        s.add(community)
        s.flush()
        community_id = community.id
    client = stack.client()
    assert client.say("o_mover", "你好")["Content"] == "community=None"
    assert client.say("o_mover", "你好")["Content"] == "community=None"  # from the cached profile
    assert client.say("o_mover", "搬家")["Content"] == APOLOGY
    assert client.say("o_mover", "你好")["Content"] == f"community={community_id}"
