"""Community events: what is coming up and how many places are left."""
from __future__ import annotations

from bot.replies import Text
from bot.router import Context, Router
from handlers.common import when
from storage import events

router = Router("events")


@router.intent("event.list")
@router.menu("EVENTS")
def upcoming(ctx: Context) -> Text:
    found = events.upcoming(ctx.rt.db, ctx.now)
    if not found:
        return Text("近期暂时没有可报名的活动，有新活动会第一时间告诉您。")
    lines = []
    for i, e in enumerate(found, 1):
        where = f"{e.community_name}·{e.place}" if e.community_name else e.place
        left = f"剩余{e.places_left}个名额" if e.places_left else "名额已满"
        lines.append(f"{i}. {e.title}\n   {when(e.starts_at, ctx.rt.tz)}｜{where}｜{left}")
    return Text("近期活动：\n" + "\n".join(lines) + "\n\n在线报名即将开通，现在请联系活动所在社区工作站报名。")


@router.intent("event.signup", "event.cancel")
def signup_not_open_yet(ctx: Context) -> Text:
    # Registration with capacity, waitlist and check-in codes is its own piece of work (issue 6);
    # until it lands, say so plainly instead of pretending to register anyone.
    return Text("在线报名正在开通中，暂时还不能在这里报名或取消。请联系所在社区工作站报名。\n发「活动」可查看近期活动。")
