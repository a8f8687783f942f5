"""Personal numbers kept out of logs and pages: mobile and ID card numbers, however they are written."""
from __future__ import annotations

import re

_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋", "0123456789+")
# an ID card number (15 or 18 characters) is tried before a mobile, so that its digits are not half-masked
_ID_NUMBER = r"(?<![\dA-Za-z])(?P<id_head>\d{6})\d{8,11}(?P<id_tail>[\dXx])(?![\dA-Za-z])"
# a mainland mobile, with or without +86 / 86, with spaces or dashes anywhere between its digits
_MOBILE = r"(?<!\d)(?P<prefix>(?:\+?86[\s-]?)?)(?P<mobile>1[3-9]\d(?:[\s-]?\d){8})(?!\d)"
_PERSONAL = re.compile(f"{_ID_NUMBER}|{_MOBILE}")


def mask_mobile(number: str) -> str:
    """One number: 13800138001 → 138****8001. Other lengths keep their first 3 and last 4 digits too;
    fewer than 8 digits are masked entirely."""
    digits = re.sub(r"\D", "", number or "")
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_phones(text: str) -> str:
    """The text with every mobile and ID card number in it masked; the rest as written.

    13800138001 → 138****8001; +86 138-0013-8001 → +86 138****8001; １３８００１３８００１ → 138****8001;
    44030319900101123X → 440303***********X."""
    if not text:
        return text
    half = text.translate(_FULL_WIDTH_DIGITS)  # same length: the matches' places are the text's places
    parts, end = [], 0
    for m in _PERSONAL.finditer(half):
        parts.append(text[end:m.start()])
        if m.group("id_head"):
            parts.append(m.group("id_head") + "*" * (len(m.group()) - 7) + m.group("id_tail"))
        else:
            parts.append(m.group("prefix") + mask_mobile(m.group("mobile")))
        end = m.end()
    parts.append(text[end:])
    return "".join(parts)
