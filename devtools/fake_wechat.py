"""A local stand-in for api.weixin.qq.com/cgi-bin/ (`nanhu fake-wechat`), used by the tests and by `nanhu chat`.

It answers like WeChat does: HTTP 200 with {"errcode", "errmsg"} JSON even on errors, the documented error codes,
access tokens that expire and are replaced, and "rid: ..." appended to error messages (so code must branch on
errcode, never on errmsg). Everything the bot sends to residents is recorded; `/_fake/...` lets tests and the chat
read those messages and inject failures. State is in memory and guarded by one lock.

Differences from WeChat that are deliberate: an openid the bot sends to or tags becomes a follower (the stand-in
never sees the webhook traffic that would have told WeChat about it); quotas, the 48-hour window and per-user
message counts are not enforced unless injected with /_fake/fail.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from flask import Flask, Response, request

ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40032: "invalid openid list size",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40035: "invalid parameter",
    40037: "invalid template_id",
    40053: "invalid action info",
    40066: "invalid url",
    40125: "invalid appsecret",
    40130: "invalid openid list size, at least two openid",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41009: "missing openid",
    42001: "access_token expired",
    43002: "require POST method",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit must slower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45056: "too many tags",
    45059: "too many tags on user",
    45065: "clientmsgid exist",
    45157: "invalid tag name",
    45158: "tag name too long",
    45159: "invalid tag id",
    46003: "menu no exist",
    47001: "data format error",
    48001: "api unauthorized",
}

TOKEN_TTL = 7200
TOKEN_OVERLAP = 300  # old and new access_token both work for 5 minutes after a refresh (documented)
CLICK_TYPES = {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
               "location_select"}
URL_TYPES = {"view", "miniprogram"}
MEDIA_TYPES = {"media_id", "view_limited", "article_id", "article_view_limited"}
CUSTOM_MSGTYPES = {"text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle", "msgmenu",
                   "wxcard", "miniprogrampage", "link"}
MASS_MSGTYPES = {"text", "mpnews", "voice", "image", "mpvideo", "music", "wxcard"}
MASS_DEDUP_SECONDS = 24 * 3600
TEMPLATE_DEDUP_SECONDS = 600
# A \uXXXX escape that is not itself escaped (an even number of backslashes before it).
_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


class WxError(Exception):
    def __init__(self, errcode: int, **extra: Any):
        super().__init__(errcode)
        self.errcode = errcode
        self.extra = extra


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def error_body(errcode: int, **extra: Any) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'unknown error')} rid: {_rid()}", **extra}


def _nbytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


@dataclass
class _Token:
    value: str
    kind: str  # "token" (cgi-bin/token) or "stable" (cgi-bin/stable_token): WeChat keeps them apart
    expires_at: float
    dies_at: float | None = None  # replaced by a newer token: answers 40001 from then on
    expired: bool = False  # forced by /_fake/expire-tokens


class FakeWeChat:
    """All mutable state of the stand-in. Every public method takes the lock."""

    def __init__(self, app_id: str, app_secret: str, clock: Callable[[], float] = time.time):
        self.app_id, self.app_secret, self.clock = app_id, app_secret, clock
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tokens: dict[str, _Token] = {}
            self.current: dict[str, str] = {}
            self.messages: list[dict[str, Any]] = []
            self.calls: list[dict[str, Any]] = []
            self.failures: list[dict[str, Any]] = []
            self.stalls: list[dict[str, Any]] = []
            self.menu: dict[str, Any] | None = None
            self.tags: dict[int, str] = {2: "星标组"}  # 0/1/2 are WeChat's reserved system tags
            self.users: dict[str, dict[str, Any]] = {}
            self.qrcodes: list[dict[str, Any]] = []
            self.template_sent: dict[tuple[str, str], tuple[int, float]] = {}
            self.mass_sent: dict[str, tuple[int, float]] = {}
            self._seq = itertools.count(1)
            self._ids = itertools.count(int(self.clock()) % 100000 * 10000 + 1000)

    # ---- tokens -------------------------------------------------------------------------------------------
    def issue_token(self, kind: str, force: bool = True) -> tuple[str, int]:
        with self.lock:
            now = self.clock()
            old = self.tokens.get(self.current.get(kind, ""))
            if not force and old and not old.expired and old.expires_at - now > TOKEN_OVERLAP:
                return old.value, int(old.expires_at - now)
            if old:
                # cgi-bin/token keeps the old token alive 5 more minutes; a forced stable_token kills it now.
                grace = TOKEN_OVERLAP if kind == "token" else (0 if force else old.expires_at - now)
                old.dies_at = min(old.dies_at or now + grace, now + grace)
            value = f"{next(self._ids)}_{secrets.token_urlsafe(48)}"
            self.tokens[value] = _Token(value, kind, now + TOKEN_TTL)
            self.current[kind] = value
            return value, TOKEN_TTL

    def check_token(self, value: str | None) -> None:
        if not value:
            raise WxError(41001)
        with self.lock:
            tok = self.tokens.get(value)
            now = self.clock()
            if tok is None or (tok.dies_at is not None and now >= tok.dies_at):
                raise WxError(40001)
            if tok.expired or now >= tok.expires_at:
                raise WxError(42001)

    def expire_tokens(self) -> int:
        with self.lock:
            for tok in self.tokens.values():
                tok.expired = True
            return len(self.tokens)

    # ---- injected trouble ---------------------------------------------------------------------------------
    def add_rule(self, rules: list[dict[str, Any]], rule: dict[str, Any]) -> None:
        with self.lock:
            rules.append(rule)

    def take_rule(self, rules: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
        with self.lock:
            for rule in rules:
                if rule["path"] in ("*", path) and rule["times"] > 0:
                    rule["times"] -= 1
                    return dict(rule)
            return None

    # ---- users and messages -------------------------------------------------------------------------------
    def subscribe(self, openid: str, **info: Any) -> dict[str, Any]:
        with self.lock:
            user = self.users.setdefault(openid, {"tagid_list": [], "remark": ""})
            user.update({"subscribe": 1, "subscribe_time": int(self.clock()),
                         "subscribe_scene": info.get("subscribe_scene", "ADD_SCENE_OTHERS"),
                         "qr_scene": info.get("qr_scene", 0), "qr_scene_str": info.get("qr_scene_str", "")})
            if "remark" in info:
                user["remark"] = info["remark"]
            return self.user_info(openid)

    def unsubscribe(self, openid: str) -> None:
        with self.lock:
            self.users.setdefault(openid, {"tagid_list": [], "remark": ""})["subscribe"] = 0

    def follower(self, openid: Any) -> dict[str, Any]:
        """The user record for an openid the bot uses; unknown ones become followers (see module doc)."""
        if not isinstance(openid, str) or not openid.strip():
            raise WxError(40003)
        with self.lock:
            if openid not in self.users:
                self.subscribe(openid)
            return self.users[openid]

    def user_info(self, openid: str) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(openid)
            if user is None:
                raise WxError(40003)
            if not user["subscribe"]:
                return {"subscribe": 0, "openid": openid, "tagid_list": []}
            return {"subscribe": 1, "openid": openid, "language": "zh_CN", "subscribe_time": user["subscribe_time"],
                    "remark": user["remark"], "groupid": 0, "tagid_list": list(user["tagid_list"]),
                    "subscribe_scene": user["subscribe_scene"], "qr_scene": user["qr_scene"],
                    "qr_scene_str": user["qr_scene_str"]}

    def new_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def record(self, openid: str, kind: str, body: dict[str, Any], msgid: int | None, escaped: bool) -> None:
        msgtype = body.get("msgtype", "template" if kind == "template" else "")
        with self.lock:
            self.messages.append({
                "seq": next(self._seq), "time": self.clock(), "openid": openid, "kind": kind, "msgtype": msgtype,
                "content": (body.get("text") or {}).get("content") if msgtype == "text" else None,
                "summary": summarize(kind, body), "msgid": msgid, "body": body, "escaped_unicode": escaped})

    def log_call(self, method: str, path: str, errcode: int | None, status: int, token: str | None) -> None:
        with self.lock:
            self.calls.append({"seq": next(self._seq), "time": self.clock(), "method": method, "path": path,
                               "errcode": errcode, "http_status": status, "access_token": token})


def summarize(kind: str, body: dict[str, Any]) -> str:
    """One line a person can read: what the resident sees in WeChat."""
    if kind == "template":
        fields = "; ".join(f"{k}: {(v or {}).get('value', '')}" for k, v in (body.get("data") or {}).items()
                           if isinstance(v, dict) or v is None)
        link = f" ({body['url']})" if body.get("url") else ""
        return f"模板消息 {body.get('template_id', '')}: {fields}{link}"
    msgtype = body.get("msgtype", "")
    inner = body.get(msgtype) or {}
    if msgtype == "text":
        return str(inner.get("content", ""))
    if msgtype == "news":
        return "图文: " + "; ".join(f"{a.get('title', '')} {a.get('url', '')}".strip()
                                   for a in inner.get("articles", []))
    if msgtype == "link":
        return f"链接: {inner.get('title', '')} {inner.get('url', '')}".strip()
    return f"[{msgtype}] " + json.dumps(inner, ensure_ascii=False)


# ---- request bodies -------------------------------------------------------------------------------------------
def parse_body(raw: bytes, keep_unicode_escapes: bool) -> tuple[dict[str, Any], bool]:
    """The JSON body as WeChat reads it: UTF-8 only, and (for message text) \\uXXXX escapes are NOT decoded.

    WeChat shows \\u4f60 literally to the resident when a client sends ASCII-escaped JSON (Python's json.dumps and
    requests' json= do this by default), so recorded messages keep the escapes; the flag tells tests it happened.
    """
    if not raw.strip():
        raise WxError(44002)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WxError(47001) from None
    escaped = bool(_UNICODE_ESCAPE.search(text))
    if keep_unicode_escapes and escaped:
        text = _UNICODE_ESCAPE.sub(lambda m: m.group(1) + "\\\\u" + m.group(2), text)
    try:
        body = json.loads(text)
    except ValueError:
        raise WxError(47001) from None
    if not isinstance(body, dict):
        raise WxError(47001)
    return body, escaped


# ---- endpoints ----------------------------------------------------------------------------------------------
Handler = Callable[[FakeWeChat, dict[str, str], dict[str, Any], bool], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    post: bool = True
    token: bool = True
    keep_escapes: bool = False


def _check_credentials(fake: FakeWeChat, grant_type: Any, appid: Any, secret: Any) -> None:
    if grant_type != "client_credential":
        raise WxError(40002)
    if not appid:
        raise WxError(41002)
    if appid != fake.app_id:
        raise WxError(40013)
    if not secret:
        raise WxError(41004)
    if secret != fake.app_secret:
        raise WxError(40125)


def api_token(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    _check_credentials(fake, args.get("grant_type"), args.get("appid"), args.get("secret"))
    token, ttl = fake.issue_token("token")
    return {"access_token": token, "expires_in": ttl}


def api_stable_token(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    _check_credentials(fake, body.get("grant_type"), body.get("appid"), body.get("secret"))
    token, ttl = fake.issue_token("stable", force=body.get("force_refresh") is True)
    return {"access_token": token, "expires_in": ttl}


def _require_subscribed(user: dict[str, Any], errcode: int) -> None:
    if not user["subscribe"]:
        raise WxError(errcode)


def api_custom_send(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    user = fake.follower(body.get("touser"))
    msgtype = body.get("msgtype")
    if msgtype not in CUSTOM_MSGTYPES or not isinstance(body.get(msgtype), dict):
        raise WxError(40008)
    if msgtype == "text" and not str(body["text"].get("content") or "").strip():
        raise WxError(44004)
    if msgtype == "news" and len(body["news"].get("articles") or []) > 1:
        raise WxError(45008)  # one article only since 2018-10-12
    _require_subscribed(user, 45015)
    fake.record(body["touser"], "custom", body, None, escaped)
    return {"errcode": 0, "errmsg": "ok"}


def api_template_send(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    user = fake.follower(body.get("touser"))
    if not isinstance(body.get("template_id"), str) or not body["template_id"]:
        raise WxError(40037)
    _require_subscribed(user, 43004)
    key = (body["touser"], str(body.get("client_msg_id") or ""))
    with fake.lock:
        previous = fake.template_sent.get(key) if key[1] else None
        if previous and fake.clock() - previous[1] < TEMPLATE_DEDUP_SECONDS:
            return {"errcode": 0, "errmsg": "ok", "msgid": previous[0]}  # same openid + client_msg_id: sent once
        msgid = fake.new_id()
        if key[1]:
            fake.template_sent[key] = (msgid, fake.clock())
        fake.record(body["touser"], "template", body, msgid, escaped)
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


def _mass(fake: FakeWeChat, body: dict[str, Any], openids: list[str], scope: str, escaped: bool) -> dict[str, Any]:
    msgtype = body.get("msgtype")
    if msgtype not in MASS_MSGTYPES or not isinstance(body.get(msgtype), dict):
        raise WxError(40008)
    if msgtype == "text" and not str(body["text"].get("content") or "").strip():
        raise WxError(44004)
    # Without clientmsgid WeChat uses a digest of scope and content: the same broadcast twice in 24 h is refused.
    content = json.dumps(body.get(msgtype), sort_keys=True, ensure_ascii=False)
    client_id = str(body.get("clientmsgid") or hashlib.sha1(f"{scope}|{msgtype}|{content}".encode()).hexdigest())
    with fake.lock:
        now = fake.clock()
        previous = fake.mass_sent.get(client_id)
        if previous and now - previous[1] < MASS_DEDUP_SECONDS:
            raise WxError(45065, msg_id=previous[0])
        msg_id = fake.new_id()
        fake.mass_sent[client_id] = (msg_id, now)
        record = {k: v for k, v in body.items() if k not in ("touser", "filter")}
        for openid in openids:
            if fake.users.get(openid, {}).get("subscribe"):
                fake.record(openid, "mass", record, msg_id, escaped)
    result: dict[str, Any] = {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id}
    if msgtype == "mpnews":
        result["msg_data_id"] = fake.new_id()  # only present for mpnews, as documented
    return result


def api_mass_send(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    touser = body.get("touser")
    if not isinstance(touser, list) or not all(isinstance(o, str) and o for o in touser):
        raise WxError(40003)
    if len(touser) < 2:
        raise WxError(40130)
    if len(touser) > 10000:
        raise WxError(40032)
    for openid in touser:
        fake.follower(openid)
    return _mass(fake, body, list(dict.fromkeys(touser)), "openids:" + ",".join(sorted(touser)), escaped)


def api_mass_sendall(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    filt = body.get("filter")
    if not isinstance(filt, dict):
        raise WxError(40035)
    with fake.lock:
        if filt.get("is_to_all") is True:
            openids, scope = list(fake.users), "all"
        else:
            tag_id = filt.get("tag_id", filt.get("group_id"))  # group_id: the pre-2016 name wechatpy still sends
            if tag_id not in fake.tags:
                raise WxError(45159)
            openids, scope = [o for o, u in fake.users.items() if tag_id in u["tagid_list"]], f"tag:{tag_id}"
    return _mass(fake, body, openids, scope, escaped)


def api_tags_create(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    name = body["tag"].get("name") if isinstance(body.get("tag"), dict) else None
    if not isinstance(name, str) or not name.strip():
        raise WxError(45157)
    if _nbytes(name) > 30:
        raise WxError(45158)
    with fake.lock:
        if name in fake.tags.values():
            raise WxError(45157)
        if len(fake.tags) >= 100:
            raise WxError(45056)
        tag_id = max([99, *fake.tags]) + 1
        fake.tags[tag_id] = name
    return {"tag": {"id": tag_id, "name": name}}


def api_tags_get(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    with fake.lock:
        return {"tags": [{"id": i, "name": n, "count": sum(i in u["tagid_list"] for u in fake.users.values())}
                         for i, n in sorted(fake.tags.items())]}


def _batch(fake: FakeWeChat, body: dict[str, Any], add: bool) -> dict[str, Any]:
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not 1 <= len(openids) <= 50:
        raise WxError(40032)
    with fake.lock:
        if body.get("tagid") not in fake.tags:
            raise WxError(45159)
        users = [fake.follower(o) for o in openids]
        if add and any(body["tagid"] not in u["tagid_list"] and len(u["tagid_list"]) >= 20 for u in users):
            raise WxError(45059)  # at most 20 tags per user
        for user in users:
            present = body["tagid"] in user["tagid_list"]
            if add and not present:
                user["tagid_list"].append(body["tagid"])
            elif not add and present:
                user["tagid_list"].remove(body["tagid"])
    return {"errcode": 0, "errmsg": "ok"}


def api_tag_users(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    with fake.lock:
        if body.get("tagid") not in fake.tags:
            raise WxError(45159)
        openids = [o for o, u in fake.users.items() if body["tagid"] in u["tagid_list"] and u["subscribe"]]
    start = body.get("next_openid") or ""
    if start in openids:
        openids = openids[openids.index(start) + 1:]
    return {"count": len(openids), "data": {"openid": openids}, "next_openid": openids[-1] if openids else ""}


def api_tag_idlist(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    return {"tagid_list": list(fake.follower(body.get("openid"))["tagid_list"])}


def validate_menu(body: dict[str, Any]) -> None:
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise WxError(40016)
    for button in buttons:
        if not isinstance(button, dict):
            raise WxError(40017)
        subs = button.get("sub_button")
        if subs:  # a parent: name and 1..5 children (an empty list is how menu/get shows a leaf)
            if not isinstance(subs, list) or len(subs) > 5:
                raise WxError(40023)
            if not str(button.get("name") or "") or _nbytes(button["name"]) > 16:
                raise WxError(40018)
            for sub in subs:
                if not isinstance(sub, dict) or sub.get("sub_button"):
                    raise WxError(40024)
                _validate_leaf(sub, 60, (40024, 40025, 40026, 40027))
        else:
            _validate_leaf(button, 16, (40017, 40018, 40019, 40020))


def _validate_leaf(button: dict[str, Any], name_limit: int, codes: tuple[int, int, int, int]) -> None:
    type_err, name_err, key_err, url_err = codes
    kind = button.get("type")
    if kind not in CLICK_TYPES | URL_TYPES | MEDIA_TYPES:
        raise WxError(type_err)
    if not str(button.get("name") or "") or _nbytes(button["name"]) > name_limit:
        raise WxError(name_err)
    if kind in CLICK_TYPES and not 1 <= _nbytes(button.get("key") or "") <= 128:
        raise WxError(key_err)
    if kind in URL_TYPES and not 1 <= _nbytes(button.get("url") or "") <= 1024:
        raise WxError(url_err)
    if kind in ("media_id", "view_limited") and not button.get("media_id"):
        raise WxError(40007)
    if kind in ("article_id", "article_view_limited") and not button.get("article_id"):
        raise WxError(40035)


def api_menu_create(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    if escaped:
        raise WxError(40033)  # menu/create refuses \uXXXX-escaped JSON outright
    validate_menu(body)
    menu = {"button": [dict(b, sub_button=[dict(s, sub_button=[]) for s in b.get("sub_button") or []])
                       for b in body["button"]]}
    with fake.lock:
        fake.menu = menu
    return {"errcode": 0, "errmsg": "ok"}


def api_menu_get(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    with fake.lock:
        if fake.menu is None:
            raise WxError(46003)
        return {"menu": json.loads(json.dumps(fake.menu))}


def api_menu_delete(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    with fake.lock:
        fake.menu = None
    return {"errcode": 0, "errmsg": "ok"}


def api_qrcode_create(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    action = body.get("action_name")
    scene = body["action_info"].get("scene") if isinstance(body.get("action_info"), dict) else None
    if (action not in ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
            or not isinstance(scene, dict)):
        raise WxError(40053)
    temporary = action in ("QR_SCENE", "QR_STR_SCENE")
    if action.endswith("STR_SCENE"):
        value = scene.get("scene_str")
        if not isinstance(value, str) or not 1 <= len(value) <= 64:
            raise WxError(40053)
    else:
        value = scene.get("scene_id")
        limit = 2**32 - 1 if temporary else 100000
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise WxError(40053)
    code = secrets.token_urlsafe(16)
    result: dict[str, Any] = {"ticket": "gQ" + secrets.token_urlsafe(72), "url": f"http://weixin.qq.com/q/{code}"}
    if temporary:
        seconds = body.get("expire_seconds", 60)  # documented default 60 s, maximum 30 days
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
            raise WxError(40035)
        result["expire_seconds"] = min(seconds, 2592000)
    with fake.lock:
        fake.qrcodes.append({"scene": value, "action_name": action, "created": fake.clock(), **result})
    return result


def api_user_info(fake: FakeWeChat, args: dict[str, str], body: dict[str, Any], escaped: bool) -> dict[str, Any]:
    if not args.get("openid"):
        raise WxError(41009)
    return fake.user_info(args["openid"])


ENDPOINTS: dict[str, Endpoint] = {
    "token": Endpoint(api_token, post=False, token=False),
    "stable_token": Endpoint(api_stable_token, token=False),
    "message/custom/send": Endpoint(api_custom_send, keep_escapes=True),
    "message/template/send": Endpoint(api_template_send, keep_escapes=True),
    "message/mass/send": Endpoint(api_mass_send, keep_escapes=True),
    "message/mass/sendall": Endpoint(api_mass_sendall, keep_escapes=True),
    "tags/create": Endpoint(api_tags_create),
    "tags/get": Endpoint(api_tags_get, post=False),
    "tags/members/batchtagging": Endpoint(lambda f, a, b, e: _batch(f, b, True)),
    "tags/members/batchuntagging": Endpoint(lambda f, a, b, e: _batch(f, b, False)),
    "user/tag/get": Endpoint(api_tag_users),
    "tags/getidlist": Endpoint(api_tag_idlist),
    "menu/create": Endpoint(api_menu_create),
    "menu/get": Endpoint(api_menu_get, post=False),
    "menu/delete": Endpoint(api_menu_delete, post=False),
    "qrcode/create": Endpoint(api_qrcode_create),
    "user/info": Endpoint(api_user_info, post=False),
}


# ---- the Flask app ------------------------------------------------------------------------------------------
def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; encoding=utf-8")  # sic: WeChat's header says encoding=


def create_app(app_id: str, app_secret: str, *, clock: Callable[[], float] = time.time) -> Flask:
    """The stand-in as a WSGI app; `app.config["FAKE_WECHAT"]` is its FakeWeChat state."""
    fake = FakeWeChat(app_id, app_secret, clock)
    app = Flask("nanhu.fake_wechat")
    app.config["FAKE_WECHAT"] = fake

    @app.route("/cgi-bin/<path:api>", methods=["GET", "POST"])
    def cgi(api: str) -> Response:
        token = request.args.get("access_token")
        stall = fake.take_rule(fake.stalls, api)
        if stall:
            time.sleep(stall["seconds"])
        injected = fake.take_rule(fake.failures, api)
        if injected and injected.get("http"):
            fake.log_call(request.method, api, None, injected["http"], token)
            return Response(f"<html><body>{injected['http']} Error</body></html>", status=injected["http"],
                            content_type="text/html")
        try:
            if injected:
                raise WxError(injected["errcode"])
            endpoint = ENDPOINTS.get(api)
            if endpoint is None:
                raise WxError(40066)
            if endpoint.post and request.method != "POST":
                raise WxError(43002)
            if endpoint.token:
                fake.check_token(token)
            body, escaped = ({}, False)
            if endpoint.post:
                body, escaped = parse_body(request.get_data(), endpoint.keep_escapes)
            result = endpoint.handler(fake, request.args.to_dict(), body, escaped)
        except WxError as exc:
            fake.log_call(request.method, api, exc.errcode, 200, token)
            return _json(error_body(exc.errcode, **exc.extra))
        fake.log_call(request.method, api, int(result.get("errcode", 0)), 200, token)
        return _json(result)

    _add_control_api(app, fake)
    return app


def _add_control_api(app: Flask, fake: FakeWeChat) -> None:
    def payload() -> dict[str, Any]:
        data = request.get_json(silent=True, force=True)
        return data if isinstance(data, dict) else {}

    def rule_path(data: dict[str, Any]) -> str:
        path = str(data.get("path") or "*").strip("/")
        return path.removeprefix("cgi-bin/")

    @app.get("/_fake/messages")
    def messages() -> Response:
        openid, after = request.args.get("openid"), request.args.get("after", type=int, default=0)
        with fake.lock:
            return _json([m for m in fake.messages if m["seq"] > after and (openid is None or m["openid"] == openid)])

    @app.post("/_fake/fail")
    def fail() -> Response:
        data = payload()
        http = data.get("http")
        if http is not None and not (isinstance(http, int) and 400 <= http <= 599):
            return _json({"error": "http must be a 4xx or 5xx status"}, 400)
        if http is None and (data.get("errcode") not in ERRMSG or data.get("errcode") == 0):
            return _json({"error": f"errcode must be one of {sorted(k for k in ERRMSG if k)}"}, 400)
        fake.add_rule(fake.failures, {"path": rule_path(data), "errcode": data.get("errcode"), "http": http,
                                      "times": int(data.get("times", 1))})
        return _json({"ok": True})

    @app.post("/_fake/stall")
    def stall() -> Response:
        data = payload()
        fake.add_rule(fake.stalls, {"path": rule_path(data), "seconds": float(data.get("seconds", 1.0)),
                                    "times": int(data.get("times", 1))})
        return _json({"ok": True})

    @app.post("/_fake/expire-tokens")
    def expire_tokens() -> Response:
        return _json({"ok": True, "expired": fake.expire_tokens()})

    @app.post("/_fake/reset")
    def reset() -> Response:
        fake.reset()
        return _json({"ok": True})

    @app.get("/_fake/menu")
    def menu() -> Response:
        with fake.lock:
            return _json(fake.menu)

    @app.get("/_fake/calls")
    def calls() -> Response:
        path = request.args.get("path")
        with fake.lock:
            return _json([c for c in fake.calls if path is None or c["path"] == path])

    @app.post("/_fake/subscribe")
    def subscribe() -> Response:
        data = payload()
        if isinstance(data.get("openids"), list):  # many followers at once (benchmarks)
            return _json([fake.subscribe(str(o)) for o in data["openids"]])
        if not isinstance(data.get("openid"), str) or not data["openid"]:
            return _json({"error": "openid is required"}, 400)
        info = {k: data[k] for k in ("subscribe_scene", "qr_scene", "qr_scene_str", "remark") if k in data}
        return _json(fake.subscribe(data["openid"], **info))

    @app.post("/_fake/unsubscribe")
    def unsubscribe() -> Response:
        data = payload()
        if not isinstance(data.get("openid"), str) or not data["openid"]:
            return _json({"error": "openid is required"}, 400)
        fake.unsubscribe(data["openid"])
        return _json({"ok": True})

    @app.get("/_fake/users")
    def users() -> Response:
        openid = request.args.get("openid")
        with fake.lock:
            found = {o: u for o, u in fake.users.items() if openid is None or o == openid}
            return _json(found, 200 if found or openid is None else 404)

    @app.get("/_fake/qrcodes")
    def qrcodes() -> Response:
        with fake.lock:
            return _json(list(fake.qrcodes))


def serve(host: str, port: int, app_id: str, app_secret: str) -> None:
    """Run the stand-in until interrupted (threaded, so stalled calls do not block the others)."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # like WeChat's servers: clients reuse their connections
        disable_nagle_algorithm = True  # headers and body go out as separate writes

    # werkzeug's request log would print app secrets and access tokens (they travel in query strings)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, create_app(app_id, app_secret), threaded=True, request_handler=KeepAlive)
    print(f"WeChat stand-in listening on http://{host}:{server.server_port}/cgi-bin/ "
          f"(control API: http://{host}:{server.server_port}/_fake/)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
