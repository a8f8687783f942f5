"""Community events in chat: what is coming up, signing up (with the waitlist when full), one's own
sign-ups, cancelling; and for staff, checking a resident in by code."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import nlp
from bot.chat.conversation import Flow, not_an_answer
from bot.chat.router import PASS, Context, Router
from bot.links import registration_link
from bot.wechat.replies import Text
from handlers.common import when
from storage import attempts as tries
from storage import events, party, staff
from storage.audit import staff_actor
from storage.kv import keys
from wording.residents import RESIDENTS

router = Router("events")
signup_flow = router.add_flow(Flow("event.signup", "活动报名"))
phone_flow = router.add_flow(Flow("event.phone", "留联系电话",
                                  cancel_reply="好的，不留电话了。您的报名仍然有效，发「我的报名」可查看。"))
cancel_flow = router.add_flow(Flow("event.cancel", "取消报名", cancel_reply="好的，报名保留，没有取消。"))

MAX_LISTED = 8                      # events in one reply (a passive reply holds 2048 bytes)
_MINE = re.compile(r"我的报名|我报(了|的)|已报名|报名记录|报了哪|报了什么|我报名的|签到码|二维码")


def _remember_list(ctx: Context, found: list[events.EventView]) -> None:
    ctx.rt.kv.set(keys.events_shown(ctx.message.openid), json.dumps([e.id for e in found]),
                  ctx.rt.config.conversation.idle_timeout)


def _shown_list(ctx: Context) -> list[int]:
    raw = ctx.rt.kv.get(keys.events_shown(ctx.message.openid))
    return json.loads(raw) if raw else [e.id for e in events.upcoming(ctx.rt.db, ctx.now, limit=MAX_LISTED)]


def _where(e: events.EventView) -> str:
    if e.community_name and not e.place.startswith(e.community_name):
        return f"{e.community_name}·{e.place}" if e.place else e.community_name
    return e.place or "地点待定"


def _line(i: int, e: events.EventView, ctx: Context) -> str:
    left = f"剩余{e.places_left}个名额" if e.places_left else ("名额已满，可候补" if e.waitlist else "名额已满")
    title = e.title if len(e.title) <= 30 else e.title[:29] + "…"
    return f"{i}. {title}\n   {when(e.starts_at, ctx.rt.tz)}｜{_where(e)[:30]}｜{left}"


@router.intent("event.list")
@router.menu("EVENTS")
def upcoming(ctx: Context) -> Text:
    if _MINE.search(ctx.text):
        return my_registrations(ctx)
    found = events.upcoming(ctx.rt.db, ctx.now, limit=MAX_LISTED)
    if not found:
        return Text("近期暂时没有可报名的活动，有新活动会第一时间告诉您。")
    _remember_list(ctx, found)
    lines = "\n".join(_line(i, e, ctx) for i, e in enumerate(found, 1))
    return Text(f"近期活动：\n{lines}\n\n报名请回复「报名 序号」，如「报名 1」；几个人一起来就说「报名 1 两个人」。"
                "发「我的报名」查看已报名的活动。")


# --- signing up ---------------------------------------------------------------------------------------

def _head_count(text: str, default: int = 1) -> int:
    """How many people a message signs up: what it says (even 0 or 300, refused later), else `default`."""
    for count in (nlp.head_count(text), nlp.stated_people(text)):
        if count is not None:
            return count
    return default


def _by_title(ctx: Context) -> tuple[int, str] | None:
    """An event named in the message (报名嘉年华) and the words that named it: the event sharing the
    longest run of characters with the message, at least 3 (or a whole shorter title); among equals
    the soonest open one. Cancelled events count, so that the reply can say so."""
    said = ctx.text
    best: tuple[int, str] | None = None
    best_len = 0
    candidates = sorted(events.staff_list(ctx.rt.db, ctx.now), key=lambda e: (e.status != "open", e.starts_at))
    for e in candidates:
        need = min(3, len(e.title))
        for size in range(len(e.title), max(best_len, need - 1), -1):
            hit = next((e.title[i:i + size] for i in range(len(e.title) - size + 1) if e.title[i:i + size] in said),
                       None)
            if hit:
                best, best_len = (e.id, hit), size
                break
    return best


def _which_event(ctx: Context) -> tuple[int | None, int | None] | str:
    """The event the resident means and how many people, if said: words of a title first (then a
    number in the message is a head count: 报名嘉年华 2), else a list number. A string is a reply
    saying why the number does not fit."""
    number = ctx.intent.slots.get("number") if ctx.intent else None
    named = _by_title(ctx)
    if named is not None:
        event_id, words = named
        rest = ctx.message.text.replace(words, " ")
        count = _head_count(rest, default=number if number is not None else 1)
        return event_id, count
    ids = _shown_list(ctx)
    if number is not None:
        if 1 <= number <= len(ids):
            return ids[number - 1], _head_count(ctx.message.text)
        return f"没有第 {number} 个活动。" + (f"请回复 1 到 {len(ids)} 之间的序号，或先发「活动」看看列表。" if ids
                                          else "近期暂时没有可报名的活动。")
    return None, _head_count(ctx.message.text)


@router.intent("event.signup")
def signup(ctx: Context) -> Text:
    chosen = _which_event(ctx)
    if isinstance(chosen, str):
        return Text(chosen)
    event_id, count = chosen
    if event_id is None:
        found = events.upcoming(ctx.rt.db, ctx.now, limit=MAX_LISTED)
        if not found:
            return Text("近期暂时没有可报名的活动，有新活动会第一时间告诉您。")
        _remember_list(ctx, found)
        ctx.begin(signup_flow, "which", head_count=count)
        lines = "\n".join(_line(i, e, ctx) for i, e in enumerate(found, 1))
        return Text(f"您想报名哪个活动？回复序号即可：\n{lines}")
    return _register(ctx, event_id, count)


@signup_flow.step("which")
def which(ctx: Context):
    ids = _shown_list(ctx)
    number = nlp.list_number(ctx.message.text)
    named = _by_title(ctx)
    chosen = ids[number - 1] if number and 1 <= number <= len(ids) else (named[0] if named else None)
    if chosen is None:
        return not_an_answer(ctx, f"请回复 1 到 {len(ids)} 之间的序号，或发「取消」退出。", "event.signup")
    count = _head_count(ctx.message.text, ctx.conversation.data.get("head_count", 1))
    ctx.end()
    return _register(ctx, chosen, count)


def _is_member(ctx: Context) -> bool:
    return party.member_for(ctx.rt.db, ctx.message.openid) is not None


def _register(ctx: Context, event_id: int, count: int, join_waitlist: bool = False) -> Text:
    result = events.register(ctx.rt.db, event_id, ctx.resident.id, count, ctx.now, ctx.rt.tz,
                             join_waitlist=join_waitlist, is_party_member=_is_member(ctx))
    e = result.event
    again = f"报名{e.title}"  # how to sign up for this one again, in words that name it
    if result.outcome == "confirmed":
        reg = result.registration
        ctx.begin(phone_flow, "phone", registration_id=reg.id)
        reminder = e.reminder_hours and e.starts_at - timedelta(hours=e.reminder_hours) > ctx.now
        return Text(f"报名成功！\n活动：{e.title}\n时间：{when(e.starts_at, ctx.rt.tz)}\n地点：{_where(e)}\n"
                    f"人数：{reg.head_count} 人\n签到码：{reg.code}\n"
                    f"入场二维码：{registration_link(ctx.rt.config, reg.id, reg.code)}\n"
                    + (f"活动前 {e.reminder_hours} 小时会提醒您。" if reminder else "")
                    + "不能参加请发「取消报名」。\n如愿意留个手机号（活动有变动时方便联系），直接回复号码即可。")
    if result.outcome == "waitlisted":
        reg = result.registration
        return Text(f"已为您排上候补：「{e.title}」{reg.head_count} 人，第 {reg.position} 位。\n"
                    "有名额时会自动为您报名并通知您。不想等了发「取消报名」。")
    if result.outcome == "already":
        reg = result.registration
        state = f"签到码 {reg.code}" if reg.status == "confirmed" else f"候补第 {reg.position} 位"
        return Text(f"您已经报名了「{e.title}」（{reg.head_count} 人，{state}），不用重复报名。\n"
                    "要改人数，请先发「取消报名」再重新报名（名额会先让给候补的居民）。")
    smaller = (f"可以改报 {e.places_left} 人（回复「{again} {e.places_left}人」）" if 0 < e.places_left < count else "")
    if result.outcome == "full":
        ctx.begin(signup_flow, "waitlist", event_id=e.id, head_count=count)
        room = f"只剩 {e.places_left} 个名额，不够 {count} 人。" if e.places_left else "名额已满。"
        return Text(f"「{e.title}」{room}\n{smaller + '，或者' if smaller else '可以'}排队候补，"
                    f"您将排在第 {result.position} 位，"
                    "有名额时自动为您报名并通知您。\n回复「是」加入候补，「否」算了。")
    if result.outcome == "no_room" and smaller:
        return Text(f"「{e.title}」只剩 {e.places_left} 个名额，不够 {count} 人；这个活动不设候补。{smaller}。")
    deadline = when(e.signup_deadline, ctx.rt.tz) if e.signup_deadline else ""
    return Text(RESIDENTS.say(f"event.signup.{result.outcome}", title=e.title, deadline=deadline,
                              most=e.max_per_registration, again=again))


@signup_flow.step("waitlist")
def waitlist(ctx: Context):
    said = nlp.yes_no(ctx.text)
    if said is None:
        return not_an_answer(ctx, "要排队候补吗？请回复「是」或「否」。")
    data = ctx.conversation.data
    ctx.end()
    if not said:
        return Text("好的，没有为您候补。发「活动」看看其他活动吧。")
    return _register(ctx, data["event_id"], data["head_count"], join_waitlist=True)


@phone_flow.step("phone")
def phone(ctx: Context):
    number = nlp.mobile(ctx.message.text)
    if number is None or len(nlp.normalize(ctx.message.text)) > 20:
        return PASS  # anything else is a new request; the phone number was optional
    registration_id = ctx.conversation.data["registration_id"]
    ctx.end()
    events.set_phone(ctx.rt.db, registration_id, ctx.resident.id, number)
    return Text("已记下，仅供活动工作人员联系您使用。")


# --- one's own sign-ups, cancelling ---------------------------------------------------------------------

def _mine_line(i: int, r: events.RegistrationView, ctx: Context) -> str:
    state = f"签到码 {r.code}" if r.status == "confirmed" else f"候补第 {r.position} 位"
    return f"{i}. {r.event.title}\n   {when(r.event.starts_at, ctx.rt.tz)}｜{r.head_count} 人｜{state}"


def my_registrations(ctx: Context) -> Text:
    mine = events.registrations_of(ctx.rt.db, ctx.resident.id, ctx.now)[:MAX_LISTED]
    if not mine:
        return Text("您目前没有报名的活动。发「活动」看看近期活动。")
    lines = "\n".join(_mine_line(i, r, ctx) + (f"\n   入场二维码：{registration_link(ctx.rt.config, r.id, r.code)}"
                                                 if r.status == "confirmed" else "")
                      for i, r in enumerate(mine, 1))
    return Text(f"您报名的活动：\n{lines}\n\n不能参加请发「取消报名」。")


@router.intent("event.cancel")
def cancel(ctx: Context) -> Text:
    mine = events.registrations_of(ctx.rt.db, ctx.resident.id, ctx.now)
    if not mine:
        return Text("您目前没有报名的活动，不需要取消。")
    if len(mine) == 1:
        return _ask_to_confirm(ctx, mine[0])
    ctx.begin(cancel_flow, "which", ids=[r.id for r in mine])
    lines = "\n".join(_mine_line(i, r, ctx) for i, r in enumerate(mine, 1))
    return Text(f"要取消哪一个？回复序号：\n{lines}")


def _ask_to_confirm(ctx: Context, r: events.RegistrationView) -> Text:
    ctx.begin(cancel_flow, "confirm", registration_id=r.id)
    what = "报名" if r.status == "confirmed" else "候补"
    return Text(f"确定取消「{r.event.title}」（{when(r.event.starts_at, ctx.rt.tz)}，{r.head_count} 人）的{what}吗？"
                "回复「是」取消，「否」保留。")


@cancel_flow.step("which")
def cancel_which(ctx: Context):
    ids = ctx.conversation.data["ids"]
    number = nlp.list_number(ctx.message.text)
    if not number or not 1 <= number <= len(ids):
        return not_an_answer(ctx, f"请回复 1 到 {len(ids)} 之间的序号，或发「取消」退出。", "event.cancel")
    chosen = events.registration(ctx.rt.db, ids[number - 1])
    return _ask_to_confirm(ctx, chosen)


@cancel_flow.step("confirm")
def cancel_confirm(ctx: Context):
    said = nlp.yes_no(ctx.text)
    if said is None:
        return not_an_answer(ctx, "请回复「是」取消报名，或「否」保留。")
    registration_id = ctx.conversation.data["registration_id"]
    ctx.end()
    if not said:
        return Text("好的，报名保留。")
    done = events.cancel_registration(ctx.rt.db, registration_id, ctx.resident.id, ctx.now, ctx.rt.tz)
    if done is None:
        return Text("这个报名已经取消过了。发「我的报名」查看。")
    return Text(f"已取消「{done.registration.event.title}」的报名。谢谢告知，名额会让给其他居民。")


# --- staff at the door ------------------------------------------------------------------------------

@router.command("核销", "签到", "验码", args=r"\d{6}")
def check_in(ctx: Context) -> Text:
    member = staff.for_openid(ctx.rt.db, ctx.message.openid)
    if member is None:
        return Text("签到码请在活动现场出示给工作人员核验。发「我的报名」可查看您的签到码。")
    attempts = tries.check_in(ctx.rt.kv)
    if attempts.blocked(ctx.message.openid):
        return Text(f"错误次数过多，请 {int(attempts.window) // 60} 分钟后再试。")
    result = events.check_in(ctx.rt.db, ctx.args, staff_actor(member.username), ctx.now,
                             community_id=member.community_scope)
    if result.outcome in ("unknown", "ambiguous"):
        attempts.failed(ctx.message.openid)
        if result.outcome == "ambiguous":
            return Text("这个签到码对应今天的多个活动，请用 nanhu events checkin 指定活动核验。")
        return Text(f"签到码 {ctx.args} 无效：今天的活动里没有这个码。请核对后再试。")
    r = result.registration
    if result.outcome == "checked_in":
        return Text(f"✅ 签到成功：「{r.event.title}」{r.head_count} 人。")
    if result.outcome == "already":
        return Text(f"⚠️ 这个签到码已于 {when(r.checked_in_at, ctx.rt.tz)} 签到过，不能重复使用。")
    return Text(f"❌ 这个报名{'在候补中' if r.status == 'waitlisted' else '已取消'}，不能签到。")
