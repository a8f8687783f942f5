"""Jobs: a customer-service message goes out through wechatpy to the stand-in, via RQ or in-process,
with one access token shared by every process."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from bot import runtime
from jobs.sending import send_text
from storage import migrate, notices, residents
from storage.db import Database
from storage.models import Notice


def _follower(rt, openid: str) -> None:
    residents.subscribe(rt.db, openid, rt.now())


def test_an_rq_job_sends_a_customer_service_text(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    _follower(stack.rt, "o_alice")
    stack.rt.jobs.enqueue(send_text, "o_alice", "您报名的活动明天开始")
    assert wechat_api.messages("o_alice") == []          # queued, not sent by the web process
    with runtime.use(stack.rt):
        SimpleWorker([Queue(stack.rt.config.redis.queue, connection=stack.rt.redis)],
                     connection=stack.rt.redis).work(burst=True)
    sent = wechat_api.messages("o_alice")
    assert [m["content"] for m in sent] == ["您报名的活动明天开始"]


def test_without_redis_jobs_run_inside_the_process(make_stack, wechat_api):
    stack = make_stack("sqlite+sqlkv")
    assert stack.rt.jobs.kind == "in-process"
    _follower(stack.rt, "o_bob")
    stack.rt.jobs.enqueue(send_text, "o_bob", "您好")
    assert [m["content"] for m in wechat_api.wait_messages("o_bob")] == ["您好"]


def test_every_process_shares_one_access_token(make_stack, wechat_api):
    first, second = make_stack("sqlite+redis"), make_stack("sqlite+redis")
    for stack, openid in ((first, "o_a"), (second, "o_b"), (first, "o_c")):
        _follower(stack.rt, openid)
        with runtime.use(stack.rt):
            assert send_text(openid, "通知") == "sent"
    assert wechat_api.token_fetches() == 1


def test_an_expired_token_is_refreshed_and_the_message_still_goes_out(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    _follower(stack.rt, "o_dan")
    with runtime.use(stack.rt):
        send_text("o_dan", "第一条")
        wechat_api.control("expire-tokens")
        send_text("o_dan", "第二条")
    assert [m["content"] for m in wechat_api.messages("o_dan")] == ["第一条", "第二条"]


def test_wechat_api_calls_have_a_timeout(make_stack, wechat_api):
    import pytest

    from bot.wechat.client import WeChatUnreachable

    stack = make_stack("sqlite+redis", wechat_http_timeout=0.3)
    _follower(stack.rt, "o_eve")
    with runtime.use(stack.rt):
        send_text("o_eve", "先拿到令牌")
        wechat_api.control("stall", path="message/custom/send", seconds=2, times=1)
        with pytest.raises(WeChatUnreachable) as err:
            send_text("o_eve", "这条会超时")
    assert err.value.cause == "ReadTimeout" and "access_token" not in str(err.value)


def test_an_unreachable_api_is_reported_without_the_secret_or_token(make_stack):
    import pytest

    from bot.wechat.client import WeChatUnreachable

    stack = make_stack("sqlite+redis", wechat_api_base_url="http://127.0.0.1:1/cgi-bin/")
    _follower(stack.rt, "o_gus")
    with runtime.use(stack.rt):
        with pytest.raises(WeChatUnreachable) as err:
            send_text("o_gus", "发不出去")
    assert "secret" not in str(err.value) and stack.rt.config.wechat.app_secret not in str(err.value)


def test_a_token_error_refetches_once_and_gives_up_if_it_persists(make_stack, wechat_api):
    import pytest
    from wechatpy.exceptions import WeChatClientException

    stack = make_stack("sqlite+redis")
    _follower(stack.rt, "o_fay")
    with runtime.use(stack.rt):
        send_text("o_fay", "拿到令牌")
        wechat_api.control("fail", path="message/custom/send", errcode=40001, times=5)
        with pytest.raises(WeChatClientException) as err:
            send_text("o_fay", "令牌一直无效")
    assert err.value.errcode == 40001
    assert wechat_api.token_fetches() == 2  # the first fetch, and exactly one refetch


def test_many_workers_seeing_an_expired_token_at_once_fetch_one_new_token(make_stack, wechat_api):
    from concurrent.futures import ThreadPoolExecutor

    stacks = [make_stack("sqlite+redis") for _ in range(3)]  # three processes' clients, one Redis
    openids = [f"o_w{i}" for i in range(6)]
    for openid in openids:
        _follower(stacks[0].rt, openid)
    with runtime.use(stacks[0].rt):
        send_text(openids[0], "先拿到令牌")
    wechat_api.control("expire-tokens")

    def send(i):
        rt = stacks[i % 3].rt
        with runtime.use(rt):
            return send_text(openids[i], "令牌过期后")

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(send, range(6))) == ["sent"] * 6
    assert wechat_api.token_fetches() == 2  # the first token, and one replacement for all six senders


def test_a_job_named_by_its_dotted_path_runs_in_process_too(make_stack, wechat_api):
    stack = make_stack("sqlite+sqlkv")
    _follower(stack.rt, "o_named")
    stack.rt.jobs.enqueue("jobs.sending.send_text", "o_named", "您好")
    assert [m["content"] for m in wechat_api.wait_messages("o_named")] == ["您好"]


def test_the_notices_a_transaction_wrote_reach_the_after_commit_callbacks_once_it_commits(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'hook.db'}")
    migrate.upgrade(db, "head")
    seen: list[tuple[int, ...]] = []
    db.on_commit(seen.append)
    now = datetime.now(timezone.utc)
    with db.transaction() as s:
        first = notices.notify(s, "announcement", "通知", "内容", [], "staff:admin", now)
        second = notices.notify(s, "announcement", "通知", "内容", [], "staff:admin", now)
        notices.notify(s, "announcement", "明天", "内容", [], "staff:admin", now, send_at=now + timedelta(hours=1))
        assert seen == []                                    # nothing before the commit
    assert seen == [(first, second)]                         # the scheduled one waits for the sweeper
    with pytest.raises(RuntimeError), db.transaction() as s:
        notices.notify(s, "announcement", "通知", "内容", [], "staff:admin", now)
        raise RuntimeError("rolled back")
    with db.transaction(read_only=True) as s:
        s.execute(select(Notice.id))
    assert seen == [(first, second)]                         # neither a rollback nor a transaction without notices
    db.dispose()


def test_a_job_queued_after_the_in_process_pool_has_shut_down_is_refused_as_queue_unavailable():
    from jobs.queue import InProcessJobs, QueueUnavailable

    jobs = InProcessJobs(lambda: __import__("contextlib").nullcontext())
    jobs.enqueue(print, "warm-up")
    jobs.shutdown()
    with pytest.raises(QueueUnavailable):
        jobs.enqueue(print, "too late")


def test_the_worker_starts_again_after_redis_drops_instead_of_exiting():
    import redis

    from cli.ops import keep_working

    runs, pings, pauses = [], iter([redis.ConnectionError("down"), redis.ConnectionError("down"), True]), []

    def work() -> bool:  # RQ's loop: first it quits on a lost connection, then it is asked to stop
        runs.append(len(runs))
        if len(runs) == 1:
            return False
        return True

    def ping():
        answer = next(pings)
        if isinstance(answer, Exception):
            raise answer

    keep_working(work, ping, sleep=pauses.append)
    assert runs == [0, 1] and pauses == [1.0, 2.0, 4.0]


def test_a_worker_asked_to_stop_stops():
    from cli.ops import keep_working

    pauses = []
    keep_working(lambda: True, lambda: None, sleep=pauses.append)
    assert pauses == []
