"""The WeChat stand-in over real HTTP (requests and wechatpy's own client), and `nanhu chat` against a tiny webhook."""
from __future__ import annotations

import io
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from defusedxml import ElementTree
from flask import Flask, Response, request
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import APILimitedException, WeChatClientException
from werkzeug.serving import make_server

import bot.config
from devtools.chat import run_chat
from devtools.fake_wechat import ERRMSG, create_app
from devtools.simulator import sha1_signature

ROOT = Path(__file__).resolve().parents[1]

APP_ID, SECRET = "wxnanhudemo0000001", "nanhu-demo-app-secret"


def serve_in_thread(app: Flask) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
    return f"http://127.0.0.1:{server.server_port}", stop


@dataclass
class StandIn:
    base: str
    state: Any

    def token(self) -> str:
        data = requests.get(f"{self.base}/cgi-bin/token", timeout=5, params={
            "grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}).json()
        return data["access_token"]

    def call(self, path: str, body: Any = None, *, token: str | None = None, method: str = "POST",
             raw: bytes | None = None, timeout: float = 5) -> requests.Response:
        params = {"access_token": token} if token else {}
        data = raw if raw is not None else (json.dumps(body, ensure_ascii=False).encode() if body is not None else None)
        return requests.request(method, f"{self.base}/cgi-bin/{path}", params=params, data=data, timeout=timeout)

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = requests.request(method, f"{self.base}/_fake/{path}", timeout=5, **kwargs)
        return resp.json()

    def messages(self, openid: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"after": after}
        if openid:
            params["openid"] = openid
        return self.control("GET", "messages", params=params)

    def client(self) -> "StandInClient":
        return StandInClient(self.base, APP_ID, SECRET)


class StandInClient(WeChatClient):
    """wechatpy's client pointed at the stand-in (it hard-codes the token URL, hence the override)."""

    def __init__(self, base: str, *args: Any, **kwargs: Any):
        self.API_BASE_URL = base + "/cgi-bin/"
        super().__init__(*args, **kwargs)

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(url=self.API_BASE_URL + "token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


@pytest.fixture
def start_stand_in() -> Iterator[Callable[..., StandIn]]:
    stops: list[Callable[[], None]] = []

    def start(**kwargs: Any) -> StandIn:
        app = create_app(APP_ID, SECRET, **kwargs)
        base, stop = serve_in_thread(app)
        stops.append(stop)
        return StandIn(base, app.config["FAKE_WECHAT"])
    yield start
    for stop in stops:
        stop()


@pytest.fixture
def wx(start_stand_in: Callable[..., StandIn]) -> StandIn:
    return start_stand_in()


def text_body(openid: str, content: str) -> dict[str, Any]:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


def errcode(resp: requests.Response) -> int:
    assert resp.status_code == 200  # WeChat answers errors with HTTP 200
    return resp.json().get("errcode", 0)


# ---- tokens -----------------------------------------------------------------------------------------------------
def test_token_success_and_credential_errors(wx: StandIn) -> None:
    ok = requests.get(f"{wx.base}/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}).json()
    assert set(ok) == {"access_token", "expires_in"} and ok["expires_in"] == 7200
    cases = [({"grant_type": "client_credential", "appid": "wxwrong", "secret": SECRET}, 40013),
             ({"grant_type": "client_credential", "appid": APP_ID, "secret": "wrong"}, 40125),
             ({"appid": APP_ID, "secret": SECRET}, 40002),
             ({"grant_type": "authorization_code", "appid": APP_ID, "secret": SECRET}, 40002)]
    for params, code in cases:
        resp = requests.get(f"{wx.base}/cgi-bin/token", params=params)
        assert errcode(resp) == code
        assert resp.json()["errmsg"].startswith(ERRMSG[code] + " rid: ")


def test_refreshed_token_keeps_old_one_alive_five_minutes(start_stand_in: Callable[..., StandIn]) -> None:
    now = [1_700_000_000.0]
    wx = start_stand_in(clock=lambda: now[0])
    old, new = wx.token(), wx.token()
    assert old != new
    assert errcode(wx.call("message/custom/send", text_body("o1", "a"), token=old)) == 0
    now[0] += 301
    assert errcode(wx.call("message/custom/send", text_body("o1", "b"), token=old)) == 40001
    assert errcode(wx.call("message/custom/send", text_body("o1", "c"), token=new)) == 0
    now[0] += 7200
    assert errcode(wx.call("message/custom/send", text_body("o1", "d"), token=new)) == 42001


def test_stable_token_is_stable_unless_forced(wx: StandIn) -> None:
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    first = wx.call("stable_token", body).json()
    again = wx.call("stable_token", body).json()
    assert first["access_token"] == again["access_token"] and again["expires_in"] <= 7200
    wx.token()  # cgi-bin/token and stable_token do not affect each other
    assert errcode(wx.call("user/info?openid=x", method="GET", token=first["access_token"])) == 40003
    forced = wx.call("stable_token", {**body, "force_refresh": True}).json()
    assert forced["access_token"] != first["access_token"]
    assert errcode(wx.call("tags/get", method="GET", token=first["access_token"])) == 40001
    assert errcode(wx.call("stable_token", method="GET")) == 43002
    assert errcode(wx.call("stable_token", {**body, "secret": "nope"})) == 40125


def test_access_token_missing_unknown_expired(wx: StandIn) -> None:
    assert errcode(wx.call("message/custom/send", text_body("o1", "hi"))) == 41001
    assert errcode(wx.call("message/custom/send", text_body("o1", "hi"), token="not-a-token")) == 40001
    token = wx.token()
    wx.control("POST", "expire-tokens")
    resp = wx.call("message/custom/send", text_body("o1", "hi"), token=token)
    assert errcode(resp) == 42001 and resp.json()["errmsg"].startswith("access_token expired")
    assert errcode(wx.call("message/custom/send", text_body("o1", "hi"), token=wx.token())) == 0


def test_request_body_and_method_errors(wx: StandIn) -> None:
    token = wx.token()
    assert errcode(wx.call("message/custom/send", raw=b"{not json", token=token)) == 47001
    assert errcode(wx.call("message/custom/send", raw="{}".encode("utf-16"), token=token)) == 47001
    assert errcode(wx.call("message/custom/send", raw=b"[1, 2]", token=token)) == 47001
    assert errcode(wx.call("message/custom/send", raw=b"", token=token)) == 44002
    assert errcode(wx.call("message/custom/send", method="GET", token=token)) == 43002
    assert errcode(wx.call("no/such/api", {}, token=token)) == 40066


# ---- messages ---------------------------------------------------------------------------------------------------
def test_custom_send_is_recorded_per_openid(wx: StandIn) -> None:
    token = wx.token()
    assert errcode(wx.call("message/custom/send", text_body("o_a", "停水通知"), token=token)) == 0
    news = {"touser": "o_b", "msgtype": "news", "news": {"articles": [
        {"title": "社区活动", "description": "周六上午", "url": "https://example.org/a", "picurl": ""}]}}
    assert errcode(wx.call("message/custom/send", news, token=token)) == 0
    first = wx.messages("o_a")
    assert [(m["kind"], m["msgtype"], m["content"]) for m in first] == [("custom", "text", "停水通知")]
    assert first[0]["seq"] > 0 and abs(first[0]["time"] - time.time()) < 60
    assert wx.messages("o_b")[0]["summary"].startswith("图文: 社区活动")
    assert wx.messages("o_a", after=first[0]["seq"]) == []
    assert len(wx.messages()) == 2


def test_custom_send_rejections(wx: StandIn) -> None:
    token = wx.token()
    two = {"touser": "o1", "msgtype": "news", "news": {"articles": [{"title": "a"}, {"title": "b"}]}}
    assert errcode(wx.call("message/custom/send", two, token=token)) == 45008
    assert errcode(wx.call("message/custom/send", text_body("o1", ""), token=token)) == 44004
    assert errcode(wx.call("message/custom/send", {"touser": "o1", "msgtype": "fax"}, token=token)) == 40008
    wx.control("POST", "unsubscribe", json={"openid": "o_gone"})
    assert errcode(wx.call("message/custom/send", text_body("o_gone", "hi"), token=token)) == 45015
    assert wx.messages() == []


def test_ascii_escaped_json_reaches_the_resident_escaped(wx: StandIn) -> None:
    token = wx.token()
    # requests' json= escapes Chinese as \uXXXX; WeChat shows those escapes to the resident verbatim.
    resp = requests.post(f"{wx.base}/cgi-bin/message/custom/send", params={"access_token": token},
                         json=text_body("o1", "你好"))
    assert errcode(resp) == 0
    recorded = wx.messages("o1")[0]
    assert recorded["content"] == "\\u4f60\\u597d" and recorded["escaped_unicode"] is True


def test_template_send_and_client_msg_id(wx: StandIn) -> None:
    client = wx.client()
    result = client.message.send_template("o_t", "TPL_NOTICE", {"thing1": {"value": "停电检修"}}, url="https://x.org")
    assert isinstance(result["msgid"], int)
    recorded = wx.messages("o_t")
    assert recorded[0]["kind"] == "template" and "thing1: 停电检修" in recorded[0]["summary"]
    token = wx.token()
    body = {"touser": "o_t", "template_id": "TPL", "client_msg_id": "ticket-42", "data": {}}
    one, two = (wx.call("message/template/send", body, token=token).json() for _ in range(2))
    assert one["msgid"] == two["msgid"] and len(wx.messages("o_t")) == 2
    assert errcode(wx.call("message/template/send", {"touser": "o_t", "data": {}}, token=token)) == 40037
    wx.control("POST", "unsubscribe", json={"openid": "o_t"})
    assert errcode(wx.call("message/template/send", {**body, "client_msg_id": "other"}, token=token)) == 43004


# ---- wechatpy's own client ------------------------------------------------------------------------------------
def token_fetches(wx: StandIn) -> int:
    return len(wx.control("GET", "calls", params={"path": "token"}))


def test_wechatpy_fetches_token_once_and_recovers_from_expiry(wx: StandIn) -> None:
    client = wx.client()
    client.message.send_text("o_w", "第一条")
    client.message.send_text("o_w", "第二条")
    assert token_fetches(wx) == 1
    wx.control("POST", "expire-tokens")
    client.message.send_text("o_w", "第三条")  # wechatpy refetches on 42001 and retries
    assert token_fetches(wx) == 2
    codes = [c["errcode"] for c in wx.control("GET", "calls", params={"path": "message/custom/send"})]
    assert codes == [0, 0, 42001, 0]
    assert [m["content"] for m in wx.messages("o_w")] == ["第一条", "第二条", "第三条"]


@pytest.mark.parametrize("code", [40001, 42001, 45009, 45011, 45015, 43004, 40003, 43101, -1])
def test_fail_injection(wx: StandIn, code: int) -> None:
    token = wx.token()
    wx.control("POST", "fail", json={"path": "message/custom/send", "errcode": code, "times": 1})
    assert errcode(wx.call("tags/get", method="GET", token=token)) == 0  # other paths unaffected
    resp = wx.call("message/custom/send", text_body("o1", "hi"), token=token)
    assert errcode(resp) == code and resp.json()["errmsg"].startswith(ERRMSG[code])
    assert errcode(wx.call("message/custom/send", text_body("o1", "hi"), token=token)) == 0
    assert [m["content"] for m in wx.messages("o1")] == ["hi"]


def test_fail_injection_through_wechatpy(wx: StandIn) -> None:
    client = wx.client()
    client.fetch_access_token()
    wx.control("POST", "fail", json={"path": "*", "errcode": 45009})
    with pytest.raises(APILimitedException):
        client.message.send_text("o1", "a")
    wx.control("POST", "fail", json={"path": "message/custom/send", "errcode": 45011, "times": 2})
    for _ in range(2):
        with pytest.raises(WeChatClientException) as info:
            client.message.send_text("o1", "b")
        assert info.value.errcode == 45011
    wx.control("POST", "fail", json={"path": "message/custom/send", "http": 502})
    with pytest.raises(WeChatClientException) as info:
        client.message.send_text("o1", "c")
    assert info.value.errcode is None and info.value.response.status_code == 502
    wx.control("POST", "fail", json={"path": "message/custom/send", "errcode": 40001})
    client.message.send_text("o1", "d")  # wechatpy treats 40001 as a stale token: refetch and retry
    assert [m["content"] for m in wx.messages("o1")] == ["d"]


def test_control_api_rejects_unknown_failures_and_resets(wx: StandIn) -> None:
    resp = requests.post(f"{wx.base}/_fake/fail", json={"path": "*", "errcode": 12345})
    assert resp.status_code == 400
    assert requests.post(f"{wx.base}/_fake/fail", json={"path": "*", "http": 200}).status_code == 400
    wx.call("message/custom/send", text_body("o1", "x"), token=wx.token())
    wx.control("POST", "reset")
    assert wx.messages() == [] and wx.control("GET", "calls") == [] and wx.control("GET", "menu") is None


def test_stall_delays_matching_calls(wx: StandIn) -> None:
    token = wx.token()
    wx.control("POST", "stall", json={"path": "message/custom/send", "seconds": 0.6, "times": 2})
    with pytest.raises(requests.ReadTimeout):
        wx.call("message/custom/send", text_body("o1", "slow"), token=token, timeout=0.2)
    started = time.monotonic()
    assert errcode(wx.call("tags/get", method="GET", token=token)) == 0
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    assert errcode(wx.call("message/custom/send", text_body("o1", "slow"), token=token)) == 0
    assert time.monotonic() - started >= 0.55
    started = time.monotonic()
    assert errcode(wx.call("message/custom/send", text_body("o1", "fast"), token=token)) == 0
    assert time.monotonic() - started < 0.5


# ---- tags and mass messages -------------------------------------------------------------------------------------
def test_mass_send_by_tag_with_wechatpy(wx: StandIn) -> None:
    for openid in ("o_1", "o_2", "o_3"):
        wx.control("POST", "subscribe", json={"openid": openid})
    client = wx.client()
    tag_id = client.tag.create("3号楼")["id"]
    client.tag.tag_user(tag_id, ["o_1", "o_2"])
    assert client.tag.get_user_tag("o_1") == [tag_id]
    assert sorted(client.tag.get_tag_users(tag_id)["data"]["openid"]) == ["o_1", "o_2"]
    assert {t["id"]: t["count"] for t in client.tag.get()}[tag_id] == 2
    result = client.message.send_mass_text(tag_id, "3号楼明天停水")
    assert result["errmsg"] == "send job submission success" and "msg_data_id" not in result
    assert {m["openid"] for m in wx.messages() if m["kind"] == "mass"} == {"o_1", "o_2"}
    with pytest.raises(WeChatClientException) as info:  # same scope and content within 24 h
        client.message.send_mass_text(tag_id, "3号楼明天停水")
    assert info.value.errcode == 45065
    client.message.send_mass_text(tag_id, "3号楼明天停水", client_msg_id="notice-2")
    client.tag.untag_user(tag_id, "o_2")
    token = wx.token()
    body = {"filter": {"is_to_all": False, "tag_id": tag_id}, "msgtype": "text", "text": {"content": "补充"}}
    assert errcode(wx.call("message/mass/sendall", body, token=token)) == 0
    assert [m["openid"] for m in wx.messages() if m["content"] == "补充"] == ["o_1"]
    unknown = {**body, "filter": {"is_to_all": False, "tag_id": 9999}}
    assert errcode(wx.call("message/mass/sendall", unknown, token=token)) == 45159
    to_all = {"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": "全体"}}
    assert errcode(wx.call("message/mass/sendall", to_all, token=token)) == 0
    assert len([m for m in wx.messages() if m["content"] == "全体"]) == 3


def test_mass_send_to_openids_and_tag_limits(wx: StandIn) -> None:
    token = wx.token()
    one = {"touser": ["o_1"], "msgtype": "text", "text": {"content": "x"}}
    assert errcode(wx.call("message/mass/send", one, token=token)) == 40130
    mp = {"touser": ["o_1", "o_2"], "msgtype": "mpnews", "mpnews": {"media_id": "MEDIA"}, "send_ignore_reprint": 0}
    result = wx.call("message/mass/send", mp, token=token).json()
    assert result["errcode"] == 0 and {"msg_id", "msg_data_id"} <= set(result)
    assert {m["openid"] for m in wx.messages()} == {"o_1", "o_2"}
    tag = wx.call("tags/create", {"tag": {"name": "志愿者"}}, token=token).json()["tag"]
    assert errcode(wx.call("tags/create", {"tag": {"name": "志愿者"}}, token=token)) == 45157
    assert errcode(wx.call("tags/create", {"tag": {"name": "长" * 11}}, token=token)) == 45158
    too_many = {"openid_list": [f"o_{n}" for n in range(51)], "tagid": tag["id"]}
    assert errcode(wx.call("tags/members/batchtagging", too_many, token=token)) == 40032
    bad_tag = {"openid_list": ["o_1"], "tagid": 4242}
    assert errcode(wx.call("tags/members/batchtagging", bad_tag, token=token)) == 45159


# ---- menu, qrcode, user info ------------------------------------------------------------------------------------
MENU = {"button": [
    {"type": "click", "name": "办事指南", "key": "GUIDE"},
    {"name": "社区", "sub_button": [
        {"type": "view", "name": "社区公告", "url": "https://example.org/notice"},
        {"type": "click", "name": "我要反映问题", "key": "REPORT"},
        {"type": "location_select", "name": "发送位置", "key": "WHERE"}]},
    {"type": "view", "name": "官网", "url": "https://example.org"}]}


def test_menu_create_get_delete(wx: StandIn) -> None:
    client = wx.client()
    client.menu.create(MENU)
    got = client.menu.get()["menu"]["button"]
    assert got[0]["sub_button"] == [] and got[1]["sub_button"][1]["key"] == "REPORT"
    assert wx.control("GET", "menu")["button"][2]["url"] == "https://example.org"
    client.menu.delete()
    assert client.menu.get() is None  # wechatpy maps 46003 "menu no exist" to None
    assert errcode(wx.call("menu/get", method="GET", token=wx.token())) == 46003


def _menu_with(**changes: Any) -> dict[str, Any]:
    menu = json.loads(json.dumps(MENU))
    for path, value in changes.items():
        target: Any = menu
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return menu


@pytest.mark.parametrize("menu, code", [
    ({"button": []}, 40016),
    ({"button": MENU["button"] + [MENU["button"][0]]}, 40016),
    (_menu_with(button__1__sub_button=[{"type": "click", "name": "x", "key": "K"}] * 6), 40023),
    (_menu_with(button__0__name="南湖街道办事处"), 40018),  # 21 bytes > 16
    (_menu_with(button__1__sub_button__0__name="很" * 21), 40025),  # 63 bytes > 60
    (_menu_with(button__0__key=None), 40019),
    (_menu_with(button__0__key="K" * 129), 40019),
    (_menu_with(button__2__url=None), 40020),
    (_menu_with(button__0__type="teleport"), 40017),
    (_menu_with(button__1__sub_button__1__key=None), 40026),
])
def test_menu_validation(wx: StandIn, menu: dict[str, Any], code: int) -> None:
    assert errcode(wx.call("menu/create", menu, token=wx.token())) == code
    assert wx.control("GET", "menu") is None


def test_menu_create_refuses_unicode_escapes(wx: StandIn) -> None:
    resp = requests.post(f"{wx.base}/cgi-bin/menu/create", params={"access_token": wx.token()}, json=MENU)
    assert errcode(resp) == 40033


def test_qrcode_create(wx: StandIn) -> None:
    token = wx.token()
    temp = wx.call("qrcode/create", {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 7}}},
                   token=token).json()
    assert temp["expire_seconds"] == 60 and temp["url"].startswith("http://weixin.qq.com/q/") and temp["ticket"]
    long = wx.call("qrcode/create", {"expire_seconds": 9_999_999, "action_name": "QR_STR_SCENE",
                                     "action_info": {"scene": {"scene_str": "building-3"}}}, token=token).json()
    assert long["expire_seconds"] == 2592000
    perm = wx.call("qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE",
                                     "action_info": {"scene": {"scene_str": "gate"}}}, token=token).json()
    assert "expire_seconds" not in perm and perm["ticket"]
    for bad in ({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100001}}},
                {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 0}}},
                {"action_name": "QR_NOPE", "action_info": {"scene": {"scene_id": 1}}}):
        assert errcode(wx.call("qrcode/create", bad, token=token)) == 40053
    assert [q["scene"] for q in wx.control("GET", "qrcodes")] == [7, "building-3", "gate"]


