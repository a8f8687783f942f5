"""`nanhu chat` / `make chat`: talk to the running bot from a terminal, as a resident would from WeChat.

Each line is pushed to the webhook signed (and encrypted in safe/compatible mode) exactly as WeChat does, the
passive reply is printed, and messages the bot pushed through the API (custom, template, mass) are read back from
the WeChat stand-in's control API and shown as "[推送] ...".
"""
from __future__ import annotations

import random
import shlex
import string
import sys
import threading
import time
from typing import Any, Callable, TextIO
from urllib.parse import urlsplit

import requests

from devtools.simulator import Simulator, WebhookClient, event_fields, new_msg_id, parse_reply, text_fields

DEFAULT_OPENID = "o_demo_resident_1"
PROMPT = "> "
POLL_SECONDS = 2.0
WECHAT_GIVES_UP = 5.0  # WeChat drops the push after 5 s (and would retry it; the chat does not)

HELP = """命令:
  直接输入文字          发送文本消息
  /location <纬度> <经度> [地点名]   发送位置
  /image                发送一张图片
  /voice <识别文字>     发送语音 (带语音识别结果)
  /click <KEY>          点击菜单 (CLICK 事件)
  /scan <场景值>        扫描带参数二维码
  /subscribe            关注公众号
  /unsubscribe          取消关注
  /openid <openid>      换一位居民
  /help                 显示本帮助
  /quit                 退出"""


class BotUnreachable(Exception):
    pass


class Chat:
    def __init__(self, cfg: Any, mode: str | None, out: TextIO):
        self.account = cfg.wechat.account
        self.webhook = f"http://{cfg.dev.host}:{cfg.dev.port}/wechat"
        parts = urlsplit(cfg.wechat.api_base_url)
        # Only the stand-in has a control API; never poke the real api.weixin.qq.com.
        self.control = "" if parts.hostname and parts.hostname.endswith("weixin.qq.com") else \
            f"{parts.scheme}://{parts.netloc}/_fake/"
        sim = Simulator(token=cfg.wechat.token, app_id=cfg.wechat.app_id,
                        encoding_aes_key=cfg.wechat.encoding_aes_key, mode=mode or cfg.wechat.mode)
        self.http = requests.Session()
        self.client = WebhookClient(self.webhook, sim, timeout=WECHAT_GIVES_UP, session=self.http)
        self.out = out
        self.out_lock = threading.Lock()
        self.poll_lock = threading.Lock()
        self.openid = ""
        self.subscribed = False
        self.seen: dict[str, int] = {}
        self.control_warned = False

    def say(self, text: str) -> None:
        with self.out_lock:
            self.out.write(text + "\n")
            self.out.flush()

    # ---- the stand-in's control API ---------------------------------------------------------------------------
    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        """The stand-in's JSON answer, or None when it is not there (pushes then simply are not shown)."""
        if not self.control:
            return None
        try:
            resp = self.http.request(method, self.control + path, timeout=3, **kwargs)
            return resp.json() if resp.status_code == 200 else None
        except (requests.RequestException, ValueError):
            if not self.control_warned:
                self.control_warned = True
                self.say(f"(无法连接到微信模拟服务 {self.control}: 推送消息不会显示。"
                         "请先运行 make run 或 nanhu fake-wechat)")
            return None

    def _pushes(self) -> list[dict[str, Any]]:
        messages = self._control("GET", "messages", params={"openid": self.openid,
                                                            "after": self.seen.get(self.openid, 0)}) or []
        if messages:
            self.seen[self.openid] = max(m["seq"] for m in messages)
        return messages

    def show_pushes(self, prompt: str = "") -> None:
        with self.poll_lock:
            messages = self._pushes()
            for message in messages:
                self.say(("\n" if prompt else "") + format_push(message))
            if messages and prompt:
                self.out.write(prompt)
                self.out.flush()

    def switch(self, openid: str) -> None:
        """Become this resident: skip old pushes, and subscribe the first time (or after an unsubscribe)."""
        self.openid = openid
        self.subscribed = False
        self.seen.pop(openid, None)
        self._pushes()
        if ((self._control("GET", "users", params={"openid": openid}) or {}).get(openid) or {}).get("subscribe"):
            self.subscribed = True
            self.say(f"(居民 {openid})")
        else:
            self.subscribe()

    # ---- pushes to the webhook ------------------------------------------------------------------------------
    def post(self, fields: dict[str, Any]) -> None:
        try:
            resp = self.client.post_fields(fields)
        except requests.ConnectionError:
            raise BotUnreachable(f"无法连接到 {self.webhook}: 请先运行 make run") from None
        except requests.Timeout:
            self.say(f"[超时] 公众号 {WECHAT_GIVES_UP:g} 秒内没有回复, 微信会放弃这次推送")
            return
        if resp.status_code != 200:
            self.say(f"[错误] 公众号返回 HTTP {resp.status_code}: {resp.text[:200]}")
            return
        try:
            reply = parse_reply(self.client.sim.open_reply(resp.content))
        except Exception as exc:  # a reply WeChat could not use either; say why instead of a traceback
            self.say(f"[错误] 无法解析公众号的回复 ({exc}): {resp.text[:200]}")
            return
        for line in format_reply(reply):
            self.say(line)

    def fields(self, msgtype: str, **extra: Any) -> dict[str, Any]:
        return {"ToUserName": self.account, "FromUserName": self.openid, "CreateTime": int(time.time()),
                "MsgType": msgtype, **extra, "MsgId": new_msg_id()}

    def event(self, event: str, key: str | None = None, **extra: Any) -> None:
        self.post(event_fields(self.openid, event, key, account=self.account, **extra))

    def subscribe(self, scene: str | None = None) -> None:
        # Register first, so the bot's user/info and welcome messages work while it handles the event.
        self._control("POST", "subscribe", json={"openid": self.openid, **(
            {"subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene_str": scene} if scene else {})})
        self.say(f"(居民 {self.openid} 关注了公众号)")
        try:
            if scene is None:
                self.event("subscribe")
            else:
                self.event("subscribe", "qrscene_" + scene, Ticket=self.ticket(scene))
        except BotUnreachable:
            self._control("POST", "unsubscribe", json={"openid": self.openid})  # so the next run subscribes again
            raise
        self.subscribed = True

    def ticket(self, scene: str) -> str:
        for code in self._control("GET", "qrcodes") or []:
            if str(code.get("scene")) == scene:
                return code["ticket"]
        return "gQ" + "".join(random.choices(string.ascii_letters + string.digits, k=40))

    # ---- one line of input ----------------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Act on one typed line; False means quit."""
        if not line.startswith("/"):
            self._ensure_subscribed()
            self.post(text_fields(self.openid, line, account=self.account))
            return True
        try:
            command, *args = shlex.split(line)
        except ValueError:
            command, *args = line.split()
        action = COMMANDS.get(command)
        if action is None:
            self.say(f"未知命令 {command}, 输入 /help 查看命令")
            return True
        return action(self, args) is not False

    def _ensure_subscribed(self) -> None:
        if not self.subscribed:
            self.subscribe()


