"""Welcome, help and menu, cancel, unsubscribe, and the fallback for what the bot does not understand."""
from __future__ import annotations

import nlp
from bot.chat.router import Context, Router, bare
from bot.logs import log_unknown
from bot.wechat.replies import Text
from handlers import opinions
from storage import residents

router = Router("help")

CAPABILITIES = (
    "您可以直接发消息给我：\n"
    "1. 反映问题：如「楼下垃圾三天没人清理」\n"
    "2. 查进度：发「我的意见」或工单号\n"
    "3. 社区活动：发「活动」查看，「报名 1」报名，「我的报名」查看签到码\n"
    "4. 党员服务：发「绑定 + 绑定码」认证，发「亮身份」出示党员证，发「项目」查看可认领项目\n"
    "随时发「取消」退出当前操作，发「帮助」看本说明。"
)

HUMAN = ("人工", "客服", "真人")
NO_HUMAN = ("这里暂时没有人工客服在线。急事请直接联系所在社区工作站；"
            "想反映问题，直接把情况发给我，工作人员会跟进处理。")


def _asks_for_a_person(ctx: Context) -> bool:
    return any(word in ctx.text for word in HUMAN)

WELCOME = "欢迎关注南湖街道！这里是居民议事和社区服务的线上窗口。\n\n" + CAPABILITIES


@router.event("subscribe")
def welcome(ctx: Context) -> Text:
    residents.subscribe(ctx.rt.db, ctx.message.openid, ctx.now, ctx.message.scene)
    return Text(WELCOME)


@router.event("scan")
def scanned(ctx: Context) -> Text:
    return Text("欢迎回来！\n\n" + CAPABILITIES)


@router.event("unsubscribe")
def goodbye(ctx: Context) -> None:
    residents.unsubscribe(ctx.rt.db, ctx.message.openid, ctx.now)
    ctx.end()
    return None  # WeChat shows nothing to someone who has just unfollowed


@router.event("view", "location")
def acknowledged(ctx: Context) -> None:
    return None  # recorded by WeChat's own statistics


@router.global_word("帮助", "菜单", "help", "?")
@router.intent("help")
@router.menu("HELP")
def show_help(ctx: Context) -> Text:
    if _asks_for_a_person(ctx):
        return Text(NO_HUMAN)
    if ctx.flow is not None:
        return Text(f"您正在「{ctx.flow.title}」，可以接着回答上一个问题，或发「取消」退出。\n\n" + CAPABILITIES)
    return Text(CAPABILITIES)


@router.global_word("取消", "退出", "算了不弄了")
def cancel(ctx: Context) -> Text:
    if ctx.flow is None:
        return Text("好的。现在没有进行中的操作。需要时发「帮助」看看我能做什么。")
    flow = ctx.flow
    ctx.end()
    return Text(flow.cancel_reply or f"已取消「{flow.title}」，刚才填写的内容没有提交。")


@router.message_type("location", "link", "video", "shortvideo", "voice")
def media_outside_flow(ctx: Context) -> Text:
    return Text("收到。如果想反映问题，请用文字或语音简单说说情况：在哪里、什么情况。\n发「帮助」看看我能做什么。")


@router.intent("unknown")
@router.fallback
def not_understood(ctx: Context) -> Text:
    said = bare(ctx.text)
    if said in nlp.answer_words("thanks"):
        return Text("不客气！有需要随时发消息给我。")
    if _asks_for_a_person(ctx):
        return Text(NO_HUMAN)
    if (answered := opinions.answer_without_question(ctx)) is not None:
        return answered
    if ctx.message.text:
        log_unknown(ctx.message.text)
    return Text("抱歉，我没有看懂。\n\n" + CAPABILITIES)
