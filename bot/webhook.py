"""`/wechat`: verify, decrypt, deduplicate, parse, route, reply — within WeChat's five seconds.

Refusals carry no detail in the body: 403 for a bad signature, stale timestamp, replayed nonce or
wrong appid; 400 for malformed, non-UTF-8 or undecryptable bodies; 413 for bodies over 64 KiB.
Every accepted push is answered with reply XML or `success`, never a 500.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from bot import replies, signing
from bot.dedup import Dedup, NonceGuard
from bot.messages import Inbound, MalformedMessage, parse_xml, to_inbound
from bot.pipeline import handle
from bot.router import Router
from bot.runtime import Runtime
from jobs.sending import send_text
from storage.kv import KVUnavailable

log = logging.getLogger("nanhu.webhook")

MAX_BODY = 64 * 1024
APOLOGY = "抱歉，系统暂时有点忙，请稍后再发一次。给您带来不便，敬请谅解。"
BUSY = "您的上一条消息还在处理中，请稍等几秒再发。"

bp = Blueprint("wechat", __name__)


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason


class _Workers:
    """A per-process pool that runs handlers, so the request thread can stop waiting at the deadline."""

    def __init__(self) -> None:
        self._pid = -1
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():  # created after gunicorn forks, never inherited
            with self._lock:
                if self._pid != os.getpid():
                    self._pool = ThreadPoolExecutor(8, thread_name_prefix="nanhu-handler")
                    self._pid = os.getpid()
        return self._pool


_workers = _Workers()


def _state() -> tuple[Runtime, Router]:
    ext = current_app.extensions["nanhu"]
    return ext["runtime"], ext["router"]


def _empty(status: int) -> Response:
    return Response(b"", status=status)


@bp.get("/wechat")
def verify() -> Response:
    rt, _ = _state()
    args = request.args
    if not signing.check((rt.config.wechat.token, args.get("timestamp", ""), args.get("nonce", "")),
                         args.get("signature", "")):
        log.warning("verification refused: bad signature")
        return _empty(403)
    return Response(args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def receive() -> Response:
    rt, router = _state()
    try:
        body = _read_body()
        fields, encrypted = _authenticate(rt, body)
    except Refused as refusal:
        log.warning("push refused (%s): %s", refusal.status, refusal.reason)
        return _empty(refusal.status)

    message = to_inbound(fields)
    if message is None:
        return Response("success", mimetype="text/plain")
    try:
        xml = _reply_once(rt, router, message)
    except Exception:  # the last line of defence: WeChat must never see a 500
        log.exception("unexpected failure while answering a push")
        xml = replies.render(replies.Text(APOLOGY), message.openid, message.account or rt.config.wechat.account,
                             int(time.time()))
    if not xml:
        return Response("success", mimetype="text/plain")
    if encrypted:
        xml = signing.Cipher(rt.config.wechat.encoding_aes_key, rt.config.wechat.app_id).encrypt_reply(
            xml, rt.config.wechat.token, str(int(time.time())))
    return Response(xml, mimetype="application/xml")


def _read_body() -> bytes:
    try:
        body = request.get_data(cache=False)
        # a chunked body is cut at the limit rather than refused; one more byte tells whether it went on
        if len(body) >= MAX_BODY and request.stream.read(1):
            raise RequestEntityTooLarge()
    except RequestEntityTooLarge:
        raise Refused(413, "body over 64 KiB") from None
    return body


def _authenticate(rt: Runtime, body: bytes) -> tuple[dict[str, str], bool]:
    """The push's fields once signature, clock, replay and encryption checks pass."""
    cfg = rt.config.wechat
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not signing.check((cfg.token, timestamp, nonce), args.get("signature", "")):
        raise Refused(403, "bad signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Refused(403, "timestamp is not a number") from None
    if cfg.max_clock_skew and abs(time.time() - sent_at) > cfg.max_clock_skew:
        raise Refused(403, "timestamp outside the allowed clock skew")
    try:
        fields = parse_xml(body)
    except MalformedMessage as exc:
        raise Refused(400, str(exc)) from None

    encrypted = args.get("encrypt_type") == "aes" and cfg.mode != "plain"
    if cfg.mode == "safe" and not encrypted:
        raise Refused(400, "safe mode expects an encrypted push")
    if encrypted:
        fields = _decrypt(rt, fields, timestamp, nonce, args.get("msg_signature", ""))

    try:
        fresh = NonceGuard(rt.kv, cfg.max_clock_skew).accept(timestamp, nonce, body)
    except KVUnavailable:
        fresh = True  # cannot check now; the signature and clock checks above still hold
        log.error("replay check skipped: shared store unavailable")
    if not fresh:
        raise Refused(403, "timestamp and nonce reused with a different body")
    return fields, encrypted


def _decrypt(rt: Runtime, outer: dict[str, str], timestamp: str, nonce: str, msg_signature: str) -> dict[str, str]:
    cfg = rt.config.wechat
    encrypt = outer.get("Encrypt", "")
    if not encrypt:
        raise Refused(400, "no Encrypt element")
    if not signing.check((cfg.token, timestamp, nonce, encrypt), msg_signature):
        raise Refused(403, "bad msg_signature")
    try:
        inner = signing.Cipher(cfg.encoding_aes_key, cfg.app_id).decrypt(encrypt)
    except signing.WrongAppId:
        raise Refused(403, "encrypted for another appid") from None
    except signing.Undecryptable as exc:
        raise Refused(400, f"undecryptable: {exc}") from None
    try:
        return parse_xml(inner)
    except MalformedMessage as exc:
        raise Refused(400, f"decrypted body: {exc}") from None


def _reply_once(rt: Runtime, router: Router, message: Inbound) -> str:
    """The rendered reply XML ('' for `success`), computed once per message across all processes."""
    deadline = rt.config.app.reply_deadline
    dedup = Dedup(rt.kv)
    try:
        first = dedup.claim(message.dedup_key)
    except KVUnavailable:
        log.error("shared store unavailable: answering with an apology")
        return _render(rt, message, replies.Text(APOLOGY))
    if not first:
        earlier = dedup.wait_for(message.dedup_key, deadline)
        return earlier if earlier is not None else ""

    future = _workers.get().submit(_handle_in_runtime, rt, router, message)
    try:
        reply = future.result(timeout=deadline)
    except FutureTimeout:
        log.error("handler exceeded %.1fs: apology now, the real reply follows as a customer-service message", deadline)
        future.add_done_callback(lambda f: _send_late(rt, message, f))
        reply = replies.Text(APOLOGY)
    except Exception as exc:
        log.error("handler failed (%s): answering with an apology", _describe(exc), exc_info=not _is_outage(exc))
        reply = replies.Text(BUSY if _is_lock_timeout(exc) else APOLOGY)
    xml = _render(rt, message, reply) if reply is not None else ""
    try:
        dedup.remember(message.dedup_key, xml)
    except KVUnavailable:
        log.error("could not store the reply for retries: shared store unavailable")
    return xml


def _handle_in_runtime(rt: Runtime, router: Router, message: Inbound):
    from bot.runtime import use
    with use(rt):
        return handle(rt, router, message)


def _render(rt: Runtime, message: Inbound, reply: replies.Reply) -> str:
    return replies.render(reply, message.openid, message.account or rt.config.wechat.account, int(time.time()))


def _send_late(rt: Runtime, message: Inbound, future) -> None:
    try:
        reply = future.result()
    except Exception as exc:
        log.error("late handler failed too (%s)", _describe(exc))
        return
    if reply is not None:
        try:
            rt.jobs.enqueue(send_text, message.openid, replies.as_text(reply))
        except Exception as exc:
            log.error("could not queue the late reply (%s)", _describe(exc))


def _is_lock_timeout(exc: Exception) -> bool:
    from storage.locks import LockTimeout
    return isinstance(exc, LockTimeout)


def _is_outage(exc: Exception) -> bool:
    from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout
    return isinstance(exc, (KVUnavailable, OperationalError, PoolTimeout)) or _is_lock_timeout(exc)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