def _location(chat: Chat, args: list[str]) -> None:
    try:
        lat, lng = float(args[0]), float(args[1])
    except (IndexError, ValueError):
        chat.say("用法: /location <纬度> <经度> [地点名]")
        return
    chat._ensure_subscribed()
    chat.post(chat.fields("location", Location_X=lat, Location_Y=lng, Scale=15, Label=" ".join(args[2:])))


def _image(chat: Chat, args: list[str]) -> None:
    chat._ensure_subscribed()
    media = "".join(random.choices(string.ascii_letters + string.digits, k=64))
    chat.post(chat.fields("image", PicUrl=f"http://mmbiz.qpic.cn/mmbiz/{media[:24]}/0", MediaId=media))


def _voice(chat: Chat, args: list[str]) -> None:
    chat._ensure_subscribed()
    media = "".join(random.choices(string.ascii_letters + string.digits, k=64))
    chat.post(chat.fields("voice", MediaId=media, Format="amr", Recognition=" ".join(args)))


def _click(chat: Chat, args: list[str]) -> None:
    if not args:
        chat.say("用法: /click <KEY>")
        return
    chat._ensure_subscribed()
    chat.event("CLICK", args[0])


def _scan(chat: Chat, args: list[str]) -> None:
    if not args:
        chat.say("用法: /scan <场景值>")
        return
    if chat.subscribed:  # a follower gets SCAN with the bare scene; a new follower gets subscribe + qrscene_
        chat.event("SCAN", args[0], Ticket=chat.ticket(args[0]))
    else:
        chat.subscribe(args[0])


