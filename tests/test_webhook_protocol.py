"""WeChat's protocol rules at /wechat, over real HTTP: signatures, clock, replay, modes, limits, parsing."""
from __future__ import annotations

import io
import socket
import time

import pytest
import requests

from bot.wechat.replies import Text
from devtools.simulator import Simulator, event_fields, message_xml, parse_reply, sha1_signature, text_fields


def post(stack, body: bytes | str, params: dict, **kwargs) -> requests.Response:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return requests.post(stack.webhook, params=params, data=data, timeout=10, **kwargs)


def signed(stack, body: str, **kwargs):
    return stack.sim.sign(body, **kwargs)


# --- GET verification ----------------------------------------------------------------------------

@pytest.mark.http
def test_get_answers_the_echostr_when_the_signature_matches(app_stack):
    resp = requests.get(app_stack.webhook, params=app_stack.sim.verify_params("4213897126"), timeout=5)
    assert resp.status_code == 200 and resp.text == "4213897126"


@pytest.mark.http
def test_verification_decodes_the_query_as_flask_did(app_stack):
    """Bytes that are not UTF-8 stay percent-encoded; a doubled slash still reaches the webhook."""
    params = app_stack.sim.verify_params("a%FFb")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    assert requests.get(f"{app_stack.webhook}?{query}", timeout=5).text == "a%FFb"
    resp = requests.get(f"{app_stack.url}//wechat?{query.replace('a%FFb', '42')}", timeout=5)
    assert resp.status_code == 200 and resp.text == "42"


@pytest.mark.http
def test_get_with_a_wrong_signature_is_refused_without_detail(app_stack):
    params = app_stack.sim.verify_params("4213897126")
    params["signature"] = "0" * 40
    resp = requests.get(app_stack.webhook, params=params, timeout=5)
    assert resp.status_code == 403 and resp.content == b""


@pytest.mark.http
def test_a_head_check_gets_the_status_of_a_get_without_a_body(app_stack):
    resp = requests.head(app_stack.webhook, params=app_stack.sim.verify_params("4213897126"), timeout=5)
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["Content-Length"] == str(len("4213897126"))


@pytest.mark.http
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_webhook_are_not_allowed(app_stack, method):
    resp = requests.request(method, app_stack.webhook, timeout=5)
    assert resp.status_code == 405 and resp.content == b""
    assert {m.strip() for m in resp.headers["Allow"].split(",")} >= {"GET", "POST"}


@pytest.mark.http
def test_the_site_beside_the_webhook_is_still_served(app_stack):
    """The webhook answers /wechat in front of the Flask site; every other path reaches the site."""
    assert requests.get(app_stack.url + "/healthz", timeout=5).json()["status"] == "ok"
    assert requests.get(app_stack.url + "/wechat/", timeout=5).status_code == 404


# --- signatures, clock, replay -------------------------------------------------------------------

def test_a_signed_text_gets_a_reply_addressed_back_to_the_resident(app_stack):
    reply = app_stack.client().say("o_alice", "帮助")
    assert reply["ToUserName"] == "o_alice" and reply["FromUserName"] == "gh_nanhu"
    assert reply["MsgType"] == "text" and "反映问题" in reply["Content"]


