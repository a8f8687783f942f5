"""A worker killed with SIGKILL in the middle of a broadcast: after a new worker runs, every
recipient has exactly one message at the WeChat stand-in."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot import runtime
from jobs import delivery, outbox
from storage import notices, residents
from storage.models import Delivery, Resident
from storage.notices import Audience
from tests.conftest import ROOT

pytestmark = [pytest.mark.fork, pytest.mark.slow]


RECIPIENTS = 300
WORKER_LOG = open(os.environ.get("NANHU_TEST_WORKER_LOG", os.devnull), "a")


def _worker(stack, *args) -> subprocess.Popen:
    cfg = stack.rt.config
    env = {**os.environ, "NANHU_CONFIG": str(ROOT / "config.example.toml"), "NANHU_DATABASE_URL": cfg.database.url,
           "NANHU_REDIS_URL": cfg.redis.url, "NANHU_WECHAT_API_BASE_URL": cfg.wechat.api_base_url,
           "NANHU_WECHAT_APP_ID": cfg.wechat.app_id, "NANHU_WECHAT_APP_SECRET": cfg.wechat.app_secret,
           "NANHU_APP_LEXICON_LOG": ""}
    # its own session, so that the kill takes RQ's work horse (a child process) down with it
    return subprocess.Popen([sys.executable, "-m", "cli", "worker", *args], env=env, cwd=ROOT,
                            stdout=WORKER_LOG, stderr=WORKER_LOG, start_new_session=True)


def _followers_outside_the_window(rt, openids: list[str]) -> None:
    """Followers who have not written lately, so they get template messages, which carry client_msg_id."""
    for openid in openids:
        residents.subscribe(rt.db, openid, rt.now())
    with rt.db.transaction() as s:
        s.execute(update(Resident).values(last_interaction_at=rt.now() - timedelta(days=3)))


def _let_time_pass(rt) -> None:
    """What a dead worker left in `sending` is now stale, and jobs taken from the queue but never
    started are overdue, so the sweeper queues their deliveries again."""
    n = rt.config.notices
    with rt.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.state == "sending")
                  .values(updated_at=rt.now() - timedelta(seconds=n.sending_timeout + 1)))
        s.execute(update(Delivery).where(Delivery.state.in_(("pending", "sending")))
                  .values(enqueued_at=rt.now() - timedelta(seconds=2 * n.sweep_interval + 1)))


def _messages_per_resident(wechat_api) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in wechat_api.messages():
        counts[m["openid"]] = counts.get(m["openid"], 0) + 1
    return counts


def test_a_broadcast_survives_a_worker_killed_mid_send(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    rt = stack.rt
    openids = [f"o_crowd{i}" for i in range(RECIPIENTS)]
    _followers_outside_the_window(rt, openids)
    wechat_api.control("stall", path="message/template/send", seconds=0.02, times=RECIPIENTS * 2)
    with outbox.counting() as tally:  # the deliveries are queued as the announcement commits
        notice_id = notices.announce(rt.db, "台风预警", "今晚有台风，请收好阳台物品。", Audience("everyone"),
                                     "staff:admin", rt.now())
    assert tally.queued == RECIPIENTS

    first = _worker(stack)
    give_up = time.monotonic() + 30
    while len(wechat_api.messages()) < RECIPIENTS // 3 and time.monotonic() < give_up:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    sent_before = len(wechat_api.messages())
    assert 0 < sent_before < RECIPIENTS, "the kill must land in the middle of the broadcast"

    _let_time_pass(rt)
    with runtime.use(rt):
        delivery.sweep()
    second = _worker(stack, "--burst")
    assert second.wait(timeout=60) == 0

    assert _messages_per_resident(wechat_api) == {openid: 1 for openid in openids}
    report = notices.report(rt.db, notice_id)
    assert (report.sent, report.pending, report.failed) == (RECIPIENTS, 0, {})


def test_a_broadcast_survives_redis_dying_and_losing_its_queue(make_stack, wechat_api, tmp_path):
    import shutil

    import pytest
    import redis as redis_lib

    from tests.conftest import free_port

    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("needs redis-server to start and kill a private Redis")
    port = free_port()

    def start_redis() -> subprocess.Popen:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        for _ in range(50):
            try:
                redis_lib.Redis(port=port).ping()
                return proc
            except redis_lib.RedisError:
                time.sleep(0.1)
        raise RuntimeError("private redis-server did not start")

    server = start_redis()
    try:
        stack = make_stack("sqlite+redis", redis_url=f"redis://127.0.0.1:{port}/0")
        rt = stack.rt
        count = 200
        openids = [f"o_outage{i}" for i in range(count)]
        _followers_outside_the_window(rt, openids)
        wechat_api.control("stall", path="message/template/send", seconds=0.02, times=count * 2)
        with outbox.counting() as tally:  # the deliveries are queued as the announcement commits
            notices.announce(rt.db, "停电通知", "今晚检修停电。", Audience("everyone"), "staff:admin", rt.now())
        assert tally.queued == count
        worker = _worker(stack)
        give_up = time.monotonic() + 30
        while len(wechat_api.messages()) < count // 4 and time.monotonic() < give_up:
            time.sleep(0.05)
        server.kill()  # Redis dies; it keeps nothing on disk, so the queued jobs are gone
        server.wait()
        time.sleep(0.5)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        assert len(wechat_api.messages()) < count

        server = start_redis()  # back, empty
        _let_time_pass(rt)
        with runtime.use(rt):
            delivery.sweep()
        assert _worker(stack, "--burst").wait(timeout=60) == 0
        assert _messages_per_resident(wechat_api) == {openid: 1 for openid in openids}
    finally:
        server.kill()
        server.wait()


def test_an_idle_worker_asked_to_stop_stops_rather_than_waiting_for_redis(make_stack):
    from rq import Worker

    stack = make_stack("sqlite+redis")
    worker = _worker(stack)
    try:
        for _ in range(100):  # until it has registered with Redis
            if Worker.all(connection=stack.rt.redis):
                break
            time.sleep(0.1)
        assert Worker.all(connection=stack.rt.redis), "the worker never started"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) is not None
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