def test_user_info(wx: StandIn) -> None:
    token = wx.token()
    assert errcode(wx.call("user/info?openid=o_unknown", method="GET", token=token)) == 40003
    assert errcode(wx.call("user/info", method="GET", token=token)) == 41009
    wx.control("POST", "subscribe", json={"openid": "o_r", "subscribe_scene": "ADD_SCENE_QR_CODE",
                                          "qr_scene_str": "gate"})
    info = wx.client().user.get("o_r")
    assert info["subscribe"] == 1 and info["qr_scene_str"] == "gate" and info["tagid_list"] == []
    wx.control("POST", "unsubscribe", json={"openid": "o_r"})
    assert wx.client().user.get("o_r") == {"subscribe": 0, "openid": "o_r", "tagid_list": []}


# ---- nanhu chat ---------------------------------------------------------------------------------------------------
def echo_webhook(cfg: Any, fake_base: str) -> tuple[Flask, list[dict[str, str]]]:
    """A stand-in bot: checks WeChat's signature, answers every push, and pushes a custom message on request."""
    app = Flask("echo")
    received: list[dict[str, str]] = []
    crypto = WeChatCrypto(cfg.wechat.token, cfg.wechat.encoding_aes_key, cfg.wechat.app_id)

    @app.post("/wechat")
    def wechat() -> Response:
        args = request.args
        if sha1_signature(cfg.wechat.token, args["timestamp"], args["nonce"]) != args["signature"]:
            return Response("bad signature", status=403)
        body = request.get_data()
        encrypted = args.get("encrypt_type") == "aes"
        if encrypted:
            body = crypto.decrypt_message(body, args["msg_signature"], args["timestamp"], args["nonce"]).encode()
        msg = {child.tag: child.text or "" for child in ElementTree.fromstring(body)}
        received.append(msg)
        kind, reply = msg["MsgType"], ""
        if kind == "event" and msg["Event"] == "subscribe":
            reply = "欢迎关注南湖" + (f" (场景 {msg['EventKey']})" if msg.get("EventKey") else "")
        elif kind == "event" and msg["Event"] == "CLICK":
            xml = ("<xml><ToUserName><![CDATA[{0}]]></ToUserName><FromUserName><![CDATA[{1}]]></FromUserName>"
                   "<CreateTime>1</CreateTime><MsgType><![CDATA[news]]></MsgType><ArticleCount>1</ArticleCount>"
                   "<Articles><item><Title><![CDATA[本周活动]]></Title><Description><![CDATA[周六义诊]]></Description>"
                   "<PicUrl><![CDATA[]]></PicUrl><Url><![CDATA[https://example.org/w]]></Url></item></Articles></xml>"
                   ).format(msg["FromUserName"], msg["ToUserName"])
            return Response(crypto.encrypt_message(xml, args["nonce"]) if encrypted else xml)
        elif kind == "event":
            return Response("success")
        elif kind == "location":
            reply = f"位置 {float(msg['Location_X']):g},{float(msg['Location_Y']):g} {msg['Label']}"
        elif kind == "voice":
            reply = f"语音: {msg['Recognition']}"
        elif kind == "text" and msg["Content"] == "推送":
            token = requests.get(fake_base + "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": cfg.wechat.app_id, "secret": cfg.wechat.app_secret}).json()
            requests.post(fake_base + "/cgi-bin/message/custom/send", params={"access_token": token["access_token"]},
                          data=json.dumps(text_body(msg["FromUserName"], "这是一条推送"), ensure_ascii=False).encode())
            return Response("success")
        else:
            reply = f"收到: {msg.get('Content', kind)}"
        xml = ("<xml><ToUserName><![CDATA[{0}]]></ToUserName><FromUserName><![CDATA[{1}]]></FromUserName>"
               "<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{2}]]></Content></xml>"
               ).format(msg["FromUserName"], msg["ToUserName"], reply)
        return Response(crypto.encrypt_message(xml, args["nonce"]) if encrypted else xml)

    return app, received