def _subscribe(chat: Chat, args: list[str]) -> None:
    if chat.subscribed:
        chat.say("(已经关注了)")
    else:
        chat.subscribe()


def _unsubscribe(chat: Chat, args: list[str]) -> None:
    chat._control("POST", "unsubscribe", json={"openid": chat.openid})
    chat.event("unsubscribe")  # WeChat ignores any reply to this event
    chat.subscribed = False
    chat.say(f"(居民 {chat.openid} 取消了关注; 再发消息会重新关注)")


def _openid(chat: Chat, args: list[str]) -> None:
    if not args:
        chat.say(f"当前居民: {chat.openid}. 用法: /openid <openid>")
        return
    chat.switch(args[0])


def _help(chat: Chat, args: list[str]) -> None:
    chat.say(HELP)


COMMANDS: dict[str, Callable[[Chat, list[str]], Any]] = {
    "/location": _location, "/image": _image, "/voice": _voice, "/click": _click, "/scan": _scan,
    "/subscribe": _subscribe, "/unsubscribe": _unsubscribe, "/openid": _openid, "/help": _help,
    "/quit": lambda chat, args: False, "/exit": lambda chat, args: False,
}


def format_reply(reply: dict[str, Any]) -> list[str]:
    if not reply:
        return ["(没有即时回复)"]
    kind = reply.get("MsgType")
    if kind == "text":
        return [f"[回复] {reply.get('Content', '')}"]
    if kind == "news":
        articles = reply.get("Articles") or []
        lines = [f"[回复] 图文 {len(articles)} 条"]
        if len(articles) > 1:
            lines.append("  (注意: 微信自 2018-10 起只允许 1 条图文, 多于 1 条的回复不会显示)")
        for n, article in enumerate(articles, 1):
            lines.append(f"  {n}. {article.get('Title', '')}")
            lines += [f"     {v}" for v in (article.get("Description"), article.get("Url")) if v]
        return lines
    if kind == "transfer_customer_service":
        return ["[回复] (转接人工客服)"]
    return [f"[回复] [{kind}] " + ", ".join(f"{k}={v}" for k, v in reply.items()
                                         if k not in ("ToUserName", "FromUserName", "CreateTime", "MsgType"))]


def format_push(message: dict[str, Any]) -> str:
    body = message.get("body") or {}
    if message.get("msgtype") == "news":
        articles = (body.get("news") or {}).get("articles") or []
        parts = [" / ".join(str(a.get(k)) for k in ("title", "description", "url") if a.get(k)) for a in articles]
        return "[推送] 图文: " + "; ".join(parts)
    return f"[推送] {message.get('summary', '')}"


def run_chat(cfg: Any, openid: str | None = None, mode: str | None = None,
             stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Chat with the running bot as a resident; returns the exit status."""
    chat = Chat(cfg, mode, stdout)
    interactive = stdin.isatty()
    if openid is None and interactive:
        stdout.write(f"居民 openid [{DEFAULT_OPENID}]: ")
        stdout.flush()
        openid = stdin.readline().strip()
    chat.say(f"南湖公众号 — 对话模拟 ({chat.client.sim.mode} 模式, {chat.webhook}). 输入 /help 查看命令, /quit 退出.")
    stop = threading.Event()
    try:
        chat.switch(openid or DEFAULT_OPENID)
        chat.show_pushes()
        if interactive:  # pushes that arrive while the resident is reading
            threading.Thread(target=_poll, args=(chat, stop), daemon=True).start()
        while True:
            if interactive:
                stdout.write(PROMPT)
                stdout.flush()
            raw = stdin.readline()
            if not raw:
                break
            line = raw.strip()
            if not line:
                continue
            try:
                if not chat.handle(line):
                    break
            except BotUnreachable as exc:  # the bot may be restarting: say so and keep the conversation
                chat.say(str(exc))
            chat.show_pushes()
        if not interactive:
            time.sleep(0.2)  # a push the bot sends just after its reply
            chat.show_pushes()
    except BotUnreachable as exc:
        chat.say(str(exc))
        return 1
    except KeyboardInterrupt:
        chat.say("")
    finally:
        stop.set()
    return 0


def _poll(chat: Chat, stop: threading.Event) -> None:
    while not stop.wait(POLL_SECONDS):
        try:
            chat.show_pushes(prompt=PROMPT)
        except Exception:  # never kill the terminal over a polling hiccup
            pass
