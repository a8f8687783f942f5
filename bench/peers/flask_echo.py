"""Row (a): a bare Flask webhook that checks WeChat's signature and returns a fixed reply.

The floor for any Flask-based bot: signature check, body read, a constant XML reply.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, request

TOKEN = "nanhudemotoken"
REPLY = ("<xml><ToUserName><![CDATA[o_bench]]></ToUserName><FromUserName><![CDATA[gh_nanhu]]></FromUserName>"
         "<CreateTime>0</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到]]></Content></xml>")

app = Flask(__name__)


@app.post("/wechat")
def receive() -> Response:
    args = request.args
    expected = hashlib.sha1(
        "".join(sorted((TOKEN, args.get("timestamp", ""), args.get("nonce", "")))).encode()
    ).hexdigest()
    if not hmac.compare_digest(expected, args.get("signature", "")):
        return Response(b"", status=403)
    request.get_data()  # a webhook reads the push, even when it ignores it
    return Response(REPLY, mimetype="application/xml")
