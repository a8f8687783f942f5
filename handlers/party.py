"""Party members: binding an openid to the roster, showing identity."""
from __future__ import annotations

import logging

from bot import card_picture, links
from bot.chat.router import Context, Router
from bot.wechat.replies import Article, News, Reply, Text
from storage import attempts as tries
from storage import cards, party
from storage.audit import resident_actor

router = Router("party")
log = logging.getLogger("nanhu")



@router.intent("identity.bind")
@router.menu("BIND")
def bind(ctx: Context) -> Text:
    if party.member_for(ctx.rt.db, ctx.message.openid):
        return Text("您已经完成党员认证了。发「亮身份」可出示党员证。")
    code = (ctx.intent.slots.get("code") if ctx.intent else None) or ""
    if not code:
        return Text("请发送「绑定」加上社区党委给您的 6 位绑定码，例如：绑定 123456")
    attempts, everyone = tries.binding(ctx.rt.kv), tries.binding_by_everyone(ctx.rt.kv)
    if attempts.blocked(ctx.message.openid):
        return Text("尝试次数过多，请一小时后再试，或联系所在社区党委核实绑定码。")
    if everyone.blocked(""):
        return Text("绑定暂时停用（近一小时错误的绑定码太多），请稍后再试，或联系所在社区党委。")
    member = party.bind(ctx.rt.db, ctx.message.openid, code, ctx.rt.config.app.secret_key, ctx.now,
                        resident_actor(ctx.resident.id))
    if member is None:
        attempts.failed(ctx.message.openid)
        if (wrong := everyone.failed("")) == everyone.limit:  # once, as it trips: staff see it in the audit log
            party.binding_paused(ctx.rt.db, wrong, int(everyone.window), ctx.now)
        return Text("绑定码不正确或已失效。绑定码由社区党委发放，一码一人；如有疑问请联系所在社区党委。")
    attempts.clear(ctx.message.openid)
    return Text(f"认证成功！{member.name}同志，欢迎您。\n所在支部：{member.branch}\n"
                "发「亮身份」可出示党员证，发「项目」可认领社区项目。")


@router.intent("identity.show")
@router.menu("IDENTITY")
def show_identity(ctx: Context) -> Reply:
    card = cards.show(ctx.rt.db, ctx.message.openid, ctx.now)
    if card is None:
        return Text("您还没有完成党员认证。请发送「绑定」加上社区党委给您的 6 位绑定码。\n"
                    "不是党员也没关系，发「帮助」看看其他服务。")
    if card.revoked:
        return Text("您的党员证已被注销，如有疑问请联系所在社区党委。")
    card_links = links.links(ctx.rt.config, card)
    try:
        card_picture.ensure_renderable(card, ctx.rt.tz)
    except card_picture.CardFontMissing as exc:  # never a card of empty boxes: the same card as text
        log.warning("identity card sent as text: %s", exc)
        return Text(card_picture.as_text(card, ctx.rt.tz, card_links.verify))
    community = f" · {card.community_name}" if card.community_name else ""
    return News(Article(title=f"南湖街道党员证 · {card.name}",
                        description=f"{card.branch}{community}\n服务积分 {card.points}\n"
                                    "点开查看验真页，可出示给居民核验。",
                        url=card_links.verify, picurl=card_links.image))
