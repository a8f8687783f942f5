"""Numbers as residents write them: 12, 十二, 两千五百 → int. The one converter every slot extractor uses."""
from __future__ import annotations

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZEROS = "零〇"


def numeral(text: str) -> int | None:
    """12 → 12, 十二 → 12, 二十 → 20, 三百零五 → 305, 两千五百 → 2500, 一万二千 → 12000, 零 → 0.

    None for what is not one well-formed numeral: 二三, 十十, 二零 (a digit must be followed by a
    unit, except the last one)."""
    if text.isdigit():
        return int(text)
    high, wan, low = text.partition("万")
    if not wan:
        return _below_10000(text)
    tens_of_thousands = _below_10000(high) if high else 1
    rest = _below_10000(low) if low else 0
    if tens_of_thousands is None or rest is None or rest >= 10000:
        return None
    return tens_of_thousands * 10000 + rest


def _below_10000(text: str) -> int | None:
    """A numeral without 万; leading zeros are ignored (零五 → 5), as is a 零 after a unit (十〇 → 10)."""
    text = text.lstrip(_ZEROS)
    total, digit, last_unit = 0, None, 10000
    for i, ch in enumerate(text):
        if ch in _ZEROS:
            if digit is not None or (last_unit == 10 and i < len(text) - 1):
                return None  # 二零: a digit with no unit after it; 十零五: nothing is skipped after 十
        elif ch in DIGITS:
            if digit is not None:
                return None  # 二三
            digit = DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit:
                return None  # 十十, 十百
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    return total + (digit or 0)
