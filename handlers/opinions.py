"""Raising an opinion (社情民意) in chat, and asking after one's own."""
from __future__ import annotations

import re

import nlp
from bot.chat.conversation import Flow
from bot.chat.router import PASS, Context, Router
from bot.wechat.replies import TEXT_LIMIT_BYTES, Text
from handlers.common import day, when
from storage import communities, opinions, residents
from storage.audit import resident_actor
from storage.opinion_states import OPEN_STATES, label
from wording.residents import for_residents

router = Router("opinions")
submit_flow = router.add_flow(Flow("opinion.submit", "反映问题"))

# words that only announce an opinion ("我要投诉") and say nothing about it
_TRIGGERS = re.compile(r"(我要|我想|想要|要)?(投诉|投拆|举报|反映|反应|建议|意见|报告|问题|一下|个|一个)")
MIN_SUBSTANCE = 4     # letters, digits or characters; emoji and punctuation do not count
SUMMARY_CHARS = 200   # of the description, in the confirmation screen (a passive reply holds 2048 bytes)
LABEL_CHARS = 60      # of a WeChat location's label
TIMELINE_STEPS = 6    # and of a ticket's timeline, the latest steps with their notes cut to NOTE_CHARS
NOTE_CHARS = 60
TOO_MANY = ("您这一小时内已经反映了 {n} 个问题，我们都记下了，会逐一处理。请稍后再提交新的问题。\n"
            "紧急情况请直接拨打 110 或 12345 热线。发「我的意见」可查看进度。")


def _words(text: str) -> int:
    return len(re.findall(r"\w", text))


def _substance(ctx: Context) -> str:
    """The resident's words about the problem, or "" when they only announced one ("我要投訴")."""
    rest = _TRIGGERS.sub("", ctx.text)  # matched on the normalised text: 投訴 and 投诉 alike
    return ctx.message.text.strip() if _words(rest) >= MIN_SUBSTANCE else ""


def _means_something_else(ctx: Context) -> bool:
    """A reply that is plainly another request ("活动", "我的意见") leaves the flow instead of being taken as an
    answer."""
    return nlp.another_request(ctx.message.text, "opinion.submit", certain=True)


def _rules(ctx: Context) -> opinions.Rules:
    return opinions.Rules.from_config(ctx.rt.config.opinions)


def _duration(hours: float) -> str:
    return f"{hours / 24:g} 天" if hours >= 24 and hours % 24 == 0 else f"{hours:g} 小时"


# --- what the resident gives besides words: a photo, a location ------------------------------------

def _take_photo(ctx: Context) -> str:
    """Keep an image message's picture; the reply's first line saying so."""
    photos = ctx.conversation.data.setdefault("photos", [])
    if len(photos) >= opinions.MAX_PHOTOS:
        return f"最多可以附 {opinions.MAX_PHOTOS} 张照片，这张没有加上。"
    fields = ctx.message.fields
    photos.append({"media_id": fields.get("MediaId", ""), "url": fields.get("PicUrl", "")})
    return f"收到照片（共 {len(photos)} 张）。"


def _take_location(ctx: Context) -> str:
    fields, data = ctx.message.fields, ctx.conversation.data
    try:
        data["latitude"], data["longitude"] = float(fields.get("Location_X", "")), float(fields.get("Location_Y", ""))
    except ValueError:
        data["latitude"] = data["longitude"] = None
    label = (fields.get("Label") or "").strip()[:LABEL_CHARS]
    if not label and data["latitude"] is not None:
        label = f"微信位置（{data['latitude']:.5f}, {data['longitude']:.5f}）"
    data["location"] = label or "微信位置"
    return f"收到位置：{data['location']}。"


def _set_typed_location(ctx: Context, text: str) -> None:
    ctx.conversation.data.update(location=text, latitude=None, longitude=None)  # words replace a shared pin


def _extra(ctx: Context) -> str | None:
    """A photo or location message taken into the draft, or None for any other message."""
    if ctx.message.type == "image":
        return _take_photo(ctx)
    if ctx.message.type == "location":
        return _take_location(ctx)
    return None


# --- the flow: ask only for what is missing --------------------------------------------------------

def _community_question(ctx: Context) -> Text:
    names = communities.all_communities(ctx.rt.db)
    lines = "\n".join(f"{i}. {c.name}" for i, c in enumerate(names, 1))
    return Text(f"请问您住在哪个社区？回复数字即可（只问一次，之后会记住）：\n{lines}")


