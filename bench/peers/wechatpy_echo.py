"""Row (b), the reference: wechatpy's echo bot on Flask (check_signature, parse_message, create_reply).

The way wechatpy's documentation writes a plain-mode webhook; nanhu's rows are compared with this one.
"""
from __future__ import annotations

from flask import Flask, Response, request
from wechatpy import create_reply, parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

TOKEN = "nanhudemotoken"

app = Flask(__name__)


@app.post("/wechat")
def receive() -> Response:
    args = request.args
    try:
        check_signature(TOKEN, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
    except InvalidSignatureException:
        return Response(b"", status=403)
    msg = parse_message(request.get_data())
    reply = create_reply(msg.content if msg.type == "text" else "success", msg)
    return Response(reply.render(), mimetype="application/xml")
