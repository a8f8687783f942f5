"""Raising an opinion (社情民意) in chat, and asking after one's own."""
from __future__ import annotations

import re

import nlp

from bot.conversation import Conversation, ConversationStore, Flow
from bot.replies import Text
from bot.answers import yes_no
from bot.router import PASS, Context, Router
from handlers.common import day, list_number, when
from storage import communities, opinions, residents
from storage.audit import resident_actor
from storage.opinion_states import label

router = Router("opinions")
submit_flow = router.add_flow(Flow("opinion.submit", "反映问题"))

# words that only announce an opinion ("我要投诉") and say nothing about it
_TRIGGERS = re.compile(r"(我要|我想|想要|要)?(投诉|投拆|举报|反映|反应|建议|意见|报告|问题|一下|个|一个)")
MIN_SUBSTANCE = 4


def _substance(ctx: Context) -> str:
    """The resident's words about the problem, or "" when they only announced one ("我要投訴")."""
    rest = _TRIGGERS.sub("", ctx.text)  # matched on the normalised text: 投訴 and 投诉 alike
    rest = re.sub(r"[\s,.!?，。！？:：]+", "", rest)
    return ctx.message.text.strip() if len(rest) >= MIN_SUBSTANCE else ""


# a reply that is plainly another request ("活动", "我的意见") leaves the flow instead of being taken as an answer
_ELSEWHERE = set(nlp.INTENTS) - {"opinion.submit", "unknown"}


def _means_something_else(ctx: Context) -> bool:
    intent = nlp.classify(ctx.message.text)
    return intent.name in _ELSEWHERE and not intent.alternatives and not intent.via_pinyin


def _community_question(ctx: Context) -> Text:
    names = communities.all_communities(ctx.rt.db)
    lines = "\n".join(f"{i}. {c.name}" for i, c in enumerate(names, 1))
    return Text(f"请问您住在哪个社区？回复数字即可（只问一次，之后会记住）：\n{lines}")


def _summary(ctx: Context) -> Text:
    data = ctx.conversation.data
    return Text(f"请确认：\n社区：{data['community_name']}\n内容：{data['content']}\n\n"
                "回复「是」提交，回复「否」重新描述，发「取消」放弃。")


def _next_question(ctx: Context) -> Text:
    """Ask only for what is still missing."""
    data = ctx.conversation.data
    if not data.get("content"):
        ctx.goto("describe")
        return Text("请说说您遇到的问题：在哪里、什么情况、持续多久了。")
    if not data.get("community_id"):
        ctx.goto("community")
        return _community_question(ctx)
    ctx.goto("confirm")
    return _summary(ctx)


@router.intent("opinion.submit")
@router.menu("OPINION")
def start(ctx: Context) -> Text:
    content = _substance(ctx) if ctx.message.text else ""
    ctx.begin(submit_flow, "describe", content=content, community_id=ctx.resident.community_id,
              community_name=ctx.resident.community_name)
    return _next_question(ctx)


@submit_flow.step("describe")
def describe(ctx: Context):
    if not ctx.message.text.strip():  # a photo or a location on its own
        return Text("请用文字或语音说说遇到的问题：在哪里、什么情况。")
    if _means_something_else(ctx):
        return PASS
    if len(ctx.message.text.strip()) < MIN_SUBSTANCE:
        return Text("能再具体一点吗？比如「3栋楼道灯坏了一个星期」。")
    ctx.conversation.data["content"] = ctx.message.text.strip()
    return _next_question(ctx)


@submit_flow.step("community")
def choose_community(ctx: Context):
    options = communities.all_communities(ctx.rt.db)
    number = list_number(ctx.message.text)
    chosen = options[number - 1] if number and 1 <= number <= len(options) else communities.match(options, ctx.text)
    if chosen is None:
        if _means_something_else(ctx):
            return PASS
        return Text(f"没有找到这个社区，请回复 1 到 {len(options)} 之间的数字，或发「取消」退出。")
    residents.set_community(ctx.rt.db, ctx.resident.id, chosen.id, resident_actor(ctx.resident.id))
    ctx.conversation.data.update(community_id=chosen.id, community_name=chosen.name)
    return _next_question(ctx)


