"""`/wechat`: verify, decrypt, deduplicate, parse, route, reply — within WeChat's five seconds.

`Webhook` serves the path as a WSGI app of its own, in front of the Flask site (see `bot/app.py`).

Refusals carry no detail in the body: 403 for a bad signature, stale timestamp, replayed nonce or
wrong appid; 400 for malformed, non-UTF-8, undecryptable or cut-short bodies; 413 for bodies over 64 KiB.
Every accepted push is answered with reply XML or `success`, never a 500.

Time: the request thread does only CPU work (signature, clock, XML, AES). Everything that touches
the shared store or the database — the replay check, the dedup claim, the handler, remembering the
reply — runs as one job on a handler thread (`bot/webhook/handoff.py`), and the request thread waits for it
only until `app.reply_deadline` seconds after the request arrived (at nginx, when a trusted proxy stamps
it). A slow Redis or database therefore costs the resident an apology, never WeChat's "该公众号暂时无法提供服务".
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import parse_qsl

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wsgi import get_content_length, get_input_stream

from bot.chat.router import Router
from bot.config import is_trusted_proxy, proxy_networks
from bot.runtime import Runtime, use
from bot.webhook.dedup import Dedup
from bot.webhook.handoff import Job, Pool
from bot.webhook.pipeline import handle, is_resident_talking
from bot.webhook.turn import DUPLICATE, REPLAYED, Turn
from bot.webhook.turn import Settings as TurnSettings
from bot.wechat import replies, signing
from bot.wechat.messages import Inbound, MalformedMessage, parse_xml, to_inbound
from jobs.sending import send_text
from storage import notices
from storage.kv import KVUnavailable
from storage.locks import LockTimeout

log = logging.getLogger("nanhu.webhook")

MAX_BODY = 64 * 1024
POOL_THREADS = 8
MAX_IN_FLIGHT = 32
APOLOGY = "抱歉，系统暂时有点忙，请稍后再发一次。给您带来不便，敬请谅解。"
BUSY = "您的上一条消息还在处理中，请稍等几秒再发。"
LATER = "您的消息已收到，正在处理，结果稍后发给您，不用重复发送。"
UNDONE = "抱歉，您刚才的消息没有办成，请再发一次。给您带来不便，敬请谅解。"  # the promise above, kept honestly

# WeChat sends a Unix time in seconds and a short alphanumeric nonce; anything else is not WeChat.
_TIMESTAMP = re.compile(r"[1-9][0-9]{0,11}")
_NONCE = re.compile(r"[0-9A-Za-z]{1,64}")
_SLASHES = re.compile(r"/{2,}")


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Push:
    """An authenticated push: what the job needs to check for replays and answer it."""

    message: Inbound
    signature: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    xml: str                            # rendered reply, "" for `success`
    reply: replies.Reply | None = None  # what the handler said, when this request ran it
    refused: Refused | None = None
    failed: bool = False                # the handler failed: the resident got (or is owed) an apology


_pool = Pool(POOL_THREADS, MAX_IN_FLIGHT)  # beyond MAX_IN_FLIGHT unfinished jobs, answer at once


def start_handlers(rt: Runtime) -> None:
    """Start this process's handler threads, each with its own connection to the shared store open (gunicorn's
    `post_fork`): nothing is opened on a resident's first push, and their number does not grow under load."""
    _pool.start(rt.kv.connect)

Out = tuple[int, str, bytes]  # status, content type, body
_STATUS = {200: "200 OK", 400: "400 Bad Request", 403: "403 Forbidden", 405: "405 Method Not Allowed",
           413: "413 Request Entity Too Large"}
_ALLOW = "GET, HEAD, OPTIONS, POST"
_XML, _PLAIN = "application/xml; charset=utf-8", "text/plain; charset=utf-8"


class Webhook:
    """`PATH` as a WSGI app of its own, in front of the Flask site (`bot/app.py`), which serves every
    other path. Every push comes through here, so a push skips Flask's request context, URL routing
    and response objects: about a fifth of a push's CPU time on `帮助`."""

    PATH = "/wechat"

    def __init__(self, rt: Runtime, router: Router, site: Callable) -> None:
        self.rt = rt
        self.router = router
        self.site = site
        self.proxies = proxy_networks(rt.config.app.trusted_proxies)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != self.PATH and _SLASHES.sub("/", path) != self.PATH:  # //wechat: as Flask's routing
            return self.site(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        args = _query(environ)
        headers: list[tuple[str, str]] = []
        if method == "POST":
            status, content_type, body = receive(self.rt, self.router, environ, args,
                                                 waited=queued_for(environ, self.proxies))
        elif method in ("GET", "HEAD"):
            status, content_type, body = verify(self.rt, args)
        else:
            status, content_type, body = (200 if method == "OPTIONS" else 405), _PLAIN, b""
            headers.append(("Allow", _ALLOW))
        headers += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(_STATUS[status], headers)
        return [b"" if method == "HEAD" else body]


def _query(environ: dict) -> dict[str, str]:
    """The query string's parameters, the first of each name, decoded as Flask's `request.args`: WSGI
    hands over the raw bytes as latin-1, and bytes that are not UTF-8 stay percent-encoded (with the codec
    error handler werkzeug registers for this)."""
    raw = environ.get("QUERY_STRING", "").encode("latin-1", "replace").decode("utf-8", "werkzeug.url_quote")
    args: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True, errors="werkzeug.url_quote"):
        args.setdefault(name, value)
    return args


