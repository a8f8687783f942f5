"""Logging set-up. Personal data stays out of logs: mobile numbers are masked in every record."""
from __future__ import annotations

import logging
import re
from pathlib import Path

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    """13800138001 → 138****8001."""
    return _MOBILE.sub(r"\1****\2", text)


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_phones(super().format(record))


def setup(level: str = "INFO", lexicon_log: str = "") -> None:
    root = logging.getLogger()
    if getattr(root, "_nanhu_configured", False):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    lexicon = logging.getLogger("nanhu.lexicon")
    lexicon.propagate = False
    if lexicon_log:
        Path(lexicon_log).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(lexicon_log, encoding="utf-8")
        file_handler.setFormatter(MaskingFormatter("%(asctime)s\t%(message)s"))
        lexicon.addHandler(file_handler)
    root._nanhu_configured = True  # type: ignore[attr-defined]


def log_unknown(text: str) -> None:
    """Keep a message the bot did not understand, for lexicon work (phones masked, no openid)."""
    logging.getLogger("nanhu.lexicon").info("%s", mask_phones(text.replace("\t", " ").replace("\n", " ")))
