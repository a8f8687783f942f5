"""Notices through the outbox: one delivery per recipient, sent once, WeChat's error codes obeyed,
nothing lost when Redis or a worker goes away. Real Redis, real databases, the WeChat stand-in."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import runtime
from jobs import delivery, outbox
from storage import notices, residents
from storage.db import Database
from storage.models import Delivery, Resident
from storage.notices import Audience
from tests.conftest import DATABASES, run_jobs


def _residents(rt, n: int, interacted: bool = False, prefix: str = "o_r") -> list[str]:
    openids = [f"{prefix}{i}" for i in range(n)]
    for openid in openids:
        residents.subscribe(rt.db, openid, rt.now())
    if not interacted:  # outside the 48-hour window: template messages
        with rt.db.transaction() as s:
            for r in s.scalars(select(Resident).where(Resident.openid.in_(openids))):
                r.last_interaction_at = rt.now() - timedelta(days=3)
    return openids




def _unqueued(rt, title: str = "通知", body: str = "内容") -> int:
    """An announcement written but not queued after its commit: the test plays the relay and the workers."""
    plain = Database(rt.config.database.url, rt.config.database.timeout)  # no after-commit relay on it
    try:
        return notices.announce(plain, title, body, Audience("everyone"), "staff:admin", rt.now())
    finally:
        plain.dispose()


EVERYONE = Audience("everyone")


def _announce(rt, title="停水通知", body="明天上午9点至12点停水。", audience=EVERYONE) -> int:
    notice_id = notices.announce(rt.db, title, body, audience, "staff:admin", rt.now())
    with runtime.use(rt):
        outbox.relay(rt.db, rt.jobs, rt.config.notices.batch_size, rt.now, notice_id)
    return notice_id


@pytest.mark.storage
def test_an_announcement_reaches_every_follower_once_and_the_report_says_so(stack, wechat_api):
    openids = _residents(stack.rt, 5)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    for openid in openids:
        sent = wechat_api.messages(openid)
        assert len(sent) == 1 and sent[0]["kind"] == "template"
        assert sent[0]["body"]["data"]["title"]["value"] == "停水通知"
    report = notices.report(stack.rt.db, notice_id)
    assert (report.recipients, report.sent, report.pending, report.failed) == (5, 5, 0, {})


def test_a_resident_who_wrote_recently_gets_a_customer_service_message(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    (openid,) = _residents(stack.rt, 1, interacted=True, prefix="o_recent")
    _announce(stack.rt)
    run_jobs(stack.rt)
    (sent,) = wechat_api.messages(openid)
    assert sent["kind"] == "custom" and "停水通知" in sent["content"]


def test_a_delivery_job_run_twice_sends_once(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    openids = _residents(stack.rt, 3)
    notice_id = _unqueued(stack.rt)
    ids = notices.due(stack.rt.db, stack.rt.now(), notice_id)
    with runtime.use(stack.rt):
        first = delivery.deliver(ids)
        second = delivery.deliver(ids)
    assert first == {"sent": 3} and second == {}
    assert all(len(wechat_api.messages(o)) == 1 for o in openids)


def test_the_outbox_row_is_written_with_the_notice_or_not_at_all(make_stack):
    stack = make_stack("sqlite+redis")
    with pytest.raises(notices.AnnouncementRejected):
        notices.announce(stack.rt.db, "", "正文", Audience("everyone"), "staff:admin", stack.rt.now())
    _residents(stack.rt, 2)
    with pytest.raises(RuntimeError):
        with stack.rt.db.transaction() as s:  # the change that causes a notice fails after writing it
            notices.notify(s, "opinion_update", "进展", "已受理", [(1, "o_r0")], "system", stack.rt.now())
            raise RuntimeError("the rest of the change failed")
    with stack.rt.db.transaction() as s:
        assert s.scalars(select(Delivery)).all() == []


@pytest.mark.parametrize("errcode", [43004, 40003, 43101])
def test_a_resident_who_cannot_receive_is_marked_and_not_retried(make_stack, wechat_api, errcode):
    stack = make_stack("sqlite+redis")
    (openid,) = _residents(stack.rt, 1, prefix=f"o_gone{errcode}")
    wechat_api.control("fail", path="message/template/send", errcode=errcode, times=1)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    assert wechat_api.messages(openid) == []
    report = notices.report(stack.rt.db, notice_id)
    assert report.failed == {str(errcode): 1} and report.pending == 0
    if errcode == 43004:
        assert not residents.is_subscribed(stack.rt.db, openid)


@pytest.mark.parametrize("errcode", [45009, 45011, -1])
def test_a_passing_failure_is_retried_later_and_then_delivered(make_stack, wechat_api, errcode):
    stack = make_stack("sqlite+redis")
    (openid,) = _residents(stack.rt, 1, prefix=f"o_later{errcode}")
    wechat_api.control("fail", path="message/template/send", errcode=errcode, times=1)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    with stack.rt.db.transaction() as s:
        row = s.scalar(select(Delivery).where(Delivery.notice_id == notice_id))
        assert (row.state, row.errcode, row.attempts) == ("pending", errcode, 1)
        assert row.next_attempt_at > stack.rt.now() - timedelta(seconds=1)  # not before its backoff
        row.next_attempt_at = stack.rt.now()  # its backoff has passed
        retry = [row.id]
    with runtime.use(stack.rt):
        delivery.deliver(retry)  # what the retry scheduled with enqueue_in runs
    assert len(wechat_api.messages(openid)) == 1
    assert notices.report(stack.rt.db, notice_id).sent == 1


def test_an_http_error_and_a_timeout_are_passing_failures(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", wechat_http_timeout=0.3)
    _residents(stack.rt, 2, prefix="o_flaky")
    wechat_api.control("fail", path="message/template/send", http=502, times=1)
    wechat_api.control("stall", path="message/template/send", seconds=1.0, times=2)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    with stack.rt.db.transaction() as s:
        states = [r.state for r in s.scalars(select(Delivery).where(Delivery.notice_id == notice_id))]
    assert states == ["pending", "pending"]


def test_failures_end_after_max_attempts_and_keep_their_errcode(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_max_attempts=2)
    _residents(stack.rt, 1, prefix="o_never")
    wechat_api.control("fail", path="message/template/send", errcode=-1, times=10)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    for _ in range(3):
        with stack.rt.db.transaction() as s:
            retry = []
            for row in s.scalars(select(Delivery).where(Delivery.state == "pending")):
                row.next_attempt_at = stack.rt.now()  # its backoff has passed
                retry.append(row.id)
        with runtime.use(stack.rt):
            delivery.deliver(retry)
    report = notices.report(stack.rt.db, notice_id)
    assert report.failed == {"-1": 1} and report.pending == 0


def test_outside_the_window_45015_falls_back_to_a_template_message(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    (openid,) = _residents(stack.rt, 1, interacted=True, prefix="o_window")
    wechat_api.control("fail", path="message/custom/send", errcode=45015, times=1)
    _announce(stack.rt)
    run_jobs(stack.rt)
    (sent,) = wechat_api.messages(openid)
    assert sent["kind"] == "template"


def test_an_expired_token_is_refreshed_once_and_the_notice_still_goes_out(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    openids = _residents(stack.rt, 3, prefix="o_tok")
    _announce(stack.rt, title="第一条")
    run_jobs(stack.rt)
    wechat_api.control("expire-tokens")
    _announce(stack.rt, title="第二条")
    run_jobs(stack.rt)
    assert all(len(wechat_api.messages(o)) == 2 for o in openids)
    assert wechat_api.token_fetches() == 2


def test_a_notice_created_while_redis_is_down_goes_out_once_redis_is_back(make_stack, wechat_api, redis_url):
    down = make_stack("sqlite+redis", redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2)
    openids = _residents(down.rt, 2, prefix="o_outage")
    notice_id = notices.announce(down.rt.db, "通知", "Redis 故障期间写下的通知", Audience("everyone"), "staff:admin",
                                 down.rt.now())
    with runtime.use(down.rt):
        # nothing could be queued, nothing was lost
        assert outbox.relay(down.rt.db, down.rt.jobs, 100, down.rt.now, notice_id) == 0
    back = make_stack("sqlite+redis")  # same database, Redis reachable again
    with runtime.use(back.rt):
        delivery.sweep()
    run_jobs(back.rt)
    assert all(len(wechat_api.messages(o)) == 1 for o in openids)


def test_a_template_delivery_stranded_by_a_dead_worker_is_resent_and_arrives_once(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_sending_timeout=10)
    (openid,) = _residents(stack.rt, 1, prefix="o_stranded")
    notice_id = _unqueued(stack.rt)
    ids = notices.due(stack.rt.db, stack.rt.now(), notice_id)
    (task,) = notices.claim(stack.rt.db, ids, stack.rt.now(), timedelta(hours=48))
    with runtime.use(stack.rt):
        delivery._send_template(stack.rt, task)   # the worker sent it ... and died before recording it
    with stack.rt.db.transaction() as s:  # ... a while ago
        s.get(Delivery, task.id).updated_at = stack.rt.now() - timedelta(seconds=11)
    assert notices.recover_stale(stack.rt.db, stack.rt.now(), timedelta(seconds=10)) == ids
    with runtime.use(stack.rt):
        delivery.deliver(ids)
    assert len(wechat_api.messages(openid)) == 1   # WeChat dropped the resend by its client_msg_id
    assert notices.report(stack.rt.db, notice_id).sent == 1


def test_a_customer_service_delivery_stranded_by_a_dead_worker_is_reported_not_resent(make_stack):
    stack = make_stack("sqlite+redis")
    _residents(stack.rt, 1, interacted=True, prefix="o_cs_stranded")
    notice_id = _unqueued(stack.rt)
    ids = notices.due(stack.rt.db, stack.rt.now(), notice_id)
    tasks = notices.claim(stack.rt.db, ids, stack.rt.now(), timedelta(hours=48))
    assert notices.start_sending(stack.rt.db, tasks, stack.rt.now())  # the HTTP call began ... then the crash
    assert notices.recover_stale(stack.rt.db, stack.rt.now() + timedelta(minutes=5), timedelta(seconds=120)) == []
    assert notices.report(stack.rt.db, notice_id).failed == {notices.UNKNOWN_OUTCOME: 1}


def test_audiences_count_only_followers_of_that_audience(demo):
    rt = demo.rt
    _residents(rt, 3, prefix="o_all")
    assert notices.count_audience(rt.db, Audience("everyone")) == 3
    assert notices.count_audience(rt.db, Audience("party")) == 0
    demo.client().say("o_all0", "绑定 836215")
    assert notices.count_audience(rt.db, Audience("party")) == 1
    residents.unsubscribe(rt.db, "o_all1", rt.now())
    assert notices.count_audience(rt.db, Audience("everyone")) == 2


def test_wechats_template_job_report_updates_the_delivery_report(stack, wechat_api):
    from devtools.simulator import event_fields

    openids = _residents(stack.rt, 2, prefix="o_job")
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    blocked = wechat_api.messages(openids[1])[0]["msgid"]
    reply = stack.client().post_fields(event_fields("gh_nanhu_system", "TEMPLATESENDJOBFINISH", None,
                                                    MsgID=blocked, Status="failed:user block"))
    assert reply.text == "success"
    report = notices.report(stack.rt.db, notice_id)
    assert report.sent == 1 and report.failed == {"failed:user block": 1}


def test_sends_are_paced_to_the_configured_rate_across_workers(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_rate_per_second=20.0)
    _residents(stack.rt, 40, prefix="o_paced")
    _announce(stack.rt)
    run_jobs(stack.rt)
    times = sorted(m["time"] for m in wechat_api.messages())
    assert len(times) == 40
    # a bucket of 20 per second holds at most 20 at once: 40 sends need at least a second
    for i in range(len(times) - 25):
        assert times[i + 25] - times[i] >= 0.2, "more than the bucket allows in a fifth of a second"
    assert times[-1] - times[0] >= 0.9


def test_a_resident_gets_at_most_the_daily_cap_of_announcements(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_announcement_daily_cap=2)
    (openid,) = _residents(stack.rt, 1, prefix="o_capped")
    ids = [_announce(stack.rt, title=f"公告{i}") for i in range(3)]
    for _ in ids:
        run_jobs(stack.rt)
    assert len(wechat_api.messages(openid)) == 2
    third = notices.report(stack.rt.db, ids[2])
    assert third.skipped == 1 and third.sent == 0


def test_a_large_announcement_goes_by_mass_send_and_wechats_job_report_is_kept(make_stack, wechat_api):
    import requests

    from devtools.simulator import event_fields

    stack = make_stack("sqlite+redis", notices_mass_send_threshold=3)
    openids = _residents(stack.rt, 5, prefix="o_mass")
    requests.post(wechat_api.url + "/_fake/subscribe", json={"openids": openids}, timeout=5)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    sent = [m for o in openids for m in wechat_api.messages(o)]
    assert len(sent) == 5 and {m["kind"] for m in sent} == {"mass"}
    msg_id = sent[0]["msgid"]
    stack.client().post_fields(event_fields("gh_nanhu_system", "MASSSENDJOBFINISH", None, MsgID=msg_id,
                                            Status="send success", TotalCount=5, FilterCount=5, SentCount=5,
                                            ErrorCount=0))
    report = notices.report(stack.rt.db, notice_id)
    assert report.sent == 5 and report.mass_jobs[str(msg_id)]["SentCount"] == 5


def test_a_mass_batch_resent_after_a_crash_is_not_sent_twice(make_stack, wechat_api):
    import requests

    stack = make_stack("sqlite+redis", notices_mass_send_threshold=2)
    openids = _residents(stack.rt, 3, prefix="o_mass_crash")
    requests.post(wechat_api.url + "/_fake/subscribe", json={"openids": openids}, timeout=5)
    notice_id = _unqueued(stack.rt)
    ids = notices.due(stack.rt.db, stack.rt.now(), notice_id)
    tasks = notices.claim(stack.rt.db, ids, stack.rt.now(), timedelta(hours=48), mass_threshold=2)
    with runtime.use(stack.rt):  # the worker sends the batch ... and dies before recording it
        stack.rt.wechat.post("message/mass/send", data={"touser": openids, "msgtype": "text",
                                                        "text": {"content": "通知"}, "clientmsgid": tasks[0].batch_key})
    with stack.rt.db.transaction() as s:
        for row in s.scalars(select(Delivery).where(Delivery.notice_id == notice_id)):
            row.updated_at = stack.rt.now() - timedelta(minutes=10)
    with runtime.use(stack.rt):
        delivery.sweep()
    run_jobs(stack.rt)
    assert all(len(wechat_api.messages(o)) == 1 for o in openids)
    assert notices.report(stack.rt.db, notice_id).sent == 3


def _subscribe_at_stand_in(wechat_api, openids):
    import requests
    requests.post(wechat_api.url + "/_fake/subscribe", json={"openids": openids}, timeout=5)


def test_two_large_announcements_swept_together_stay_two_mass_sends(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_mass_send_threshold=2)
    openids = _residents(stack.rt, 3, prefix="o_two")
    _subscribe_at_stand_in(wechat_api, openids)
    for title in ("公告A", "公告B"):  # created while nothing was queued, then swept in one batch
        notices.announce(stack.rt.db, title, f"{title}内容", Audience("everyone"), "staff:admin", stack.rt.now())
    with runtime.use(stack.rt):
        delivery.sweep()
    run_jobs(stack.rt)
    for openid in openids:
        assert sorted(m["body"]["text"]["content"].split("】")[0] for m in wechat_api.messages(openid)) == \
            ["【公告A", "【公告B"]


def test_a_mass_batch_is_claimed_whole_even_when_a_job_names_part_of_it(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_mass_send_threshold=2)
    openids = _residents(stack.rt, 4, prefix="o_whole")
    _subscribe_at_stand_in(wechat_api, openids)
    notice_id = _unqueued(stack.rt)
    ids = notices.due(stack.rt.db, stack.rt.now(), notice_id)
    wechat_api.control("fail", path="message/mass/send", errcode=-1, times=1)
    with runtime.use(stack.rt):
        delivery.deliver(ids)  # the batch fails for a passing reason and keeps its clientmsgid
    with stack.rt.db.transaction() as s:
        for row in s.scalars(select(Delivery).where(Delivery.notice_id == notice_id)):
            row.next_attempt_at = stack.rt.now()
    with runtime.use(stack.rt):
        delivery.deliver(ids[:2])  # a job that names only half of the batch
    assert all(len(wechat_api.messages(o)) == 1 for o in openids)
    assert notices.report(stack.rt.db, notice_id).sent == 4


def test_a_slow_worker_overtaken_by_recovery_does_not_send_again(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_sending_timeout=10)
    (openid,) = _residents(stack.rt, 1, prefix="o_slow_worker")
    notice_id = _unqueued(stack.rt)
    ids = notices.due(stack.rt.db, stack.rt.now(), notice_id)
    (slow_task,) = notices.claim(stack.rt.db, ids, stack.rt.now(), timedelta(hours=48))  # worker A claims ...
    with stack.rt.db.transaction() as s:  # ... and waits so long for a rate-limit token that it looks dead
        s.get(Delivery, slow_task.id).updated_at = stack.rt.now() - timedelta(seconds=11)
    with runtime.use(stack.rt):
        delivery.sweep()
    run_jobs(stack.rt)  # worker B sends it
    with runtime.use(stack.rt):
        assert delivery._deliver_one(stack.rt, slow_task) == "taken over"  # worker A wakes up
    assert len(wechat_api.messages(openid)) == 1


def test_a_customer_service_message_that_timed_out_is_not_sent_again(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", wechat_http_timeout=0.3)
    (openid,) = _residents(stack.rt, 1, interacted=True, prefix="o_cs_timeout")
    wechat_api.control("stall", path="message/custom/send", seconds=0.6, times=1)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    import time
    time.sleep(0.5)  # the stalled call completes at the stand-in
    assert len(wechat_api.messages(openid)) == 1
    report = notices.report(stack.rt.db, notice_id)
    assert report.pending == 0 and list(report.failed) == [f"{notices.UNKNOWN_OUTCOME} (ReadTimeout)"]


def test_a_used_up_customer_service_quota_falls_back_to_a_template_message(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    (openid,) = _residents(stack.rt, 1, interacted=True, prefix="o_quota")
    wechat_api.control("fail", path="message/custom/send", errcode=45047, times=1)
    _announce(stack.rt)
    run_jobs(stack.rt)
    assert [m["kind"] for m in wechat_api.messages(openid)] == ["template"]


def test_a_resident_who_refuses_templates_is_marked_and_skipped_next_time(make_stack, wechat_api):
    from storage.models import Resident as R
    stack = make_stack("sqlite+redis")
    (openid,) = _residents(stack.rt, 1, prefix="o_refuses")
    wechat_api.control("fail", path="message/template/send", errcode=43101, times=1)
    _announce(stack.rt, title="第一条")
    run_jobs(stack.rt)
    with stack.rt.db.transaction() as s:
        assert s.scalar(select(R.refuses_templates).where(R.openid == openid)) is True
    second = _announce(stack.rt, title="第二条")
    run_jobs(stack.rt)
    assert wechat_api.messages(openid) == [] and notices.report(stack.rt.db, second).skipped == 1


def test_an_http_client_error_is_not_retried(make_stack, wechat_api):
    stack = make_stack("sqlite+redis")
    _residents(stack.rt, 1, prefix="o_4xx")
    wechat_api.control("fail", path="message/template/send", http=404, times=1)
    notice_id = _announce(stack.rt)
    run_jobs(stack.rt)
    report = notices.report(stack.rt.db, notice_id)
    assert report.pending == 0 and sum(report.failed.values()) == 1


def test_the_daily_cap_holds_when_several_announcements_go_out_together(make_stack, wechat_api):
    stack = make_stack("sqlite+redis", notices_announcement_daily_cap=2)
    (openid,) = _residents(stack.rt, 1, prefix="o_cap_batch")
    for i in range(4):
        notices.announce(stack.rt.db, f"公告{i}", "内容", Audience("everyone"), "staff:admin", stack.rt.now())
    with runtime.use(stack.rt):
        delivery.sweep()
    run_jobs(stack.rt)
    assert len(wechat_api.messages(openid)) == 2


def test_a_scheduled_announcement_goes_out_when_its_time_comes(make_stack, wechat_api):
    from jobs import sweeper

    stack = make_stack("sqlite+redis", notices_sweep_interval=1)
    (openid,) = _residents(stack.rt, 1, prefix="o_later_on")
    notice_id = notices.announce(stack.rt.db, "明早停水", "内容", Audience("everyone"), "staff:admin",
                                 stack.rt.now(), send_at=stack.rt.now() + timedelta(seconds=60))
    assert sweeper.sweep_once(stack.rt)
    run_jobs(stack.rt)
    assert wechat_api.messages(openid) == []  # not yet
    with stack.rt.db.transaction() as s:
        for row in s.scalars(select(Delivery).where(Delivery.notice_id == notice_id)):
            row.next_attempt_at = stack.rt.now()  # the time has come
    stack.rt.kv.delete("sweeper")
    assert sweeper.sweep_once(stack.rt)
    run_jobs(stack.rt)
    assert len(wechat_api.messages(openid)) == 1


@pytest.mark.storage
def test_the_daily_cap_holds_when_workers_claim_at_once(stack, wechat_api):
    from concurrent.futures import ThreadPoolExecutor

    rt = stack.rt
    (openid,) = _residents(rt, 1, prefix="o_cap_race")
    ids = []
    for i in range(6):
        notice_id = _unqueued(rt, f"公告{i}")
        ids += notices.due(rt.db, rt.now(), notice_id)

    def claim(part):
        return notices.claim(rt.db, part, rt.now(), timedelta(hours=48), daily_cap=2)

    with ThreadPoolExecutor(3) as pool:
        claimed = [t for tasks in pool.map(claim, [ids[0:2], ids[2:4], ids[4:6]]) for t in tasks]
    assert len(claimed) == 2


@pytest.mark.storage(*DATABASES)
def test_the_same_announcement_submitted_three_times_at_once_is_sent_once(stack, wechat_api):
    import threading

    from storage.models import Notice

    rt = stack.rt
    _residents(rt, 4, prefix="o_twice")
    made: list[int] = []

    def submit() -> None:
        made.append(notices.announce(rt.db, "停水通知", "明天9点至12点停水。", EVERYONE, "staff:admin", rt.now()))

    threads = [threading.Thread(target=submit) for _ in range(2)]  # two concurrent POSTs...
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submit()  # ...and a resubmit
    assert len(set(made)) == 1
    with rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Notice).where(Notice.kind == "announcement")) == 1
        assert s.scalar(select(func.count()).select_from(Delivery)) == 4
    other = notices.announce(rt.db, "停水通知", "改为明天下午停水。", EVERYONE, "staff:admin", rt.now())
    assert other != made[0]  # a different text is another announcement
