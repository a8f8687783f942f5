"""Small helpers shared by handlers: dates as residents read them."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import nlp

WEEKDAYS = "一二三四五六日"


def when(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def day(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


def another_request(text: str, *this_flow: str) -> bool:
    """Whether an answer to the bot's question is plainly some other request (the step then passes it on)."""
    return nlp.classify(text).name not in ("unknown", *this_flow)