def _summary(ctx: Context, first_line: str = "") -> Text:
    data = ctx.conversation.data
    content = data["content"]
    if len(content) > SUMMARY_CHARS:
        content = f"{content[:SUMMARY_CHARS]}…（共 {len(content)} 字）"
    category, route = _rules(ctx).route(data["category"])
    photos = len(data.get("photos", []))
    lines = [
        first_line + "请确认您反映的问题：" if first_line else "请确认您反映的问题：",
        f"内容：{content}",
        f"社区：{data['community_name']}",
        f"位置：{data.get('location') or ('见描述' if nlp.mentions_place(data['content']) else '未填写')}",
        f"照片：{photos} 张" if photos else "照片：无",
        f"类别：{category}（{route.department}负责，工作人员可调整）",
        f"署名：{data['public_name']}（公开）" if data.get("public_name") else "署名：不公开",
        "",
        ("还可以发照片、位置或补充说明；不想公开称呼请回「匿名」。" if data.get("public_name") else
         "还可以发照片、位置或补充说明；愿意公开称呼请回「署名 张阿姨」。"),
        "回复「是」提交，「重新描述」重写，「取消」放弃。",
    ]
    return Text("\n".join(lines))


def _next_question(ctx: Context, first_line: str = "") -> Text:
    data = ctx.conversation.data
    if not data.get("content"):
        ctx.goto("describe")
        return Text(first_line + "请说说您遇到的问题：在哪里、什么情况、持续多久了。")
    if not data.get("community_id"):
        ctx.goto("community")
        return _community_question(ctx)
    if not data.get("location") and not data.get("location_asked") and not nlp.mentions_place(data["content"]):
        ctx.goto("location")
        data["location_asked"] = True
        return Text(first_line + "问题具体在哪个位置？可以发送微信位置，或用文字说明（如「3栋2单元门口」）。"
                    "不方便说就回「跳过」。")
    ctx.goto("confirm")
    return _summary(ctx, first_line)


@router.intent("opinion.submit")
@router.menu("OPINION")
@router.message_type("image")
def start(ctx: Context) -> Text:
    if not opinions.can_submit(ctx.rt.db, ctx.resident.id, ctx.now, _rules(ctx)):
        return Text(TOO_MANY.format(n=_rules(ctx).max_per_hour))
    content = _substance(ctx) if ctx.message.text else ""
    ctx.begin(submit_flow, "describe", content="", category="其他", community_id=ctx.resident.community_id,
              community_name=ctx.resident.community_name, photos=[])
    if content:
        return _take_description(ctx, content)
    said = _extra(ctx)
    if said:
        return Text(said + "请用文字或语音说说这是什么问题、在哪里，我帮您登记反映。（不是要反映问题的话，发「取消」）")
    return _next_question(ctx)


def _take_description(ctx: Context, text: str) -> Text:
    try:
        text = opinions.check_content(text)
    except opinions.OpinionRejected as reason:
        return Text(f"{for_residents(reason)}。请精简一些再发，说清楚在哪里、什么情况就可以。")
    if _words(text) < MIN_SUBSTANCE:
        return Text("能再具体一点吗？比如「3栋楼道灯坏了一个星期」。")
    ctx.conversation.data.update(content=text, category=nlp.category(text))
    return _next_question(ctx)


@submit_flow.step("describe")
def describe(ctx: Context):
    said = _extra(ctx)
    if said:
        return Text(said + "请再用文字或语音说说遇到的问题：在哪里、什么情况。")
    text = ctx.message.text.strip()
    if not text:
        return Text("请用文字或语音说说遇到的问题：在哪里、什么情况。")
    if _means_something_else(ctx):
        return PASS
    return _take_description(ctx, text)


@submit_flow.step("community")
def choose_community(ctx: Context):
    options = communities.all_communities(ctx.rt.db)
    said = _extra(ctx)
    if said:
        return Text(said + f"请先回复您所在社区的数字（1 到 {len(options)}）。")
    number = nlp.list_number(ctx.message.text)
    chosen = options[number - 1] if number and 1 <= number <= len(options) else communities.match(options, ctx.text)
    if chosen is None:
        if _means_something_else(ctx):
            return PASS
        return Text(f"没有找到这个社区，请回复 1 到 {len(options)} 之间的数字，或发「取消」退出。")
    residents.set_community(ctx.rt.db, ctx.resident.id, chosen.id, resident_actor(ctx.resident.id))
    ctx.conversation.data.update(community_id=chosen.id, community_name=chosen.name)
    return _next_question(ctx)


