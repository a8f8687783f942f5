"""A party member's identity card (亮身份): its picture and its public verification page.

Both links carry a signed (member id, serial); a forged or altered token, or one naming no member, is
404. The page shows the masked name, branch, community and whether the card is valid, never the full
name, phone or openid. The picture of a revoked card is still served (200), greyed, with the masked
name and stamped 已注销, so a card forwarded before it was revoked says so wherever it is opened.
"""
from __future__ import annotations

from flask import Response, current_app

from bot import card_picture, links
from bot.runtime import current as runtime
from storage import cards
from web.public.common import page, pages_bp


@pages_bp.get("/card/<token>.png")
def card_image(token: str) -> Response:
    rt = runtime()
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


@pages_bp.get("/v/<token>")
def card_verification(token: str) -> Response:
    rt = runtime()
    ids = links.read_token(rt.config, token)
    found = cards.verify(rt.db, *ids) if ids else None
    if found is None or found.status == cards.UNKNOWN:
        return page("invalid.html", 404, no_store=True, heading="无效",
                    text="这不是有效的党员证链接。请让对方在公众号里发「亮身份」重新出示。")
    return page("card_verification.html", no_store=True, found=found, now=rt.now().astimezone(rt.tz))
