"""Public pages residents open from links in chat: a registration's check-in code as a QR code.

The link carries a signed registration id, so ids cannot be guessed; the page shows the event and
the code, never a name, phone number or openid.
"""
from __future__ import annotations

from html import escape

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, current_app
from itsdangerous import BadSignature, URLSafeSerializer

from bot.config import Config
from storage import events

bp = Blueprint("pages", __name__)
_SALT = "nanhu-registration"
_STATUS = {"confirmed": "报名成功", "waitlisted": "候补中", "cancelled": "已取消"}


def _signer(config: Config) -> URLSafeSerializer:
    return URLSafeSerializer(config.app.secret_key, salt=_SALT)


def registration_link(config: Config, registration_id: int) -> str:
    return f"{config.app.base_url.rstrip('/')}/r/{_signer(config).dumps(registration_id)}"


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:30rem;margin:1rem auto;padding:0 1rem;color:#222}"
        ".code{font-size:2.4rem;letter-spacing:.3rem;font-weight:bold;text-align:center}"
        ".qr svg{width:70%;height:auto;display:block;margin:0 auto}.muted{color:#666}</style>"
        f"<body>{body}</body></html>")
    return Response(html, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


@bp.get("/r/<token>")
def registration_page(token: str) -> Response:
    rt = current_app.extensions["nanhu"]["runtime"]
    try:
        registration_id = _signer(rt.config).loads(token)
    except BadSignature:
        return _page("链接无效", "<h1>链接无效</h1><p>请在公众号里发「我的报名」重新获取。</p>", 404)
    reg = events.registration(rt.db, int(registration_id))
    if reg is None:
        return _page("链接无效", "<h1>链接无效</h1><p>请在公众号里发「我的报名」重新获取。</p>", 404)
    e = reg.event
    start = e.starts_at.astimezone(rt.tz)
    state = "活动已取消" if e.status == "cancelled" else _STATUS.get(reg.status, reg.status)
    body = [f"<h1>{escape(e.title)}</h1>",
            f"<p>{start.month}月{start.day}日 {start:%H:%M}" + (f" · {escape(e.place)}" if e.place else "") + "</p>",
            f"<p>{reg.head_count} 人 · {escape(state)}</p>"]
    if reg.status == "confirmed" and e.status == "open":
        body += ["<p class=muted>入场时请出示此页，或报出签到码：</p>", f"<p class=code>{escape(reg.code)}</p>",
                 f"<div class=qr>{_qr_svg(reg.code)}</div>"]
        if reg.checked_in_at:
            body.append("<p>已签到</p>")
    elif reg.status == "waitlisted":
        body.append(f"<p>候补第 {reg.position} 位，有名额时会自动为您报名并通知您。</p>")
    return _page(e.title, "".join(body))
