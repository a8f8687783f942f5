"""One precise question when the bot is not sure what a resident meant.

- An intent found only through sound-alike (pinyin) matching is confirmed first:
  "您是想报名活动吗？回复 是/否".
- When two intents are about equally likely: "回复 1 报名活动，2 反映问题"; a reply of 1 or 2 goes on
  as if the resident had said that in the first place (the original message is replayed to the
  chosen intent's handler).

An ordinary router of its own: a check before the intent's handler, and a flow; the app factory
includes it like any handler module's.
"""
from __future__ import annotations

from dataclasses import replace

import nlp
from bot.chat.conversation import PASS, REROUTE, Flow
from bot.chat.router import Context, Router
from bot.wechat.replies import Text

# what each intent does, as residents would say it
LABELS = {
    "opinion.submit": "反映问题",
    "opinion.status": "查询意见办理进度",
    "event.list": "查看近期活动",
    "event.signup": "报名活动",
    "event.cancel": "取消活动报名",
    "project.list": "查看可认领项目",
    "project.claim": "认领项目",
    "identity.show": "亮身份（出示党员证）",
    "identity.bind": "党员身份认证",
    "help": "查看使用帮助",
}

router = Router("clarify")
flow = router.add_flow(Flow("clarify", "确认您的意思"))


@router.before_intent
def ask_if_unsure(ctx: Context) -> Text | None:
    return ask(ctx) if needs_question(ctx.intent) else None


def needs_question(intent: nlp.Intent) -> bool:
    if intent.name in ("help", "unknown"):
        return False
    return bool(intent.alternatives) or intent.via_pinyin


def ask(ctx: Context) -> Text:
    intent = ctx.intent
    options = [intent.name, *(a for a in intent.alternatives if a in LABELS and a != intent.name)]
    if len(options) > 1:
        ctx.begin(flow, "choose", text=ctx.message.text, options=options[:3])
        choices = "，".join(f"{i} {LABELS[name]}" for i, name in enumerate(options[:3], 1))
        return Text(f"我不太确定您的意思。请回复 {choices}。")
    ctx.begin(flow, "confirm", text=ctx.message.text, options=options)
    return Text(f"您是想{LABELS[intent.name]}吗？回复 是/否")


@flow.step("confirm")
def confirm(ctx: Context):
    said = nlp.yes_no(ctx.text)
    if said is None:
        return PASS
    if said is False:
        ctx.end()
        return Text("好的。请换个说法告诉我您想做什么，或发「帮助」看看我能做什么。")
    return _replay(ctx, ctx.conversation.data["options"][0])


@flow.step("choose")
def choose(ctx: Context):
    options = ctx.conversation.data["options"]
    number = nlp.list_number(ctx.message.text)
    if number is None or not 1 <= number <= len(options):
        return PASS  # not an answer to the question: route the new message afresh
    return _replay(ctx, options[number - 1])


def _replay(ctx: Context, intent_name: str) -> object:
    """Go on with the original message, as if the resident had been understood the first time: the
    router runs the chosen intent's handler (REROUTE)."""
    original = ctx.conversation.data["text"]
    ctx.end()
    ctx.message = replace(ctx.message, type="text", text=original)
    ctx.text = nlp.normalize(original)
    ctx.intent = nlp.Intent(intent_name, 1.0, nlp.extract_slots(ctx.text))
    return REROUTE
