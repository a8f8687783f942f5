"""Rule-based intent classifier: lexicon words → weighted scores per intent → the best intent.

The rules live in lexicon.toml; this module only knows how to apply them. Everything is loaded
once per process by load(); classify() is then pure (no I/O, same text → same Intent).
"""
from __future__ import annotations

import itertools
import logging
import re
import threading
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jieba

# nlp.normalize is the function once nlp/__init__ has run, so import from the module by its path
from nlp.normalize import load as _load_normalizer
from nlp.normalize import normalize

INTENTS: tuple[str, ...] = (
    "opinion.submit", "opinion.status",
    "event.list", "event.signup", "event.cancel",
    "project.list", "project.claim",
    "identity.show", "identity.bind",
    "help", "unknown",
)


@dataclass(frozen=True)
class Intent:
    name: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict, compare=False)


class LexiconError(ValueError):
    """lexicon.toml names an intent or group that does not exist, or has a bad value."""


# ---------------------------------------------------------------- slots

_TICKET = re.compile(r"(?<![a-z0-9])my[\s-]?(\d{11,14})(?!\d)")
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_LONG_DIGITS = re.compile(r"\d{4,}")
# a count, time or place is not a list number: 报名2人, 12点, 3号楼
_DIGITS = re.compile(r"(?<!\d)(\d{1,3})(?!\d)(?!\s*(?:人|位|个人|点|月|日|年|天|岁|元|块|楼|栋|层|室|分钟|小时|周|号楼|\+|\.\d))")
_CN_NUM = "[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九]"
# 第三个, 三号 anywhere; a bare numeral only at the end (认领三), and not 周六 / 统一 / 之一
_CN_NUMBER = re.compile(rf"第\s*({_CN_NUM})|({_CN_NUM})\s*号(?!楼)|(?<![周期拜统唯之万初第])({_CN_NUM})$")
_CN_DIGIT = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def extract_ticket_no(text: str) -> str | None:
    """MY20261129001 in any case, in normalized text → 'MY20261129001'."""
    m = _TICKET.search(text)
    return "MY" + m.group(1) if m else None


def extract_code(text: str) -> str | None:
    """The 6-digit binding code in 绑定 836215 (a ticket number's digits are not a code)."""
    m = _CODE.search(_TICKET.sub(" ", text))
    return m.group(1) if m else None


def _cn_to_int(numeral: str) -> int:
    tens, ten, ones = numeral.partition("十")
    if not ten:
        return _CN_DIGIT[numeral]
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


def extract_number(text: str) -> int | None:
    """The list number in 报名 2, 认领3, 报名第二个, 认领三."""
    text = _LONG_DIGITS.sub(" ", _TICKET.sub(" ", text))
    m = _DIGITS.search(text)
    if m:
        return int(m.group(1))
    m = _CN_NUMBER.search(text)
    if m:
        return _cn_to_int(next(g for g in m.groups() if g))
    return None


def extract_slots(text: str) -> dict[str, Any]:
    """Slots present in normalized text; absent ones are left out."""
    found = {"ticket_no": extract_ticket_no(text), "code": extract_code(text), "number": extract_number(text)}
    return {k: v for k, v in found.items() if v is not None}


# ---------------------------------------------------------------- the model


def _is_token_word(word: str) -> bool:
    # single characters and ASCII words are too ambiguous as substrings (查 in 检查, hi in this)
    return len(word) == 1 or word.isascii()


@dataclass(frozen=True)
class _Model:
    typos: tuple[tuple[str, str], ...]
    whole_message: dict[str, str]
    phrase_re: re.Pattern[str] | None
    token_words: frozenset[str]
    keywords: dict[str, tuple[tuple[str, float], ...]]
    group_of: dict[str, frozenset[str]]
    negation_re: re.Pattern[str] | None
    negation_reach: int
    negation_exceptions: tuple[str, ...]
    negated_intents: frozenset[str]
    flip_suffix: str
    flip: dict[str, str]
    redirects: tuple[tuple[frozenset[str], str, str], ...]
    slot_boost: dict[str, dict[str, float]]
    sentence_bonus: tuple[str, int, float] | None
    min_score: float
    saturation: float
    tie_rank: dict[str, int]
    tokenizer: jieba.Tokenizer


def _check_intent(name: Any, where: str) -> str:
    if name not in INTENTS:
        raise LexiconError(f"lexicon.toml {where}: {name!r} is not one of nlp.INTENTS")
    return name


def _check_weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise LexiconError(f"lexicon.toml {where}: weight must be a positive number, got {value!r}")
    return float(value)