def verify(rt: Runtime, args: dict[str, str]) -> Out:
    """WeChat's URL check when the server address is saved in its console: echo `echostr` if signed."""
    if not signing.check((rt.config.wechat.token, args.get("timestamp", ""), args.get("nonce", "")),
                         args.get("signature", "")):
        log.warning("verification refused: bad signature")
        return 403, _PLAIN, b""
    return 200, _PLAIN, args.get("echostr", "").encode()


MIN_TIME_TO_WORK = 0.3   # seconds: with less left before the deadline, a push gets the apology at once


def queued_for(environ: dict, proxies: tuple) -> float:
    """How long the push waited before this process took it: X-Request-Start (nginx:
    `proxy_set_header X-Request-Start "t=${msec}";`), believed only from app.trusted_proxies."""
    raw = environ.get("HTTP_X_REQUEST_START", "")
    if not raw or not is_trusted_proxy(environ.get("REMOTE_ADDR", ""), proxies):
        return 0.0
    try:
        started = float(raw.removeprefix("t="))
    except ValueError:
        return 0.0
    return min(max(time.time() - started, 0.0), 60.0)


def receive(rt: Runtime, router: Router, environ: dict, args: dict[str, str], waited: float = 0.0) -> Out:
    """A push: refused without detail, `success`, or the reply XML (encrypted again in safe mode). The
    deadline counts from the push's arrival: `waited` is how long it queued before this process took it."""
    give_up_at = time.monotonic() + rt.config.app.reply_deadline - waited
    try:
        body = _read_body(environ)
        fields, encrypted = _authenticate(rt, args, body)
    except Refused as refusal:
        log.warning("push refused (%s): %s", refusal.status, refusal.reason)
        return refusal.status, _PLAIN, b""

    message = to_inbound(fields)
    if message is None:
        return 200, _PLAIN, b"success"
    try:
        if give_up_at - time.monotonic() < MIN_TIME_TO_WORK:  # shed load: it waited too long to be handled in time
            log.error("push waited %.1fs before it was taken: apology at once, message not handled", waited)
            answer = Answer(_render(rt, message, replies.Text(APOLOGY)))
        else:
            answer = _answer_in_time(rt, router, Push(message, args.get("signature", ""), body), give_up_at)
    except Exception:  # the last line of defence: WeChat must never see a 500
        log.exception("unexpected failure while answering a push")
        answer = Answer(_render(rt, message, replies.Text(APOLOGY)))
    if answer.refused:
        log.warning("push refused (%s): %s", answer.refused.status, answer.refused.reason)
        return answer.refused.status, _PLAIN, b""
    if not answer.xml:
        return 200, _PLAIN, b"success"
    xml = answer.xml
    if encrypted:
        xml = signing.Cipher(rt.config.wechat.encoding_aes_key, rt.config.wechat.app_id).encrypt_reply(
            xml, rt.config.wechat.token, str(int(time.time())))
    return 200, _XML, xml.encode()


def _read_body(environ: dict) -> bytes:
    try:
        # MAX_BODY + 1, so that a chunked body cut at the limit shows it went on
        body = get_input_stream(environ, max_content_length=MAX_BODY + 1).read()
    except RequestEntityTooLarge:
        raise Refused(413, "body over 64 KiB") from None
    except ClientDisconnected:  # werkzeug's server: the client stopped sending
        raise Refused(400, "body cut short") from None
    if len(body) > MAX_BODY:
        raise Refused(413, "body over 64 KiB")
    # gunicorn hands over what came before the client stopped: the same refusal, whatever the server
    announced = get_content_length(environ)
    if announced is not None and len(body) < announced:
        raise Refused(400, "body shorter than its Content-Length")
    return body


def _authenticate(rt: Runtime, args: dict[str, str], body: bytes) -> tuple[dict[str, str], bool]:
    """The push's fields once signature, clock and encryption checks pass (replays are checked in the job)."""
    cfg = rt.config.wechat
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not signing.check((cfg.token, timestamp, nonce), args.get("signature", "")):
        raise Refused(403, "bad signature")
    # canonical forms only: the signature is over the sorted, concatenated parts, so "0"+timestamp or a
    # character moved from nonce to timestamp would keep it valid while looking like a new pair
    if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
        raise Refused(403, "timestamp or nonce not in WeChat's form")
    if cfg.max_clock_skew and abs(time.time() - int(timestamp)) > cfg.max_clock_skew:
        raise Refused(403, "timestamp outside the allowed clock skew")
    try:
        fields = parse_xml(body)
    except MalformedMessage as exc:
        raise Refused(400, str(exc)) from None

    encrypted = args.get("encrypt_type") == "aes"
    if encrypted and cfg.mode == "plain":
        raise Refused(400, "encrypted push, but wechat.mode is plain: set the mode chosen in the WeChat console")
    if cfg.mode == "safe" and not encrypted:
        raise Refused(400, "safe mode expects an encrypted push")
    if encrypted:
        fields = _decrypt(rt, fields, timestamp, nonce, args.get("msg_signature", ""))
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