@submit_flow.step("location")
def locate(ctx: Context):
    if ctx.message.type == "location":
        return _next_question(ctx, _take_location(ctx))
    if ctx.message.type == "image":
        said = _take_photo(ctx)
        return Text(said + "问题的位置在哪里？发送微信位置或文字说明，不方便说就回「跳过」。")
    text = ctx.message.text.strip()
    if nlp.skips(text):
        return _next_question(ctx)
    if _means_something_else(ctx):
        return PASS
    if _words(text) < 2 or len(text) > LABEL_CHARS:
        return Text("请用一句话说明位置（如「3栋2单元门口」），或发送微信位置；不方便说就回「跳过」。")
    _set_typed_location(ctx, text)
    return _next_question(ctx)


_SIGN = re.compile(r"^(?:署名|称呼|公开(?:姓名|称呼|名字)?(?=[:：\s]))[:：\s]*(.*)$")
_PLACE_NOTE = re.compile(r"^(?:位置|地点|地址)(?:是|在|[:：\s])+(.+)$")


@submit_flow.step("confirm")
def confirm(ctx: Context):
    said = _extra(ctx)
    if said:
        return _summary(ctx, said + "\n")
    text = ctx.message.text.strip()
    bare_text = nlp.normalize(text).rstrip("。.!！~")
    data = ctx.conversation.data
    # 公开吧, 公开也行: asking to sign, without the name
    if bare_text in nlp.answer_words("sign") or (bare_text.startswith("公开") and len(bare_text) <= 4):
        return Text("请在「署名」后写上您愿意公开的称呼，如「署名 张阿姨」；不想公开就回「匿名」。")
    if (signed := _SIGN.match(text)) is not None:
        name = signed.group(1).strip()
        if not 1 <= len(name) <= 16 or _words(name) == 0 or re.search(r"\d{5,}", nlp.normalize(name)):
            return Text("请在「署名」后写上您愿意公开的称呼（16 字以内，不要写电话号码），如「署名 张阿姨」。")
        data["public_name"] = name
        return _summary(ctx, "好的，会公开署名。\n")
    if bare_text in nlp.answer_words("unsign"):
        data["public_name"] = None
        return _summary(ctx, "好的，不公开署名。\n")
    if nlp.nothing_more(text):
        return Text("好的。内容没问题就回复「是」提交；要重写回复「重新描述」。")
    if nlp.redo(text):
        data["content"] = ""
        return _next_question(ctx)
    said_yes = nlp.yes_no(ctx.text)
    if said_yes is True:
        return _submit(ctx)
    if _means_something_else(ctx):
        return PASS
    return _correction(ctx, text)


def _correction(ctx: Context, text: str) -> Text:
    """Words at the summary that are neither yes nor no: where the problem is, or more about it."""
    data = ctx.conversation.data
    if _words(text) < 2:
        return Text("请回复「是」提交，或「重新描述」重写；发「取消」放弃。")
    place = _PLACE_NOTE.match(text)
    if place is not None or (nlp.mentions_place(text) and len(text) <= LABEL_CHARS):
        where = (place.group(1) if place else text).strip()[:LABEL_CHARS]
        _set_typed_location(ctx, where)
        return _summary(ctx, "位置已更新。\n")
    try:
        data["content"] = opinions.check_content(f"{data['content']}（补充：{text}）")
    except opinions.OpinionRejected:
        return Text(f"补充的内容太长了，描述合计不能超过 {opinions.MAX_CONTENT} 字。"
                    "请回复「是」提交，或「重新描述」重写。")
    data["category"] = nlp.category(data["content"])
    return _summary(ctx, "已补充到描述里。\n")


