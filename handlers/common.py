"""Small helpers shared by handlers: dates as residents read them, list numbers."""
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


def list_number(text: str) -> int | None:
    """A reply that is just a list number (3, ３, 3号, 第三个, 三); None for anything longer."""
    t = nlp.normalize(text)
    return nlp.extract_number(t) if len(t) <= 4 else None
