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


def list_number(text: str) -> int | None:
    """A reply that is just a list number (3, ３, 3号, 第三个, 三); None for anything longer."""
    t = nlp.normalize(text)
    return nlp.extract_number(t) if len(t) <= 4 else None
