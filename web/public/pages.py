"""Public pages residents open from links in chat: a registration's check-in code as a QR code, and a
party member's identity card (its image and its verification page, at the end of this file).

The link carries a signed registration id, so ids cannot be guessed; the page shows the event and
the code, never a name, phone number or openid.
"""
from __future__ import annotations

from html import escape

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, current_app

from bot import card_picture, links
from storage import cards, events

bp = Blueprint("pages", __name__)
_STATUS = {"confirmed": "报名成功", "waitlisted": "候补中", "cancelled": "已取消"}


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
    ids = links.read_registration_token(rt.config, token)
    reg = events.registration(rt.db, ids[0]) if ids else None
    if reg is None or reg.code != ids[1]:
        return _page("链接无效", "<h1>链接无效</h1><p>请在公众号里发「我的报名」重新获取。</p>", 404)
    e = reg.event
    start = e.starts_at.astimezone(rt.tz)
    state = ("活动已取消" if e.status == "cancelled" else "已签到" if reg.checked_in_at
             else _STATUS.get(reg.status, reg.status))
    body = [f"<h1>{escape(e.title)}</h1>",
            f"<p>{start.month}月{start.day}日 {start:%H:%M}" + (f" · {escape(e.place)}" if e.place else "") + "</p>",
            f"<p>{reg.head_count} 人 · {escape(state)}</p>"]
    if reg.status == "confirmed" and e.status == "open":
        if reg.checked_in_at:
            local = reg.checked_in_at.astimezone(rt.tz)
            body.append(f"<p class=code>已签到</p><p class=muted>{local.month}月{local.day}日 {local:%H:%M} 签到</p>")
        else:
            body += ["<p class=muted>入场时请出示此页，或报出签到码：</p>", f"<p class=code>{escape(reg.code)}</p>",
                     f"<div class=qr>{_qr_svg(reg.code)}</div>"]
    elif reg.status == "waitlisted":
        body.append(f"<p>候补第 {reg.position} 位，有名额时会自动为您报名并通知您。</p>")
    return _page(e.title, "".join(body))


# --- identity cards (亮身份) ------------------------------------------------------------------------------
# The card image and its public verification page. Both links carry a signed (member id, serial); a
# forged or altered token, or one naming no member, is 404. The page shows the masked name, branch,
# community and whether the card is valid, never the full name, phone or openid. The image of a
# revoked card is still served (200), greyed, with the masked name and stamped 已注销, so a card
# forwarded before it was revoked says so wherever it is opened.

_INVALID_CARD = "<h1>无效</h1><p>这不是有效的党员证链接。请让对方在公众号里发「亮身份」重新出示。</p>"


@bp.get("/card/<token>.png")
def card_image(token: str) -> Response:
    rt = current_app.extensions["nanhu"]["runtime"]
    ids = links.read_image_token(rt.config, token)
    card = cards.card(rt.db, *ids) if ids else None
    if card is None:
        return Response("无效", status=404, mimetype="text/plain", headers={"Cache-Control": "no-store"})
    verify_url = f"{rt.config.app.base_url.rstrip('/')}/v/{links.token(rt.config, *ids)}"
    try:
        png = card_picture.render(card, verify_url, rt.tz)
    except card_picture.CardFontMissing as exc:
        current_app.logger.warning("identity card image not drawn: %s", exc)
        return Response("党员证图片暂不可用，请打开验真链接。", status=503, mimetype="text/plain",
                        headers={"Cache-Control": "no-store"})
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-cache"})


@bp.get("/v/<token>")
def card_verification(token: str) -> Response:
    rt = current_app.extensions["nanhu"]["runtime"]
    ids = links.read_token(rt.config, token)
    found = cards.verify(rt.db, *ids) if ids else None
    if found is None or found.status == cards.UNKNOWN:
        return _page("无效", _INVALID_CARD, 404)
    now = rt.now().astimezone(rt.tz)
    if found.valid:
        verdict = "<p class=ok>有效</p><p>此人是南湖街道登记在册、已认证的中共党员。</p>"
    else:
        verdict = "<p class=bad>已注销</p><p>此党员证已注销，不能作为党员身份凭证。</p>"
    body = ("<h1>南湖街道 · 党员证验真</h1>" + verdict +
            f"<table><tr><th>姓名</th><td>{escape(found.masked_name)}</td></tr>"
            f"<tr><th>支部</th><td>{escape(found.branch)}</td></tr>"
            f"<tr><th>社区</th><td>{escape(found.community_name or '—')}</td></tr></table>"
            f"<p class=muted>查验时间 {now:%Y-%m-%d %H:%M}。为保护个人信息，姓名部分隐去。"
            "本页由南湖街道公众号生成，地址以公众号域名为准。</p>"
            "<style>.ok,.bad{font-size:2.4rem;font-weight:bold;text-align:center;margin:.5rem 0}"
            ".ok{color:#1a7f37}.bad{color:#c8102e}table{border-collapse:collapse;width:100%}"
            "th,td{padding:.4rem;border-bottom:1px solid #eee;text-align:left}th{color:#666;width:4rem}</style>")
    return _page("党员证验真", body)
