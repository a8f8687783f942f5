"""Staff announce from chat: 发公告 → title → body → audience → how many will receive it → confirm.

Only openids linked to an active staff member (`nanhu staff link`) can use it; to anyone else the
words mean nothing special. 公告报告 shows how the latest announcements were delivered.
"""
from __future__ import annotations

import nlp
from bot.chat.conversation import Flow
from bot.chat.router import Context, Router
from bot.wechat.replies import Text
from handlers.help import not_understood
from jobs import outbox
from storage import communities, notices, staff
from storage.audit import staff_actor
from storage.notices import Audience

router = Router("announcements")
flow = router.add_flow(Flow("announce", "发布公告"))

TITLE_LIMIT, BODY_LIMIT = 64, 1000


@router.global_word("发公告", "发布公告")
def start(ctx: Context) -> Text:
    member = staff.for_openid(ctx.rt.db, ctx.message.openid)
    if member is None:
        return not_understood(ctx)
    ctx.begin(flow, "title", staff=member.username)
    return Text("发布公告：请发送公告标题（64 字以内）。随时发「取消」放弃。")


@flow.step("title")
def title(ctx: Context) -> Text:
    text = ctx.message.text.strip()
    if not text or len(text) > TITLE_LIMIT:
        return Text(f"标题需要 1 到 {TITLE_LIMIT} 个字，请重新发送。")
    ctx.goto("body", title=text)
    return Text("请发送公告正文（1000 字以内）。")


@flow.step("body")
def body(ctx: Context) -> Text:
    text = ctx.message.text.strip()
    if not text or len(text) > BODY_LIMIT:
        return Text(f"正文需要 1 到 {BODY_LIMIT} 个字，请重新发送。")
    member = staff.for_openid(ctx.rt.db, ctx.message.openid)
    if member is None:  # unlinked meanwhile
        ctx.end()
        return Text("您的工作人员身份已解除，公告没有发布。")
    if member.role == "community":  # community staff announce to their own community only
        ctx.conversation.data["body"] = text
        return _confirm(ctx, Audience("community", member.community_id))
    ctx.goto("audience", body=text)
    names = communities.all_communities(ctx.rt.db)
    lines = "\n".join(f"{i}. {c.name}" for i, c in enumerate(names, 3))
    return Text(f"发给谁？回复数字：\n1. 全体居民\n2. 全体党员\n{lines}")


@flow.step("audience")
def audience(ctx: Context) -> Text:
    names = communities.all_communities(ctx.rt.db)
    number = nlp.list_number(ctx.message.text)
    if number == 1:
        chosen = Audience("everyone")
    elif number == 2:
        chosen = Audience("party")
    elif number and 3 <= number < 3 + len(names):
        chosen = Audience("community", names[number - 3].id)
    else:
        return Text(f"请回复 1 到 {2 + len(names)} 之间的数字。")
    return _confirm(ctx, chosen)


def _confirm(ctx: Context, chosen: Audience) -> Text:
    count = notices.count_audience(ctx.rt.db, chosen)
    ctx.goto("confirm", audience={"kind": chosen.kind, "community_id": chosen.community_id}, count=count)
    data = ctx.conversation.data
    return Text(f"请确认：\n标题：{data['title']}\n正文：{data['body']}\n将发送给 {count} 位居民。\n\n"
                "回复「是」立即发送，「否」放弃。")


@flow.step("confirm")
def confirm(ctx: Context) -> Text:
    said = nlp.yes_no(ctx.text)
    if said is None:
        return Text("请回复「是」立即发送，或「否」放弃。")
    data = ctx.conversation.data
    ctx.end()
    if said is False:
        return Text("好的，公告没有发布。")
    chosen = Audience(data["audience"]["kind"], data["audience"]["community_id"])
    try:
        with outbox.counting() as tally:  # the deliveries are queued as the announcement commits
            notice_id, new = notices.announce_once(ctx.rt.db, data["title"], data["body"], chosen,
                                                   staff_actor(data["staff"]), ctx.now)
    except notices.AnnouncementRejected as reason:
        return Text(f"公告没有发布：{reason}")
    if not new:
        return Text(f"这条公告刚才已经发布过（编号 {notice_id}），不会重复发送。发「公告报告」查看送达情况。")
    later = "" if tally.queued else "（队列暂时不可用，系统恢复后会自动发送）"
    return Text(f"公告已提交发送（编号 {notice_id}），共 {data['count']} 位居民{later}。发「公告报告」查看送达情况。")


@router.global_word("公告报告", "公告送达")
def delivery_report(ctx: Context) -> Text:
    member = staff.for_openid(ctx.rt.db, ctx.message.openid)
    if member is None:
        return not_understood(ctx)
    latest = notices.latest_announcements(ctx.rt.db, limit=3,
                                          community_id=member.community_scope)
    if not latest:
        return Text("还没有发布过公告。")
    lines = []
    for r in (notices.report(ctx.rt.db, notice_id) for notice_id in latest):
        failed = "，".join(f"{reason} {n}" for reason, n in r.failed.items()) or "无"
        lines.append(f"#{r.notice_id}「{r.title}」→ {r.audience}\n  共 {r.recipients}，已送达 {r.sent}，"
                     f"待发 {r.pending}，跳过 {r.skipped}，失败：{failed}")
    return Text("最近的公告：\n" + "\n".join(lines))
