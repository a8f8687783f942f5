"""What residents read when a service refuses what they sent (Chinese, as short as a chat allows).
The handlers' own replies stay beside the step that sends them (`handlers/`)."""
from __future__ import annotations

from wording.catalogue import Catalogue

RESIDENTS = Catalogue("residents", {
    "opinion.empty": "内容是空的",
    "opinion.too_long": "内容有 {length} 字，超过了 {limit} 字",
    "opinion.too_many": "一小时内最多反映 {limit} 个问题",
    "opinion.already_reported": "已经反映过（工单号 {ticket_no}）",
})


def for_residents(refusal) -> str:
    """A refusal (`storage.rejections.Rejected`) in residents' words."""
    return RESIDENTS.say(refusal.code, **refusal.params)
