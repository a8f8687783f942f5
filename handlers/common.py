"""Small helpers shared by handlers: dates as residents read them."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = "一二三四五六日"


def when(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def day(dt: datetime, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"
