"""The category an opinion probably belongs to, from the resident's words (staff can change it)."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from nlp.normalize import normalize

OTHER = "其他"
_PATH = Path(__file__).with_name("categories.toml")


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    data = tomllib.loads(_PATH.read_text(encoding="utf-8"))
    table = []
    for category, words in data.items():
        for word, weight in words.items():
            if normalize(word) != word or not isinstance(weight, (int, float)) or isinstance(weight, bool):
                raise ValueError(f"{_PATH.name} [{category}] {word!r}: words are normalized, weights numbers")
        table.append((category, tuple(words.items())))
    return tuple(table)


def categories() -> list[str]:
    """Every category the suggestion can give, 其他 last."""
    return [name for name, _ in _table()] + [OTHER]


def category(text: str) -> str:
    """The best-scoring category for a resident's description, or 其他 when no word is known."""
    said = normalize(text)
    best, best_score = OTHER, 0.0
    for name, words in _table():
        score = sum(weight for word, weight in words if word in said)
        if score > best_score:
            best, best_score = name, score
    return best
