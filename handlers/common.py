"""Small helpers shared by handlers: dates as residents read them, yes/no answers, list numbers."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import nlp

WEEKDAYS = "一二三四五六日"
YES = {"是", "是的", "对", "对的", "好", "好的", "确认", "提交", "确定", "可以", "嗯", "ok", "y", "yes", "1"}
NO = {"否", "不", "不是", "不要", "不用", "算了", "no", "n", "2"}


def when(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def day(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


def answer(text: str) -> bool | None:
    """True for yes, False for no, None when the text is neither."""
    t = text.strip().rstrip("!！。.").lower()
    if t in YES:
        return True
    if t in NO:
        return False
    return None


_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def list_number(text: str) -> int | None:
    """A bare list number such as 3, ３, 3号 or 三; None for anything else."""
    t = nlp.normalize(text).strip().removeprefix("第").rstrip("号个.、 ")
    if t.isdigit() and len(t) <= 3:
        return int(t)
    return _CN_DIGITS.get(t)