def _answer_in_time(rt: Runtime, router: Router, push: Push, give_up_at: float) -> Answer:
    job = _pool.submit(_answer, rt, router, push, give_up_at)
    if job is None:
        log.error("too many pushes in flight: answering at once with an apology")
        return Answer(_render(rt, push.message, replies.Text(APOLOGY)))
    try:
        return job.result(timeout=give_up_at - time.monotonic())
    except TimeoutError:
        pass
    if _pool.cancel(job):  # never started: nothing happened, so asking to send again is right
        log.error("no handler thread free before the deadline: apology")
        return Answer(_render(rt, push.message, replies.Text(APOLOGY)))
    log.error("handler still running at the deadline: the real reply follows as a notice")
    _pool.when_done(job, lambda j: _send_late(rt, push.message, j))
    return Answer(_render(rt, push.message, replies.Text(LATER)))


def _answer(rt: Runtime, router: Router, push: Push, give_up_at: float) -> Answer:
    """Replay check, then the reply XML computed once per message across all processes."""
    message = push.message
    try:
        turn = Turn.open(rt.kv, _settings(rt), openid=message.openid, dedup_key=message.dedup_key,
                         signature=push.signature, body=push.body, resident=is_resident_talking(message))
    except KVUnavailable:
        log.error("shared store unavailable: apology, message not handled")
        return Answer(_render(rt, message, replies.Text(APOLOGY)))
    if turn == REPLAYED:
        return Answer("", refused=Refused(403, "signature reused with a different body"))
    if turn == DUPLICATE:
        try:
            earlier = Dedup(rt.kv).wait_for(message.dedup_key, max(0.0, give_up_at - time.monotonic()))
        except KVUnavailable:
            log.error("shared store unavailable while a retry waited for the first reply: apology")
            return Answer(_render(rt, message, replies.Text(APOLOGY)))
        return Answer(earlier or "")

    try:
        with use(rt):
            reply = handle(rt, router, message, turn)
        xml = _render(rt, message, reply) if reply is not None else ""
    except Exception as exc:
        log.error("handler failed (%s): apology", _describe(exc), exc_info=not _is_outage(exc))
        turn.discard()
        reply, failed = None, True  # the apology is for this answer; a late one is owed UNDONE instead
        xml = _render(rt, message, replies.Text(BUSY if isinstance(exc, LockTimeout) else APOLOGY))
    else:
        failed = False
    try:
        turn.close(xml)
    except KVUnavailable:
        # the lease expires by itself; the handler's work is committed, and losing its reply over this
        # would invite the resident to do it again
        log.error("shared store unavailable after the handler: reply, conversation state not kept")
    return Answer(xml, reply, failed=failed)


def _settings(rt: Runtime) -> TurnSettings:
    c = rt.config
    return TurnSettings(c.app.reply_deadline, c.wechat.max_clock_skew, c.conversation.idle_timeout)


def _render(rt: Runtime, message: Inbound, reply: replies.Reply) -> str:
    return replies.render(reply, message.openid, message.account or rt.config.wechat.account, int(time.time()))


def _send_late(rt: Runtime, message: Inbound, job: Job) -> None:
    """Keep the promise LATER made: the real reply, or an honest UNDONE, through the outbox."""
    try:
        answer = job.result(timeout=0)
    except Exception as exc:
        log.error("late handler failed too (%s)", _describe(exc))
        answer = Answer("", failed=True)
    if answer.reply is not None:
        text = replies.as_text(answer.reply)
    elif answer.failed:
        text = UNDONE
    else:  # a retry's wait, a refusal: nothing new to tell the resident
        return
    try:
        with use(rt):
            notices.reply_later(rt.db, message.openid, text, rt.now())
        return
    except Exception as exc:  # the database may be what made it late: send it directly rather than not at all
        log.error("could not write the late reply down (%s): sending it directly", _describe(exc))
    try:
        rt.jobs.enqueue(send_text, message.openid, text)
    except Exception as exc:
        log.error("could not queue the late reply (%s)", _describe(exc))


def _is_outage(exc: Exception) -> bool:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from storage.db import DatabaseUnavailable
    return isinstance(exc, (KVUnavailable, OperationalError, PoolTimeout, LockTimeout, DatabaseUnavailable))


def _describe(exc: Exception) -> str:
    # the first line only: SQLAlchemy appends the statement and its parameters on later lines
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
