"""Sound-alike matching: 抱名 and 报铭 sound like 报名 (bao ming), so they are weak evidence for it.

Readings come from pypinyin's single-character table, read once per process. Tones are ignored
(residents type toneless pinyin and the input method picks a wrong character of the same sound).
Keywords and residents' characters are both read with their first (most common) reading. Optional folds from the
lexicon (zh → z, ing → in, ...) model accents in which those sounds are mixed up.
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

_TONELESS = str.maketrans({
    **dict.fromkeys("āáǎà", "a"), **dict.fromkeys("ēéěèê", "e"), **dict.fromkeys("īíǐì", "i"),
    **dict.fromkeys("ōóǒò", "o"), **dict.fromkeys("ūúǔù", "u"), **dict.fromkeys("üǖǘǚǜ", "v"),
    **dict.fromkeys("ńňǹ", "n"), "ḿ": "m",
})
# initials, longest first, so that zh is not read as z + h...
_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s",
             "y", "w")

_readings: dict[str, tuple[str, ...]] | None = None
_lock = threading.Lock()


def _pinyin_table() -> dict[int, str]:
    # pypinyin's package __init__ also loads its 400,000-phrase table (~0.3 s); only the
    # single-character table is needed, so that one module is loaded by itself.
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pypinyin is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.py"
    module_spec = importlib.util.spec_from_file_location("_nlp_pypinyin_pinyin_dict", path)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover - a broken install
        from pypinyin import pinyin_dict
        return pinyin_dict.pinyin_dict
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.pinyin_dict


def readings() -> dict[str, tuple[str, ...]]:
    """Character → its toneless readings, most common first (报 → ('bao',), 参 → ('can', 'cen', 'shen'))."""
    global _readings
    if _readings is None:
        with _lock:
            if _readings is None:
                table = _pinyin_table()
                codes = list(table)
                # one translate over all readings is much faster than 40,000 small ones
                joined = "\n".join(table[c] for c in codes).translate(_TONELESS).split("\n")
                _readings = {chr(c): tuple(dict.fromkeys(r.split(","))) for c, r in zip(codes, joined, strict=False)}
    return _readings


def make_fold(initials: dict[str, str], finals: dict[str, str]) -> dict[str, str]:
    """Syllable → its folded form for every syllable that a fold changes (shi → si, ming → min)."""
    finals_longest_first = sorted(finals, key=len, reverse=True)
    folded: dict[str, str] = {}
    for syllable in {s for rs in readings().values() for s in rs}:
        initial = next((i for i in _INITIALS if syllable.startswith(i) and len(syllable) > len(i)), "")
        final = syllable[len(initial):]
        initial = initials.get(initial, initial)
        for ending in finals_longest_first:
            if final.endswith(ending):
                final = final[: -len(ending)] + finals[ending]
                break
        if initial + final != syllable:
            folded[syllable] = initial + final
    return folded


@dataclass(frozen=True)
class SoundAlike:
    """Sound-alikes of a set of keywords, ready to search resident text."""
    index: dict[tuple[str, ...], str]     # folded syllables of a keyword → the keyword
    starts: frozenset[str]                # first syllables of the keywords
    syllables: dict[str, str]             # character → its folded reading, if some keyword has that sound
    lengths: tuple[int, ...]              # keyword lengths, longest first
    not_typos: frozenset[str]             # real words that merely sound like a keyword (一件 ≈ 意见)

    @classmethod
    def build(cls, keywords: list[str], fold: dict[str, str], not_typos: list[str]) -> SoundAlike:
        table = readings()
        index: dict[tuple[str, ...], str] = {}
        for word in sorted(keywords, key=lambda w: (-len(w), w)):
            if all(c in table for c in word):
                key = tuple(fold.get(table[c][0], table[c][0]) for c in word)
                index.setdefault(key, word)
        wanted = {s for key in index for s in key}
        # a character's rare readings (圳 huai) find more false sound-alikes than real typos: an
        # input method offers a character for its common reading
        syllables = {char: first for char, rs in table.items() if (first := fold.get(rs[0], rs[0])) in wanted}
        lengths = tuple(sorted({len(k) for k in index}, reverse=True))
        return cls(index, frozenset(k[0] for k in index), syllables, lengths, frozenset(not_typos))

    def find(self, text: str, taken: set[int]) -> list[tuple[str, int, int]]:
        """Keywords that text sounds like where no exact word was found: (keyword, start, end),
        leftmost and longest first, not overlapping each other or the `taken` positions."""
        sounds = [None if i in taken else self.syllables.get(c) for i, c in enumerate(text)]
        found: list[tuple[str, int, int]] = []
        i, n = 0, len(text)
        while i < n:
            if sounds[i] not in self.starts:
                i += 1
                continue
            for length in self.lengths:
                end = i + length
                if end > n:
                    continue
                key = tuple(sounds[i:end])
                word = self.index.get(key) if None not in key else None  # type: ignore[arg-type]
                if word is not None and word != text[i:end] and text[i:end] not in self.not_typos:
                    found.append((word, i, end))
                    i = end
                    break
            else:
                i += 1
        return found