@pytest.mark.http
def test_a_forged_signature_is_refused(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_mallory", "帮助")))
    req.params["signature"] = sha1_signature("not-our-token", req.params["timestamp"], req.params["nonce"])
    resp = post(app_stack, req.body, req.params)
    assert resp.status_code == 403 and resp.content == b""


@pytest.mark.http
def test_a_stale_timestamp_is_refused(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")), timestamp=int(time.time()) - 301)
    assert post(app_stack, req.body, req.params).status_code == 403


@pytest.mark.http
def test_a_timestamp_from_the_future_is_refused(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")), timestamp=int(time.time()) + 400)
    assert post(app_stack, req.body, req.params).status_code == 403


@pytest.mark.http
def test_a_non_numeric_timestamp_is_refused(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")), timestamp=0)
    req.params["timestamp"] = "yesterday"
    req.params["signature"] = sha1_signature(app_stack.sim.token, "yesterday", req.params["nonce"])
    assert post(app_stack, req.body, req.params).status_code == 403


@pytest.mark.http
def test_clock_skew_zero_turns_the_check_off(make_stack):
    stack = make_stack(wechat_max_clock_skew=0)
    req = signed(stack, message_xml(text_fields("o_alice", "帮助")), timestamp=int(time.time()) - 86400 * 30)
    resp = post(stack, req.body, req.params)
    assert resp.status_code == 200 and "反映问题" in parse_reply(resp.text)["Content"]


@pytest.mark.http
def test_a_reused_timestamp_and_nonce_with_another_body_is_refused(app_stack):
    first = signed(app_stack, message_xml(text_fields("o_alice", "帮助")))
    assert post(app_stack, first.body, first.params).status_code == 200
    forged = message_xml(text_fields("o_alice", "我要投诉 你们全都不管"))
    resp = post(app_stack, forged, first.params)
    assert resp.status_code == 403 and resp.content == b""


@pytest.mark.http
def test_a_verbatim_retry_is_answered_from_the_dedup_cache(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")))
    first = post(app_stack, req.body, req.params)
    again = post(app_stack, req.body, req.params)
    assert first.status_code == again.status_code == 200
    assert parse_reply(again.text)["Content"] == parse_reply(first.text)["Content"]


# --- safe and compatible mode --------------------------------------------------------------------

@pytest.mark.http
def test_safe_mode_round_trip_decrypts_and_encrypts(make_stack):
    stack = make_stack(wechat_mode="safe")
    client = stack.client("safe")
    req = client.sim.sign(message_xml(text_fields("o_alice", "帮助")))
    assert b"<Encrypt>" in req.body and b"FromUserName" not in req.body
    resp = post(stack, req.body, req.params)
    assert resp.status_code == 200 and "<Encrypt>" in resp.text and "反映问题" not in resp.text
    reply = parse_reply(client.sim.open_reply(resp.content))
    assert reply["ToUserName"] == "o_alice" and "反映问题" in reply["Content"]


@pytest.mark.http
def test_safe_mode_refuses_a_message_encrypted_for_another_appid(make_stack):
    stack = make_stack(wechat_mode="safe")
    other = Simulator(stack.sim.token, "wxsomeoneelse00001", stack.sim.encoding_aes_key, "safe")
    req = other.sign(message_xml(text_fields("o_alice", "帮助")))
    resp = post(stack, req.body, req.params)
    assert resp.status_code == 403 and resp.content == b""


@pytest.mark.http
def test_safe_mode_refuses_an_undecryptable_body_with_400(make_stack):
    stack = make_stack(wechat_mode="safe")
    ts, nonce, garbage = str(int(time.time())), "12345", "bm90IGNpcGhlcnRleHQ="
    params = {"signature": sha1_signature(stack.sim.token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "encrypt_type": "aes", "msg_signature": sha1_signature(stack.sim.token, ts, nonce, garbage)}
    resp = post(stack, f"<xml><ToUserName>gh_nanhu</ToUserName><Encrypt>{garbage}</Encrypt></xml>", params)
    assert resp.status_code == 400 and resp.content == b""


@pytest.mark.http
def test_safe_mode_refuses_a_bad_msg_signature(make_stack):
    stack = make_stack(wechat_mode="safe")
    req = stack.client("safe").sim.sign(message_xml(text_fields("o_alice", "帮助")))
    req.params["msg_signature"] = "f" * 40
    assert post(stack, req.body, req.params).status_code == 403


@pytest.mark.http
def test_safe_mode_refuses_a_plaintext_push(make_stack):
    stack = make_stack(wechat_mode="safe")
    req = stack.client("plain").sim.sign(message_xml(text_fields("o_alice", "帮助")))
    assert post(stack, req.body, req.params).status_code == 400


@pytest.mark.http
def test_plain_mode_refuses_an_encrypted_push_instead_of_ignoring_it(app_stack):
    req = Simulator(app_stack.sim.token, app_stack.sim.app_id, app_stack.sim.encoding_aes_key, "safe").sign(
        message_xml(text_fields("o_alice", "帮助")))
    assert post(app_stack, req.body, req.params).status_code == 400


@pytest.mark.http
def test_compatible_mode_accepts_encrypted_and_plain_pushes(make_stack):
    stack = make_stack(wechat_mode="compatible")
    encrypted = stack.client("compatible")
    req = encrypted.sim.sign(message_xml(text_fields("o_alice", "帮助")))
    assert b"<Encrypt>" in req.body and b"FromUserName" in req.body
    resp = post(stack, req.body, req.params)
    assert "<Encrypt>" in resp.text
    assert "反映问题" in parse_reply(encrypted.sim.open_reply(resp.content))["Content"]
    assert "反映问题" in stack.client("plain").say("o_bob", "帮助")["Content"]


# --- bodies --------------------------------------------------------------------------------------

@pytest.mark.http
def test_a_body_over_64_kib_is_refused_with_413(app_stack):
    body = message_xml(text_fields("o_alice", "长" * 30000))
    assert len(body.encode()) > 64 * 1024
    req = signed(app_stack, body)
    assert post(app_stack, req.body, req.params).status_code == 413


@pytest.mark.http
def test_a_chunked_body_over_64_kib_is_refused_with_413(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_alice", "长" * 30000)))

    def chunks():
        for i in range(0, len(req.body), 4096):
            yield req.body[i:i + 4096]

    resp = requests.post(app_stack.webhook, params=req.params, data=chunks(), timeout=10)
    assert resp.status_code == 413


@pytest.mark.http
@pytest.mark.parametrize("body", [
    b"<xml><ToUserName>gh_nanhu</ToUserName><MsgType>text",                       # truncated
    b"this is not xml",
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b"<xml><FromUserName>o_x</FromUserName><MsgType>text</MsgType><Content>&b;</Content></xml>",  # entities
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<xml><Content>&x;</Content></xml>",                                          # external entity
    "<xml><FromUserName>o_x</FromUserName><MsgType>text</MsgType><Content>报名</Content></xml>".encode("gbk"),
    b"<other><MsgType>text</MsgType></other>",
], ids=["truncated", "not-xml", "entities", "external-entity", "gbk", "wrong-root"])
def test_malformed_bodies_are_refused_with_400(app_stack, body):
    req = signed(app_stack, "")
    assert post(app_stack, body, req.params).status_code == 400


def test_an_unknown_message_type_gets_success(app_stack):
    fields = text_fields("o_alice", "x")
    fields["MsgType"] = "miniprogrampage"
    resp = app_stack.client().post_fields(fields)
    assert resp.status_code == 200 and resp.text == "success"


def test_an_unknown_event_gets_success(app_stack):
    resp = app_stack.client().post_fields(event_fields("o_alice", "user_get_card"))
    assert resp.status_code == 200 and resp.text == "success"


# --- reply limits --------------------------------------------------------------------------------

def test_a_reply_longer_than_the_limit_is_truncated():
    from bot.wechat import replies

    xml = replies.render(Text("很长的回复。" * 500), "o_a", "gh_nanhu", 0)
    content = parse_reply(xml)["Content"]
    assert len(content.encode("utf-8")) <= 2048 and content.endswith(replies.TRUNCATION_MARK)
    news = replies.render(replies.News(replies.Article("标" * 100, "描" * 300, "http://x")), "o_a", "gh", 0)
    parsed = parse_reply(news)
    assert parsed["ArticleCount"] == "1" and len(parsed["Articles"]) == 1
    assert len(parsed["Articles"][0]["Title"]) <= replies.TITLE_LIMIT


# --- replays with the signature re-split, and the edges of the rules ------------------------------

def _resplit(params: dict) -> dict:
    """Move the nonce's first character to the end of the timestamp. While the parts keep their sorted
    order, their concatenation, and so the signature, stays the same."""
    ts, nonce = params["timestamp"], params["nonce"]
    return {**params, "timestamp": ts + nonce[0], "nonce": nonce[1:]}


@pytest.mark.http
def test_a_captured_signature_cannot_be_replayed_by_re_splitting_timestamp_and_nonce(make_stack):
    stack = make_stack(wechat_max_clock_skew=0)
    req = signed(stack, message_xml(text_fields("o_alice", "帮助")), nonce_="99123456")  # "9..." sorts after "17..."
    moved = _resplit(req.params)
    assert moved and sha1_signature(stack.sim.token, moved["timestamp"], moved["nonce"]) == req.params["signature"]
    assert post(stack, req.body, req.params).status_code == 200
    forged = message_xml(text_fields("o_alice", "我要投诉 伪造的内容"))
    assert post(stack, forged, moved).status_code == 403


@pytest.mark.http
def test_a_padded_timestamp_is_not_wechats_and_is_refused(app_stack):
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")), nonce_="0123450")
    padded = {**req.params, "timestamp": "0" + req.params["timestamp"], "nonce": "012345"}
    assert sha1_signature(app_stack.sim.token, padded["timestamp"], padded["nonce"]) == req.params["signature"]
    assert post(app_stack, req.body, padded).status_code == 403


@pytest.mark.http
def test_a_replay_is_refused_even_with_the_clock_check_off(make_stack):
    stack = make_stack(wechat_max_clock_skew=0)
    req = signed(stack, message_xml(text_fields("o_alice", "帮助")), timestamp=int(time.time()) - 86400)
    assert post(stack, req.body, req.params).status_code == 200
    assert post(stack, message_xml(text_fields("o_alice", "伪造")), req.params).status_code == 403


@pytest.mark.http
def test_compatible_mode_refuses_a_forged_plain_body_under_a_captured_signature(make_stack):
    stack = make_stack(wechat_mode="compatible")
    req = stack.client("plain").sim.sign(message_xml(text_fields("o_alice", "帮助")))
    assert post(stack, req.body, req.params).status_code == 200
    assert post(stack, message_xml(text_fields("o_alice", "伪造")), req.params).status_code == 403


@pytest.mark.http
def test_a_body_of_exactly_64_kib_is_accepted(app_stack):
    fields = text_fields("o_alice", "")
    empty = len(message_xml(fields).encode())
    fields["Content"] = "a" * (64 * 1024 - empty)
    req = signed(app_stack, message_xml(fields))
    assert len(req.body) == 64 * 1024
    assert post(app_stack, req.body, req.params).status_code == 200
    fields["Content"] += "a"
    req = signed(app_stack, message_xml(fields))
    assert post(app_stack, req.body, req.params).status_code == 413


@pytest.mark.http
def test_a_body_cut_short_of_its_content_length_is_refused_with_400(app_stack):
    """A client that announces more than it sends and stops writing gets a 400, not a 500."""
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")))
    query = "&".join(f"{k}={v}" for k, v in req.params.items())
    head = (f"POST /wechat?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(req.body) + 100}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", app_stack.server.port), timeout=10) as sock:
        sock.sendall(head + req.body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]


def test_a_body_cut_short_is_refused_under_a_server_that_hands_it_over_too(app_stack):
    """gunicorn gives the app what arrived before the client stopped (it sets wsgi.input_terminated)."""
    req = signed(app_stack, message_xml(text_fields("o_alice", "帮助")))
    statuses = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/wechat", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "QUERY_STRING": "&".join(f"{k}={v}" for k, v in req.params.items()), "wsgi.url_scheme": "http",
               "CONTENT_LENGTH": str(len(req.body) + 100), "wsgi.input": io.BytesIO(req.body),
               "wsgi.input_terminated": True, "wsgi.errors": io.StringIO()}
    body = b"".join(app_stack.app(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["400 Bad Request"] and body == b""


@pytest.mark.http
@pytest.mark.parametrize("inner", [
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><FromUserName>o_x</FromUserName>'
    b"<MsgType>text</MsgType><Content>&a;</Content></xml>",
    "<xml><FromUserName>o_x</FromUserName><MsgType>text</MsgType><Content>报名</Content></xml>".encode("gbk"),
], ids=["entities", "gbk"])
def test_safe_mode_refuses_a_decrypted_body_that_is_malformed(make_stack, inner):
    import base64

    from wechatpy.crypto import PrpCrypto

    stack = make_stack(wechat_mode="safe")
    crypto = PrpCrypto(base64.b64decode(stack.sim.encoding_aes_key + "="))
    encrypt = crypto.encrypt(inner, stack.sim.app_id).decode()
    ts, nonce = str(int(time.time())), "24681357"
    params = {"signature": sha1_signature(stack.sim.token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "encrypt_type": "aes", "msg_signature": sha1_signature(stack.sim.token, ts, nonce, encrypt)}
    resp = post(stack, f"<xml><ToUserName>gh_nanhu</ToUserName><Encrypt>{encrypt}</Encrypt></xml>", params)
    assert resp.status_code == 400 and resp.content == b""
