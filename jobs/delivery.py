"""Delivering notices: `deliver` sends the batches the relay (`jobs.outbox`) queued, the sweeper
picks up what a dead worker or a Redis outage left behind.

WeChat's answers decide what happens next:
- 45015 / 45047 on a customer-service message (outside the 48-hour window, or its quota used up):
  the template message instead.
- 45009, 45011, -1, HTTP 5xx and timeouts: tried again later, with exponential backoff and full
  jitter, up to notices.max_attempts. A customer-service message that timed out after it was sent
  is not tried again (it has no dedup key; WeChat has probably delivered it): outcome unknown.
- 43004, 40003, 43101: the resident cannot receive it; no retry, and the resident is marked.
- 40001 / 42001 are handled inside the client (one token refetch for all workers).
Every failure keeps its errcode.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

from wechatpy.exceptions import WeChatClientException

from bot import runtime
from bot.runtime import Runtime
from bot.wechat.client import WeChatUnreachable
from jobs import outbox
from jobs.queue import QueueUnavailable
from storage import notices, residents
from storage.notices import DeliveryTask, Outcome

log = logging.getLogger("nanhu.delivery")

TRANSIENT = {45009, 45011, -1}
OUT_OF_WINDOW = {45015, 45047}       # window closed / its quota used up
MASS_ALREADY_SENT = 45065            # "clientmsgid exist"
NEVER_SENT = {"ConnectionError", "ConnectTimeout", "NewConnectionError"}  # the request did not leave
CS_TEXT_LIMIT = 600  # characters; longer notices are cut with a pointer to the rest


def sweep() -> int:
    """Recover deliveries stranded in `sending`, then queue everything due that is not queued already."""
    rt = runtime.current()
    notices.recover_stale(rt.db, rt.now(), timedelta(seconds=rt.config.notices.sending_timeout))
    return outbox.relay(rt.db, rt.jobs, rt.config.notices.batch_size, rt.now,
                        requeue_after=timedelta(seconds=2 * rt.config.notices.sweep_interval))


def deliver(delivery_ids: list[int]) -> dict[str, int]:
    """Send a batch. Safe to run twice: only deliveries this run takes from pending are sent."""
    rt = runtime.current()
    n = rt.config.notices
    tasks = notices.claim(rt.db, delivery_ids, rt.now(), timedelta(hours=n.cs_window_hours),
                          n.mass_send_threshold, n.announcement_daily_cap)
    tally: dict[str, int] = {}
    batches: dict[str, list[DeliveryTask]] = {}
    for task in tasks:
        if task.channel == "mass":
            batches.setdefault(task.batch_key, []).append(task)
    for batch in batches.values():
        state = _deliver_mass(rt, batch)
        tally[state] = tally.get(state, 0) + len(batch)
    singles = [t for t in tasks if t.channel != "mass"]
    # the time goes in waiting for WeChat's answers, so several sends are in flight at once
    with ThreadPoolExecutor(min(n.send_concurrency, max(1, len(singles)))) as pool:
        for state in pool.map(lambda task: _deliver_one(rt, task), singles):
            tally[state] = tally.get(state, 0) + 1
    return tally


def _deliver_one(rt: Runtime, task: DeliveryTask) -> str:
    try:
        rt.send_bucket.take()
        if not notices.start_sending(rt.db, [task], rt.now()):
            return "taken over"  # recovered and claimed again while it waited: the other run sends it
        outcome = _send(rt, task)
    except Exception as exc:  # the store, the token lock or the database failed before any request left
        log.error("delivery %d not sent (%s): trying again later", task.id, type(exc).__name__)
        outcome = _failure(rt, task, task.channel, None, type(exc).__name__, retry=True)
    _record(rt, [task], outcome)
    return outcome.state


def _record(rt: Runtime, tasks: list[DeliveryTask], outcome: Outcome) -> None:
    notices.finish(rt.db, tasks, outcome, rt.now())
    if outcome.errcode in (43004, 40003):  # no longer a follower / not an openid of ours
        for task in tasks:
            residents.unsubscribe(rt.db, task.openid, rt.now())
    elif outcome.errcode == 43101:  # refuses template messages
        for task in tasks:
            residents.refuse_templates(rt.db, task.openid)
    if outcome.state == "retry":
        _retry_later(rt, [t.id for t in tasks], outcome)


def _deliver_mass(rt: Runtime, batch: list[DeliveryTask]) -> str:
    """One mass send to the batch's openid list, under the batch's clientmsgid."""
    first = batch[0]
    if len(batch) == 1:  # WeChat's openid-list send needs two openids at least
        return _deliver_one(rt, replace(first, channel="template"))
    try:
        rt.send_bucket.take()
        if not notices.start_sending(rt.db, batch, rt.now()):
            return "taken over"
        result = rt.wechat.post("message/mass/send", data={
            "touser": [t.openid for t in batch], "msgtype": "text", "text": {"content": _as_text(first)},
            "clientmsgid": first.batch_key, "send_ignore_reprint": 0})
        outcome = Outcome("sent", "mass", msgid=str(result.get("msg_id", "")))
    except WeChatClientException as exc:
        if exc.errcode == MASS_ALREADY_SENT:  # this very batch went out before a crash
            outcome = Outcome("sent", "mass", msgid=_previous_msg_id(exc))
        else:
            outcome = _failure(rt, first, "mass", exc.errcode, str(exc.errmsg or ""), retry=_transient(exc))
    except WeChatUnreachable as exc:
        outcome = _failure(rt, first, "mass", None, exc.cause or "unreachable", retry=True)
    except Exception as exc:
        log.error("mass batch %s not sent (%s): trying again later", first.batch_key, type(exc).__name__)
        outcome = _failure(rt, first, "mass", None, type(exc).__name__, retry=True)
    _record(rt, batch, outcome)
    return outcome.state


def _previous_msg_id(exc: WeChatClientException) -> str:
    try:
        return str(exc.response.json().get("msg_id", ""))
    except Exception:
        return ""


def _retry_later(rt: Runtime, delivery_ids: list[int], outcome: Outcome) -> None:
    try:
        rt.jobs.enqueue_in(max(timedelta(0), outcome.retry_at - rt.now()), deliver, delivery_ids)
    except QueueUnavailable:
        pass  # still pending: the sweeper queues it when its time has come


def _transient(exc: WeChatClientException) -> bool:
    if exc.errcode is None:  # an HTTP error status: WeChat's side failing (5xx) is worth another try
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status is None or status >= 500
    return exc.errcode in TRANSIENT


def _send(rt: Runtime, task: DeliveryTask) -> Outcome:
    channel = task.channel
    try:
        if channel == "custom":
            try:
                rt.wechat.message.send_text(task.openid, _as_text(task))
                return Outcome("sent", "custom")
            except WeChatClientException as exc:
                if exc.errcode not in OUT_OF_WINDOW:
                    raise
                channel = "template"
                rt.send_bucket.take()
        return _send_template(rt, task)
    except WeChatClientException as exc:
        return _failure(rt, task, channel, exc.errcode, str(exc.errmsg or ""), retry=_transient(exc))
    except WeChatUnreachable as exc:
        if channel == "custom" and exc.cause not in NEVER_SENT:
            # it may well have arrived, and a customer-service message cannot be deduplicated
            return Outcome("failed", channel, None, f"{notices.UNKNOWN_OUTCOME} ({exc.cause})")
        return _failure(rt, task, channel, None, exc.cause or "unreachable", retry=True)


def _send_template(rt: Runtime, task: DeliveryTask) -> Outcome:
    template_id = rt.config.notices.templates.get(task.kind)
    if not template_id:
        return Outcome("failed", "template", None, f"no template configured for {task.kind}")
    payload = {
        "touser": task.openid,
        "template_id": template_id,
        "client_msg_id": f"nanhu-d{task.id}",  # a resend after a crash is dropped by WeChat
        "data": {"title": {"value": task.title}, "content": {"value": task.body}},
    }
    if task.url:
        payload["url"] = task.url
    result = rt.wechat.post("message/template/send", data=payload)
    return Outcome("sent", "template", msgid=str(result.get("msgid", "")))


def _failure(rt: Runtime, task: DeliveryTask, channel: str, errcode: int | None, errmsg: str,
             retry: bool) -> Outcome:
    if retry and task.attempts < rt.config.notices.max_attempts:
        wait = notices.backoff(task.attempts)
        log.warning("delivery %d: errcode %s, trying again in %.0fs", task.id, errcode, wait)
        return Outcome("retry", channel, errcode, errmsg[:200], retry_at=rt.now() + timedelta(seconds=wait))
    return Outcome("failed", channel, errcode, errmsg[:200])


def _as_text(task: DeliveryTask) -> str:
    body = task.body if len(task.body) <= CS_TEXT_LIMIT else task.body[:CS_TEXT_LIMIT] + "…"
    text = body if task.kind in notices.UNHEADED else f"【{task.title}】\n{body}"
    return f"{text}\n{task.url}" if task.url else text