def _build(data: dict[str, Any]) -> _Model:
    settings = data.get("settings", {})
    keywords: dict[str, list[tuple[str, float]]] = {}
    for intent, words in data.get("keywords", {}).items():
        _check_intent(intent, "[keywords]")
        for word, weight in words.items():
            keywords.setdefault(word, []).append((intent, _check_weight(weight, f"[keywords.{intent!r}] {word!r}")))

    for i, compound in enumerate(data.get("compound", [])):
        intent = _check_intent(compound["intent"], f"[[compound]] #{i + 1}")
        weight = _check_weight(compound["weight"], f"[[compound]] #{i + 1}")
        for parts in itertools.product(*compound["parts"]):
            entries = keywords.setdefault("".join(parts), [])
            if all(name != intent for name, _ in entries):  # an explicit keyword keeps its own weight
                entries.append((intent, weight))

    group_of: dict[str, set[str]] = {}
    for group, words in data.get("groups", {}).items():
        for word in words:
            group_of.setdefault(word, set()).add(group)

    redirects = []
    for i, r in enumerate(data.get("redirect", [])):
        for name in r["when"]:
            if name not in data.get("groups", {}) and name not in INTENTS:
                raise LexiconError(f"lexicon.toml [[redirect]] #{i + 1}: {name!r} is neither a group nor an intent")
        redirects.append((frozenset(r["when"]), _check_intent(r["from"], "[[redirect]]"), _check_intent(r["to"], "[[redirect]]")))

    negation = data.get("negation", {})
    neg_words = sorted(negation.get("words", []), key=len, reverse=True)
    gap = int(negation.get("max_gap", 0))
    change = negation.get("change_of_mind", {})

    vocabulary = set(keywords) | set(group_of)
    phrases = sorted((w for w in vocabulary if not _is_token_word(w)), key=lambda w: (-len(w), w))
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for phrase in phrases:
        tokenizer.add_word(phrase)
    for right in data.get("typos", {}).values():
        tokenizer.add_word(right)

    bonus = data.get("sentence_bonus")
    tie_break = [_check_intent(n, "[settings] tie_break") for n in settings.get("tie_break", [])]
    return _Model(
        typos=tuple(data.get("typos", {}).items()),
        whole_message={k: _check_intent(v, "[whole_message]") for k, v in data.get("whole_message", {}).items()},
        phrase_re=re.compile("|".join(map(re.escape, phrases))) if phrases else None,
        token_words=frozenset(w for w in vocabulary if _is_token_word(w)),
        keywords={w: tuple(v) for w, v in keywords.items()},
        group_of={w: frozenset(g) for w, g in group_of.items()},
        negation_re=re.compile(rf"({'|'.join(map(re.escape, neg_words))})\w{{0,{gap}}}$") if neg_words else None,
        negation_reach=(len(neg_words[0]) + gap) if neg_words else 0,
        negation_exceptions=tuple(negation.get("exceptions", [])),
        negated_intents=frozenset(_check_intent(n, "[negation] applies_to") for n in negation.get("applies_to", [])),
        flip_suffix=change.get("suffix", ""),
        flip={_check_intent(k, "[negation.change_of_mind]"): _check_intent(v, "[negation.change_of_mind]")
              for k, v in change.get("flip", {}).items()},
        redirects=tuple(redirects),
        slot_boost={slot: {_check_intent(i, "[slot_boost]"): _check_weight(w, f"[slot_boost] {slot}") for i, w in b.items()}
                    for slot, b in data.get("slot_boost", {}).items()},
        sentence_bonus=(_check_intent(bonus["intent"], "[sentence_bonus]"), int(bonus["min_chars"]),
                        _check_weight(bonus["bonus"], "[sentence_bonus]")) if bonus else None,
        min_score=float(settings.get("min_score", 1.0)),
        saturation=float(settings.get("saturation", 1.0)),
        tie_rank={name: tie_break.index(name) if name in tie_break else len(tie_break) + INTENTS.index(name)
                  for name in INTENTS},
        tokenizer=tokenizer,
    )


_model: _Model | None = None
_lock = threading.Lock()


def load() -> None:
    """Load OpenCC, jieba and the lexicon once per process; later calls return at once."""
    global _model
    if _model is not None:
        return
    with _lock:
        if _model is None:
            _load_normalizer()
            # jieba logs its dictionary loading at DEBUG to stderr; keep gunicorn's log clean
            jieba.setLogLevel(logging.WARNING)
            text = resources.files("nlp").joinpath("lexicon.toml").read_text(encoding="utf-8")
            _model = _build(tomllib.loads(text))


# ---------------------------------------------------------------- classification


_ASCII_WORD = re.compile(r"(?<![a-z])[a-z]+(?![a-z])")
# jieba segments only this many characters either side of a single-character keyword; whether
# 吵 stands alone (好吵) or is part of a word (吵架) is decided that close, and segmenting
# whole 300-character complaints would cost milliseconds.
_WINDOW = 4


