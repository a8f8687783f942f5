"""Logging set-up. Personal data stays out of logs: mobile and ID numbers are masked in every record."""
from __future__ import annotations

import logging
import logging.handlers
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nlp.masking import mask_phones

UNKNOWN_KEPT = 500                 # characters of a not-understood message kept for lexicon work
LEXICON_LOG_BYTES = 10 * 1024 * 1024   # the lexicon log rotates at this size, keeping three old files


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_phones(super().format(record))


def setup(level: str = "INFO", lexicon_log: str = "") -> None:
    """Console logging for the process (once), and the lexicon log at `lexicon_log` ("" turns it off)."""
    root = logging.getLogger()
    if not getattr(root, "_nanhu_configured", False):
        handler = logging.StreamHandler()
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"))
        root.addHandler(handler)
        root._nanhu_configured = True  # type: ignore[attr-defined]
    root.setLevel(level)
    lexicon = logging.getLogger("nanhu.lexicon")
    lexicon.propagate = False
    lexicon.setLevel(logging.INFO)
    for old in list(lexicon.handlers):
        if getattr(old, "baseFilename", None) != (str(Path(lexicon_log).resolve()) if lexicon_log else None):
            lexicon.removeHandler(old)
            old.close()
    if lexicon_log and not lexicon.handlers:
        Path(lexicon_log).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(lexicon_log, maxBytes=LEXICON_LOG_BYTES, backupCount=3,
                                                            encoding="utf-8")
        file_handler.setFormatter(MaskingFormatter("%(asctime)s\t%(message)s"))
        lexicon.addHandler(file_handler)


def log_unknown(text: str) -> None:
    """Keep a message the bot did not understand, for lexicon work (phones masked, no openid, at most
    UNKNOWN_KEPT characters)."""
    head = text[:UNKNOWN_KEPT + 40].replace("\t", " ").replace("\n", " ").replace("\r", " ")
    logging.getLogger("nanhu.lexicon").info("%s", mask_phones(head)[:UNKNOWN_KEPT])  # masked, then cut


@dataclass(frozen=True)
class Miss:
    text: str
    count: int
    last_seen: datetime


def read_misses(path: str | Path, since: datetime | None = None) -> list[Miss]:
    """The not-understood messages in the lexicon log, most frequent first (same text counted once)."""
    counts: dict[str, list] = {}
    file = Path(path)
    if not file.exists():
        return []
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        stamp, _, text = line.partition("\t")
        try:
            seen = datetime.strptime(stamp.split(",")[0], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue  # a line that is not ours
        if not text.strip() or (since and seen < since):
            continue
        entry = counts.setdefault(text.strip(), [0, seen])
        entry[0] += 1
        entry[1] = max(entry[1], seen)
    return sorted((Miss(t, n, last) for t, (n, last) in counts.items()), key=lambda m: (-m.count, m.text))