@submit_flow.step("confirm")
def confirm(ctx: Context):
    said = yes_no(ctx.text)
    if said is None:
        if _means_something_else(ctx):
            return PASS
        return Text("请回复「是」提交，或「否」重新描述；发「取消」放弃。")
    if said is False:
        ctx.conversation.data["content"] = ""
        return _next_question(ctx)
    data = ctx.conversation.data
    earlier = opinions.recent_same(ctx.rt.db, ctx.resident.id, data["content"], ctx.now)
    if earlier is not None:
        ctx.end()
        return Text(f"这个问题您已经反映过了（工单号 {earlier.ticket_no}），我们正在处理，不用重复提交。"
                    "发「我的意见」可查看进度。")
    try:
        opinion = opinions.submit(ctx.rt.db, ctx.resident.id, data["community_id"], data["content"], ctx.now, ctx.rt.tz)
    except opinions.OpinionRejected as reason:
        ctx.conversation.data["content"] = ""
        ctx.goto("describe")
        return Text(f"这条意见没能提交：{reason}。请重新描述一下。")
    ctx.end()
    return Text(f"已收到，谢谢您！\n工单号：{opinion.ticket_no}\n我们会尽快安排处理，处理进展会通知您。"
                "发「我的意见」可随时查看进度。")


@router.intent("opinion.status")
@router.menu("MY_OPINIONS")
def my_opinions(ctx: Context) -> Text:
    ticket_no = ctx.intent.slots.get("ticket_no") if ctx.intent else None
    if ticket_no:
        return _one_ticket(ctx, ticket_no)
    mine = opinions.of_resident(ctx.rt.db, ctx.resident.id)
    if not mine:
        return Text("您还没有反映过问题。直接把遇到的情况发给我就可以。")
    lines = [f"{o.ticket_no}｜{label(o.status)}｜{day(o.created_at, ctx.rt.tz)}\n  {o.content[:30]}"
             for o in mine]
    return Text("您反映的问题：\n" + "\n".join(lines))


def _one_ticket(ctx: Context, ticket_no: str) -> Text:
    found = opinions.timeline_of_own(ctx.rt.db, ctx.resident.id, ticket_no)
    if found is None:
        return Text(f"没有找到您名下的工单 {ticket_no}。请核对工单号，或发「我的意见」查看您反映过的全部问题。")
    steps = "\n".join(f"· {when(e.at, ctx.rt.tz)} {label(e.state)}" + (f"：{e.note}" if e.note else "")
                      for e in found.timeline)
    return Text(f"工单 {found.ticket_no}\n状态：{label(found.status)}\n内容：{found.content}\n进展：\n{steps}")


# --- after resolution: 满意 / 不满意 -----------------------------------------------------------------

feedback_flow = router.add_flow(Flow("opinion.feedback", "评价处理结果"))


def await_feedback(rt, ticket_no: str) -> bool:
    """After staff resolve a ticket: the resident's next 满意 / 不满意 answers for it (for
    opinions.feedback_days). Not when the resident is in the middle of something else."""
    openid = opinions.resident_openid(rt.db, ticket_no)
    if openid is None:
        return False
    store = ConversationStore(rt.kv, rt.config.opinions.feedback_days * 86400)
    if store.load(openid) is not None:
        return False
    store.save(openid, Conversation(feedback_flow.name, "rate", {"ticket_no": ticket_no}))
    return True


@feedback_flow.step("rate")
def rate(ctx: Context):
    verdict = nlp.rating(ctx.message.text)
    if verdict is None:
        return PASS  # something else: the ticket counts as confirmed if no answer comes
    ticket_no = ctx.conversation.data["ticket_no"]
    satisfied = verdict.verdict == "satisfied"
    result = opinions.feedback(ctx.rt.db, ctx.resident.id, ticket_no, satisfied, ctx.now, ctx.message.text)
    ctx.end()
    if result is None:
        return Text("这张工单已经评价过了，谢谢您。")
    if satisfied:
        return Text(f"感谢您的评价！工单 {ticket_no} 已确认办结。")
    return Text(f"抱歉没能让您满意。工单 {ticket_no} 已重新打开，工作人员会继续跟进，进展会通知您。")
