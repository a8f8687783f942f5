"""Community projects in chat: members claim them (认领 3) and report progress (进展 3 入户走访20户),
residents rate finished ones (评价 3 5星 很实在). Projects are known by their number (id), which
stays the same on the public disclosure page."""
from __future__ import annotations

import re

import nlp
from bot.chat.conversation import Flow, not_an_answer
from bot.chat.router import Context, Router
from bot.wechat.replies import Text
from storage import party, projects
from wording.residents import RESIDENTS

router = Router("projects")
rate_flow = router.add_flow(Flow("project.rate", "评价项目"))
_MINE = re.compile(r"我的项目|我认领的|我认领了|已认领")


def _points(ctx: Context) -> projects.Points:
    return projects.Points.from_config(ctx.rt.config.party)


def _public(ctx: Context, project_id: int | None = None) -> str:
    base = ctx.rt.config.app.base_url.rstrip("/")
    return f"{base}/projects/{project_id}" if project_id else f"{base}/projects"


@router.intent("project.list")
@router.menu("PROJECTS")
def list_projects(ctx: Context) -> Text:
    if _MINE.search(ctx.text):
        return mine(ctx)
    found = projects.claimable(ctx.rt.db)
    if not found:
        return Text(f"目前没有可认领的项目，有新项目会通知您。\n全部项目公示：{_public(ctx)}")
    lines = [f"【{p.id}】{p.category}｜{p.title}\n   {p.community_name or '全街道'}｜还可认领 {p.places_left} 人"
             for p in found]
    return Text("可认领的社区项目：\n" + "\n".join(lines)
                + "\n\n党员回复「认领 编号」认领，如「认领 " + str(found[0].id) + "」；发「我的项目」查看已认领的。"
                + f"\n项目公示：{_public(ctx)}")


def mine(ctx: Context) -> Text:
    member = party.member_for(ctx.rt.db, ctx.message.openid)
    if member is None:
        return Text("认领项目需要先完成党员认证：请发送「绑定」加上 6 位绑定码。")
    claimed = projects.claimed_by(ctx.rt.db, member.id)
    if not claimed:
        return Text("您还没有认领项目。发「项目」看看可认领的项目。")
    lines = [f"【{p.id}】{p.title}｜{projects.STATE_LABELS.get(p.status, p.status)}" for p in claimed]
    return Text("您认领的项目：\n" + "\n".join(lines) + "\n\n汇报进展请发「进展 编号 内容」，如「进展 "
                + str(claimed[0].id) + " 入户走访20户」。")


@router.intent("project.claim")
def claim(ctx: Context) -> Text:
    member = party.member_for(ctx.rt.db, ctx.message.openid)
    if member is None:
        return Text("认领项目需要先完成党员认证：请发送「绑定」加上 6 位绑定码。\n不是党员也可以发「项目」看看，"
                    "项目完成后欢迎参与评价。")
    number = ctx.intent.slots.get("number") if ctx.intent else None
    if number is None and (digits := re.search(r"\d{1,6}", ctx.text)):
        number = int(digits.group(0))  # a project number beyond what the slot reads as a list number
    if number is None:
        return Text("请说明要认领的项目编号，如「认领 3」。发「项目」查看可认领的项目和编号。")
    result = projects.claim(ctx.rt.db, number, member.id, ctx.now, _points(ctx))
    p = result.project
    if result.outcome == "claimed":
        return Text(f"认领成功！【{p.id}】{p.title}\n获得服务积分 {result.points} 分。\n"
                    f"进行中请发「进展 {p.id} 内容」汇报，如「进展 {p.id} 入户走访20户」。\n"
                    f"项目公示：{_public(ctx, p.id)}")
    return Text(RESIDENTS.say(f"project.claim.{result.outcome}", number=number, title=p.title if p else "",
                              state=projects.STATE_LABELS.get(p.status, "已结束") if p else "已结束"))


_NOT_A_PROJECT = r"(?![号栋楼幢单元月年日层户室岁])"   # 进展2栋电梯… / 评价3号楼… are residents talking
PROGRESS_ARGS = rf"(\d{{1,4}}){_NOT_A_PROJECT}[\s:：,，]+(\S.*)"
RATING_ARGS = rf"(\d{{1,4}}){_NOT_A_PROJECT}((?:[\s:：,，]+.*)?)"


@router.command("进展", "汇报进展", "进度汇报", args=PROGRESS_ARGS, overrides_conversation=False)
def progress(ctx: Context) -> Text:
    member = party.member_for(ctx.rt.db, ctx.message.openid)
    if member is None:
        return Text("汇报项目进展需要先完成党员认证：请发送「绑定」加上 6 位绑定码。")
    number, text = re.fullmatch(PROGRESS_ARGS, ctx.args, re.S).groups()
    if len(nlp.normalize(text).strip()) < 2:
        return Text(f"请写上进展内容，如「进展 {number} 入户走访20户」。")
    result = projects.report_progress(ctx.rt.db, int(number), member.id, text, ctx.now, ctx.rt.tz, _points(ctx))
    if result.outcome == "recorded":
        earned = f"获得服务积分 {result.points} 分。" if result.points else "（今天这个项目的进展积分已经记过了。）"
        return Text(f"已记录【{result.project.id}】{result.project.title}的进展，会在项目公示页展示。{earned}")
    return Text(RESIDENTS.say(f"project.progress.{result.outcome}", number=number))


@router.command("评价", "评价项目", args=RATING_ARGS, overrides_conversation=False)
def rate(ctx: Context) -> Text:
    number, rest = re.fullmatch(RATING_ARGS, ctx.args, re.S).groups()
    project_id = int(number)
    refusal = projects.can_rate(ctx.rt.db, project_id, ctx.resident.id)
    if refusal:
        return Text(RESIDENTS.say(f"project.rating.{refusal}", number=project_id, stars=0))
    given = _stars(rest or "")
    if given is None:
        ctx.begin(rate_flow, "stars", project_id=project_id)
        return Text(f"请为项目【{number}】打分：回复 1 到 5 的数字（5 最好），可以附一句评价，如「5 很实在」。")
    return _save_rating(ctx, project_id, *given)


_LEADING_STARS = re.compile(r"^\s*([1-5一二三四五])\s*(?:星|分|颗星)?(?:[\s,，。:：]+|$)(.*)$", re.S)


def _stars(text: str) -> tuple[int, str] | None:
    """Stars and the comment after them: "5 很实在", "五星，很好", or words nlp.rating reads as stars."""
    if (m := _LEADING_STARS.match(nlp.normalize(text))) is not None:
        return nlp.numeral(m.group(1)), m.group(2).strip()
    rating = nlp.rating(text)
    return (rating.stars, text.strip()) if rating is not None and rating.stars is not None else None


@rate_flow.step("stars")
def stars(ctx: Context):
    given = _stars(ctx.message.text)
    if given is None:
        return not_an_answer(ctx, "请回复 1 到 5 的数字（5 最好），可以附一句评价；发「取消」放弃。")
    project_id = ctx.conversation.data["project_id"]
    ctx.end()
    return _save_rating(ctx, project_id, *given)


def _save_rating(ctx: Context, project_id: int, stars: int, comment: str) -> Text:
    result = projects.rate(ctx.rt.db, project_id, ctx.resident.id, stars, comment, ctx.now)
    return Text(RESIDENTS.say(f"project.rating.{result.outcome}", number=project_id, stars=stars))