@pytest.fixture
def chat_setup(wx: StandIn) -> Iterator[Callable[[str], tuple[Any, list[dict[str, str]]]]]:
    stops: list[Callable[[], None]] = []

    def setup(mode: str) -> tuple[Any, list[dict[str, str]]]:
        cfg = bot.config.load(ROOT / "config.example.toml", env={}).replace(
            wechat_api_base_url=wx.base + "/cgi-bin/", wechat_mode=mode)
        app, received = echo_webhook(cfg, wx.base)
        base, stop = serve_in_thread(app)
        stops.append(stop)
        return cfg.replace(dev_port=int(base.rsplit(":", 1)[1])), received
    yield setup
    for stop in stops:
        stop()


def chat(cfg: Any, lines: str, **kwargs: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = run_chat(cfg, stdin=io.StringIO(lines), stdout=out, **kwargs)
    return code, out.getvalue()


@pytest.mark.parametrize("mode", ["plain", "safe", "compatible"])
def test_chat_talks_to_the_webhook(chat_setup: Callable[..., Any], wx: StandIn, mode: str) -> None:
    cfg, received = chat_setup(mode)
    code, out = chat(cfg, "你好\n/location 31.2 121.5 南湖社区\n/click MENU_NEWS\n"
                          "/voice 路灯坏了\n推送\n/quit\nignored\n")
    assert code == 0, out
    assert "[回复] 欢迎关注南湖" in out
    assert "[回复] 收到: 你好" in out
    assert "[回复] 位置 31.2,121.5 南湖社区" in out
    assert "1. 本周活动" in out and "周六义诊" in out and "https://example.org/w" in out
    assert "[回复] 语音: 路灯坏了" in out
    assert "[推送] 这是一条推送" in out
    assert "Traceback" not in out
    assert [m.get("Event") or m["MsgType"] for m in received] == ["subscribe", "text", "location", "CLICK",
                                                                  "voice", "text"]
    assert {m["FromUserName"] for m in received} == {"o_demo_resident_1"}
    assert wx.control("GET", "users", params={"openid": "o_demo_resident_1"})["o_demo_resident_1"]["subscribe"] == 1


def test_chat_subscribes_only_the_first_time_and_after_unsubscribe(chat_setup: Callable[..., Any]) -> None:
    cfg, received = chat_setup("plain")
    chat(cfg, "一\n")
    code, out = chat(cfg, "二\n/unsubscribe\n三\n/openid o_other\n/scan gate\n/help\n/nope\n", openid="o_me")
    assert code == 0
    events = [(m["FromUserName"], m.get("Event") or m.get("Content")) for m in received]
    assert events == [("o_demo_resident_1", "subscribe"), ("o_demo_resident_1", "一"),
                      ("o_me", "subscribe"), ("o_me", "二"), ("o_me", "unsubscribe"), ("o_me", "subscribe"),
                      ("o_me", "三"), ("o_other", "subscribe"), ("o_other", "SCAN")]
    assert received[-1]["EventKey"] == "gate" and received[-1]["Ticket"]
    assert "/location" in out and "未知命令 /nope" in out


def test_chat_reports_a_bot_that_is_not_running(wx: StandIn) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = bot.config.load(ROOT / "config.example.toml", env={}).replace(
        dev_port=port, wechat_api_base_url=wx.base + "/cgi-bin/")
    code, out = chat(cfg, "你好\n")
    assert code == 1
    assert f"无法连接到 http://127.0.0.1:{port}/wechat: 请先运行 make run" in out
    assert "Traceback" not in out
    # The failed subscribe is undone, so the next run subscribes again.
    assert wx.control("GET", "users", params={"openid": "o_demo_resident_1"})["o_demo_resident_1"]["subscribe"] == 0


class SlowTerminal(io.StringIO):
    """A terminal whose resident types an openid, then reads for a while before quitting."""

    def __init__(self, wx: StandIn):
        super().__init__()
        self.wx = wx
        self.lines = iter(["o_tty\n", None, "/quit\n"])

    def isatty(self) -> bool:
        return True

    def readline(self, *args: Any) -> str:
        line = next(self.lines)
        if line is None:  # the resident reads; meanwhile the bot pushes something
            self.wx.call("message/custom/send", text_body("o_tty", "后台推送"), token=self.wx.token())
            time.sleep(0.6)
            line = next(self.lines)
        return line


def test_chat_in_a_terminal_polls_pushes_while_idle(chat_setup: Callable[..., Any], wx: StandIn,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import devtools.chat

    monkeypatch.setattr(devtools.chat, "POLL_SECONDS", 0.1)
    cfg, received = chat_setup("plain")
    out = io.StringIO()
    assert run_chat(cfg, stdin=SlowTerminal(wx), stdout=out) == 0
    assert "居民 openid [o_demo_resident_1]: " in out.getvalue()
    assert "[推送] 后台推送\n> " in out.getvalue()
    assert received[0]["FromUserName"] == "o_tty"


def test_chat_works_without_the_stand_in(chat_setup: Callable[..., Any]) -> None:
    cfg, received = chat_setup("plain")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out = chat(cfg.replace(wechat_api_base_url=f"http://127.0.0.1:{port}/cgi-bin/"), "你好\n")
    assert code == 0 and "[回复] 收到: 你好" in out
    assert out.count(f"无法连接到微信模拟服务 http://127.0.0.1:{port}/_fake/") == 1