def _submit(ctx: Context) -> Text:
    data = ctx.conversation.data
    draft = opinions.Draft(content=data["content"], community_id=data["community_id"], category=data["category"],
                           location=data.get("location") or "", latitude=data.get("latitude"),
                           longitude=data.get("longitude"), photos=tuple(data.get("photos", [])),
                           public_name=data.get("public_name"))
    rules = _rules(ctx)
    try:
        opinion = opinions.submit(ctx.rt.db, ctx.resident.id, draft, ctx.now, ctx.rt.tz, rules)
    except opinions.AlreadyReported as same:
        ctx.end()
        return Text(f"这个问题您已经反映过了（工单号 {same.earlier.ticket_no}），我们正在处理，不用重复提交。"
                    "发「我的意见」可查看进度。")
    except opinions.TooManyOpinions:
        ctx.end()
        return Text(TOO_MANY.format(n=rules.max_per_hour))
    except opinions.OpinionRejected as reason:
        data["content"] = ""
        ctx.goto("describe")
        return Text(f"这条意见没能提交：{for_residents(reason)}。请重新描述一下。")
    ctx.end()
    hours = rules.categories[opinion.category].hours
    return Text(f"已收到，谢谢您！\n工单号：{opinion.ticket_no}\n"
                f"类别：{opinion.category}（{opinion.department}负责）\n"
                f"我们会在 {_duration(hours)}内答复处理结果（{when(opinion.due_at, ctx.rt.tz)}前），进展会通知您。\n"
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
    shown = found.timeline[-TIMELINE_STEPS:]  # the latest steps: a long history must not push them out
    steps = "\n".join(f"· {when(e.at, ctx.rt.tz)} {label(e.state)}" + (f"：{e.note[:NOTE_CHARS]}" if e.note else "")
                      for e in shown)
    if len(found.timeline) > len(shown):
        steps = f"（更早的 {len(found.timeline) - len(shown)} 条略）\n" + steps
    head = [f"工单 {found.ticket_no}", f"状态：{label(found.status)}",
            f"类别：{found.category}（{found.department or '待分派'}）"]
    if found.merged_into:
        head.append(f"已并入工单 {found.merged_into} 一并处理（目前：{label(found.merged_into_status)}），"
                    "进展会通知您。")
    elif found.due_at and found.status in OPEN_STATES:
        head.append(f"答复期限：{when(found.due_at, ctx.rt.tz)}")
    # the description gets what room is left in the reply, so that the latest step always shows
    fixed = "\n".join(head) + "\n内容：\n进展：\n" + steps
    room = TEXT_LIMIT_BYTES - len(fixed.encode()) - 16
    content = found.content
    if len(content.encode()) > room:
        content = content.encode()[:max(0, room)].decode(errors="ignore") + "…"
    return Text("\n".join(head + [f"内容：{content}", f"进展：\n{steps}"]))


# --- after resolution: 满意 / 不满意 -----------------------------------------------------------------

feedback_flow = router.add_flow(Flow(opinions.FEEDBACK_FLOW, "评价处理结果", cancel_reply="好的。您的评价已经记下了。"))


@feedback_flow.step("rate")
def rate(ctx: Context):
    verdict = nlp.rating(ctx.message.text)
    if verdict is None:
        return PASS  # something else: the ticket counts as confirmed if no answer comes
    return _record_feedback(ctx, ctx.conversation.data["ticket_no"], verdict.verdict == "satisfied")


def answer_without_question(ctx: Context) -> Text | None:
    """满意 / 不满意 said when the question's conversation is gone (the resident did something else
    first, or the shared store was down): it answers for their latest ticket waiting for one. Only the
    explicit words count here; a bare 好 could be about anything."""
    if "满意" not in ctx.text or len(ctx.text) > 12:
        return None
    verdict = nlp.rating(ctx.message.text)
    ticket_no = opinions.awaiting_feedback(ctx.rt.db, ctx.resident.id, ctx.now, ctx.rt.config.opinions.feedback_days)
    if verdict is None or ticket_no is None:
        return None
    return _record_feedback(ctx, ticket_no, verdict.verdict == "satisfied")


def _record_feedback(ctx: Context, ticket_no: str, satisfied: bool) -> Text:
    result = opinions.feedback(ctx.rt.db, ctx.resident.id, ticket_no, satisfied, ctx.now, ctx.message.text)
    if ctx.conversation is not None and ctx.conversation.flow == feedback_flow.name:
        ctx.end()
    if result is None:
        return Text("这张工单已经评价过了，谢谢您。")
    if satisfied:
        return Text(f"感谢您的评价！工单 {ticket_no} 已确认办结。")
    ctx.begin(feedback_flow, "why", ticket_no=ticket_no)
    return Text(f"抱歉没能让您满意。工单 {ticket_no} 已重新打开，工作人员会继续跟进，进展会通知您。\n"
                "能说说哪里还不满意吗？直接回复即可，会记在工单上转给工作人员。")


@feedback_flow.step("why")
def why(ctx: Context):
    if not ctx.message.text.strip() or _means_something_else(ctx) or (
            len(ctx.text) <= 12 and nlp.rating(ctx.message.text) is not None):  # a verdict, not a reason
        return PASS
    ticket_no = ctx.conversation.data["ticket_no"]
    ctx.end()
    opinions.add_resident_note(ctx.rt.db, ctx.resident.id, ticket_no, ctx.message.text, ctx.now)
    return Text(f"已记在工单 {ticket_no} 上，谢谢您。工作人员处理后会通知您。")
