"""Text normalization shared by the classifier and anything that compares resident text."""
from __future__ import annotations

import re
import threading
from functools import lru_cache

import opencc

# U+FF01..U+FF5E are the full-width forms of ASCII ! .. ~; U+3000 is the ideographic space.
# 。 and 、 have no full-width-form code point but residents' IMEs produce them in the same place.
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_HALF_WIDTH.update({0x3000: " ", ord("。"): ".", ord("、"): ","})
# str.lower() would also fold Greek, Cyrillic, ...; only ASCII is asked for.
_ASCII_LOWER = {cp: cp + 32 for cp in range(ord("A"), ord("Z") + 1)}
_SPACES = re.compile(r"\s+")

_converter: opencc.OpenCC | None = None
_lock = threading.Lock()


def load() -> None:
    """Create the OpenCC traditional→simplified converter once per process (idempotent)."""
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                _converter = opencc.OpenCC("t2s")


# both in one pass: Ｍ → m as well as M → m (OpenCC leaves ASCII alone)
_HALF_WIDTH_LOWER = {cp: (chr(to).lower() if isinstance(to, int) else to) for cp, to in _HALF_WIDTH.items()}
_HALF_WIDTH_LOWER.update(_ASCII_LOWER)


SHORT = 12  # texts up to this long are normalized once per process: 是, 帮助, 1, 报名 ... repeat all day


def normalize(text: str) -> str:
    """Full-width → half-width, traditional → simplified, trim, collapse whitespace, lowercase ASCII."""
    # a message is normalized several times (global words, the conversation step, the classifier)
    return _normalize_short(text) if len(text) <= SHORT else _normalize(text)


@lru_cache(maxsize=4096)
def _normalize_short(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    if _converter is None:
        load()
    assert _converter is not None
    text = text.translate(_HALF_WIDTH_LOWER)
    if not text.isascii():
        text = _converter.convert(text)
    return _SPACES.sub(" ", text).strip()
