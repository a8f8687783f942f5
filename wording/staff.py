"""What the admin web says to staff when a service refuses (Chinese)."""
from __future__ import annotations

from typing import Any

from nlp import mask_mobile
from wording.catalogue import Catalogue

_DATE = {"start": "开始日期", "end": "结束日期"}

STAFF = Catalogue("staff", {
    # opinions
    "opinion.empty_reply": "答复内容不能为空。",
    "opinion.empty_department": "请选择承办部门。",
    "opinion.reassign_closed": "只有未办结的工单可以改派。",
    "opinion.unknown_category": "没有这个类别。",
    "opinion.category_closed": "只有未办结的工单可以调整类别。",
    "opinion.merge_into_itself": "不能并入自身。",
    "opinion.merge_into_merged": "目标工单已并入其他工单，请并入那一张。",
    "opinion.merge_into_closed": "只能并入未关闭的工单。",
    "opinion.no_ticket": "没有工单 {ticket_no}",
    # projects
    "project.title": "标题需 1 到 128 个字。",
    "project.claim_slots": "认领名额需在 1 到 1000 之间。",
    "project.negative_plan": "预算和计划受益人数不能为负数。",
    "project.category": "类别需 1 到 32 个字，例如 民生微实事。",
    "project.bad_date": lambda name, **_: f"{_DATE.get(name, name)}应为有效日期，格式 YYYY-MM-DD。",
    "project.end_before_start": "结束日期不能早于开始日期。",
    "project.bad_milestone_date": "里程碑「{title}」的日期应为有效日期，格式 YYYY-MM-DD。",
    "project.milestone_title": "每个里程碑都需要标题。",
    "project.already_closed": "项目已完成或已取消，不能再操作。",
    "project.negative_result": "实际受益人数和支出不能为负数。",
    "project.no_milestone": "没有这个里程碑。",
    # announcements
    "announcement.title": "标题不能为空，且不超过 64 字",
    "announcement.body": "正文不能为空，且不超过 1000 字",
    "announcement.time_passed": "发送时间已经过去",
    "announcement.nobody": "这个范围内还没有关注公众号的居民",
    # the roster's CSV import, a problem per line (phones masked: the page may be shown around)
    "roster.header_empty": "文件是空的：第 1 行应为列名，例如 姓名,手机,支部,社区,职务",
    "roster.header_twice": "表头：「{chinese}」列出现了两次（第 {first} 列和第 {second} 列）",
    "roster.header_missing": "表头：缺少「{chinese}」列",
    "roster.header_line": "表头：第 {line} 行应为列名，例如 姓名,手机,支部,社区,职务",
    "roster.no_members": "表头下面没有党员",
    "roster.too_many_values": "第 {line} 行：值比表头的列多（值中有逗号时须用英文双引号括起来）",
    "roster.empty": "第 {line} 行：「{chinese}」为空",
    "roster.too_long": "第 {line} 行：「{chinese}」超过 {limit} 个字",
    "roster.bad_mobile": lambda line, mobile: f"第 {line} 行：手机 {mask_mobile(mobile)} 不是 11 位手机号",
    "roster.unknown_community": "第 {line} 行：没有「{community}」这个社区",
    "roster.bad_date": "第 {line} 行：入党日期「{value}」不是有效日期（YYYY-MM-DD）",
    "roster.mobile_again": lambda line, mobile, first: f"第 {line} 行：手机 {mask_mobile(mobile)} 与第 {first} 行重复",
    "roster.mobile_on_roster": lambda line, mobile: f"第 {line} 行：手机 {mask_mobile(mobile)} 已在党员名册中",
    "roster.changed_meanwhile": "导入时名册有变动（有手机号同时被添加），未导入任何人：请重新导入查看是哪一行",
})


def for_staff(refusal: Any, otherwise: str | None = None) -> str:
    """A refusal (`storage.rejections.Rejected` or `Problem`) in the staff's words; a code the
    catalogue lacks gives `otherwise`, or the operators' text."""
    code = getattr(refusal, "code", None)
    if code in STAFF:
        return STAFF.say(code, **refusal.params)
    return otherwise if otherwise is not None else str(refusal)
