"""A registration's page, opened from the link in chat: the event, the head count and the check-in code
as a QR code.

The link carries a signed registration id, so ids cannot be guessed; the page shows the event and
the code, never a name, phone number or openid.
"""
from __future__ import annotations

import qrcode
import qrcode.image.svg
from flask import Response
from markupsafe import Markup

from bot import links
from bot.runtime import current as runtime
from storage import events
from web.public.common import page, pages_bp

_STATUS = {"confirmed": "报名成功", "waitlisted": "候补中", "cancelled": "已取消"}


def _qr_svg(text: str) -> Markup:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return Markup(image.to_string(encoding="unicode"))  # drawn by qrcode from the code's digits


@pages_bp.get("/r/<token>")
def registration_page(token: str) -> Response:
    rt = runtime()
    ids = links.read_registration_token(rt.config, token)
    reg = events.registration(rt.db, ids[0]) if ids else None
    if reg is None or reg.code != ids[1]:
        return page("invalid.html", 404, no_store=True, heading="链接无效", text="请在公众号里发「我的报名」重新获取。")
    e = reg.event
    state = ("活动已取消" if e.status == "cancelled" else "已签到" if reg.checked_in_at
             else _STATUS.get(reg.status, reg.status))
    showing_code = reg.status == "confirmed" and e.status == "open" and not reg.checked_in_at
    return page("registration.html", no_store=True, reg=reg, e=e, state=state, start=e.starts_at.astimezone(rt.tz),
                checked_in=reg.checked_in_at.astimezone(rt.tz) if reg.checked_in_at else None,
                qr=_qr_svg(reg.code) if showing_code else None)