def _stands_alone(m: _Model, text: str, i: int) -> bool:
    pos = max(0, i - _WINDOW)
    for token in m.tokenizer.cut(text[pos:i + _WINDOW + 1]):
        if pos >= i:
            return pos == i and len(token) == 1
        pos += len(token)
    return False


def _hits(m: _Model, text: str) -> list[tuple[str, int, int]]:
    """Lexicon words in text as (word, start, end): phrases by substring (leftmost, longest first),
    single characters and ASCII words only as whole tokens."""
    hits = [(x.group(), x.start(), x.end()) for x in m.phrase_re.finditer(text)] if m.phrase_re else []
    covered = {i for _, s, e in hits for i in range(s, e)}
    for i, char in enumerate(text):
        if char in m.token_words and i not in covered and _stands_alone(m, text, i):
            hits.append((char, i, i + 1))
    for x in _ASCII_WORD.finditer(text):
        if x.group() in m.token_words and x.start() not in covered:
            hits.append((x.group(), x.start(), x.end()))
    return hits


def _whole_message_key(text: str) -> str:
    if text and not any(c.isalnum() for c in text):
        return "".join(dict.fromkeys(text.replace(" ", "")))  # ??? → ?
    return text


def _negated(m: _Model, text: str, start: int) -> bool:
    """A negation word ends just before text[start]. 有没有 / 能不能 (A-not-A) ask, they do not negate."""
    if m.negation_re is None:
        return False
    neg = m.negation_re.search(text, max(0, start - m.negation_reach), start)
    if neg is None:
        return False
    p, word = neg.start(), neg.group(1)
    if 0 < p < len(text) - 1 and text[p - 1] == text[p + 1]:
        return False
    for exception in m.negation_exceptions:  # 特别想报名
        k = exception.find(word[0])
        if k >= 0 and p - k >= 0 and text.startswith(exception, p - k):
            return False
    return True


def _score(m: _Model, text: str, slots: dict[str, Any]) -> dict[str, float]:
    scores = dict.fromkeys(INTENTS, 0.0)
    fired: set[str] = set()  # groups and intents whose words occur, for the redirects
    for word, start, end in _hits(m, text):
        fired |= m.group_of.get(word, frozenset())
        for intent, weight in m.keywords.get(word, ()):
            if intent in m.negated_intents and _negated(m, text, start):
                flipped = m.flip.get(intent)
                if flipped and m.flip_suffix and text.startswith(m.flip_suffix, end):
                    scores[flipped] += weight
                    fired.add(flipped)
                continue
            scores[intent] += weight
            fired.add(intent)
    for slot in slots:
        for intent, weight in m.slot_boost.get(slot, {}).items():
            scores[intent] += weight
    if m.sentence_bonus:
        intent, min_chars, bonus = m.sentence_bonus
        if scores[intent] and sum(map(str.isalnum, text)) >= min_chars:
            scores[intent] += bonus
    for when, source, target in m.redirects:
        if scores[source] and when & fired:
            scores[target] += scores[source]
            scores[source] = 0.0
            fired.add(target)  # 参与项目: the sign-up became a claim, and claims absorb the project noun
    return scores


def _prepare(text: str) -> tuple[_Model, str, dict[str, Any]]:
    if _model is None:
        load()
    assert _model is not None
    norm = normalize(text)
    for wrong, right in _model.typos:
        norm = norm.replace(wrong, right)
    return _model, norm, extract_slots(norm)


def classify(text: str) -> Intent:
    """The intent of a resident's raw message, with its slots (number, code, ticket_no)."""
    m, norm, slots = _prepare(text)
    exact = m.whole_message.get(_whole_message_key(norm))
    if exact:
        return Intent(exact, 1.0, slots)

    scores = _score(m, norm, slots)
    ranked = sorted(INTENTS, key=lambda n: (-scores[n], m.tie_rank[n]))
    best, second = scores[ranked[0]], scores[ranked[1]]
    if best < m.min_score:
        return Intent("unknown", round(1.0 - best / m.min_score, 3), slots)
    confidence = best / (best + second) * min(1.0, best / m.saturation)
    return Intent(ranked[0], round(confidence, 3), slots)


def explain(text: str) -> str:
    """Why classify() decided as it did: normalized text, words found, non-zero scores. For tuning."""
    m, norm, slots = _prepare(text)
    words = " ".join(w for w, _, _ in sorted(_hits(m, norm), key=lambda h: h[1]))
    scores = {k: v for k, v in _score(m, norm, slots).items() if v}
    return f"{norm!r} words=[{words}] scores={scores} slots={slots} → {classify(text)}"
