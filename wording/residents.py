"""What residents read when a service refuses what they sent, or answers with an outcome that has
several replies (Chinese, as short as a chat allows). Replies written once stay beside the step that
sends them (`handlers/`)."""
from __future__ import annotations

from wording.catalogue import Catalogue

RESIDENTS = Catalogue("residents", {
    "opinion.empty": "内容是空的",
    "opinion.too_long": "内容有 {length} 字，超过了 {limit} 字",
    "opinion.too_many": "一小时内最多反映 {limit} 个问题",
    "opinion.already_reported": "已经反映过（工单号 {ticket_no}）",
    # signing up for an event (what the sign-up refused; `again`: how to sign up for it again)
    "event.signup.no_room": "「{title}」名额已满，这个活动不设候补。发「活动」看看其他活动吧。",
    "event.signup.cancelled": "「{title}」已取消，不能报名了。发「活动」看看其他活动吧。",
    "event.signup.started": "「{title}」已经开始或结束了，不能再报名。发「活动」看看其他活动吧。",
    "event.signup.deadline": "「{title}」报名已于 {deadline} 截止。发「活动」看看其他活动吧。",
    "event.signup.too_many": "「{title}」每次最多报 {most} 人。请重新发「{again} 2人」这样的人数。",
    "event.signup.too_few": "报名人数至少 1 人。请重新发「{again} 2人」这样的人数。",
    "event.signup.not_for_you": "「{title}」面向党员。党员请先发「绑定 + 绑定码」认证身份后再报名。",
    # claiming a project (`title` and `state` are empty / 已结束 for a project that does not exist)
    "project.claim.unknown": "没有编号为 {number} 的项目。发「项目」查看可认领的项目和编号。",
    "project.claim.already": "您已经认领了【{number}】{title}，不用重复认领。",
    "project.claim.closed": "【{number}】{title}{state}，不能再认领了。",
    "project.claim.not_member": "认领项目需要有效的党员认证。如有疑问请联系所在社区党委。",
    "project.claim.full": "【{number}】{title}的认领名额已满。发「项目」看看其他项目吧。",
    # reporting a project's progress
    "project.progress.unknown": "没有编号为 {number} 的项目。发「我的项目」查看您认领的项目。",
    "project.progress.not_claimer": "您没有认领【{number}】，不能为它汇报进展。发「我的项目」查看您认领的项目。",
    "project.progress.closed": "【{number}】已经结束，不再记录进展。",
    "project.progress.not_member": "汇报进展需要有效的党员认证。如有疑问请联系所在社区党委。",
    # rating a finished project
    "project.rating.rated": "谢谢您的评价！已为【{number}】打 {stars} 星，评价会在项目公示页展示（不显示您的身份）。",
    "project.rating.already": "您已经评价过【{number}】了，谢谢。",
    "project.rating.not_completed": "【{number}】还没有完成，完成后再来评价吧。",
    "project.rating.unknown": "没有编号为 {number} 的项目。发「项目」查看项目编号。",
    "project.rating.bad_stars": "请打 1 到 5 星。",
})


def for_residents(refusal) -> str:
    """A refusal (`storage.rejections.Rejected`) in residents' words."""
    return RESIDENTS.say(refusal.code, **refusal.params)
