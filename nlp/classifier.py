"""Rule-based intent classifier: lexicon words → weighted scores per intent → the best intent.

The rules live in lexicon.toml (nlp/LEXICON.md); this module only knows how to apply them.
Everything is loaded once per process by load(); classify() is then pure (no I/O, same text →
same Intent).
"""
from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

import jieba

from nlp.intent import INTENTS, PASSIVE, Intent
from nlp.lexicon import Lexicon, LexiconError, read_lexicon

# nlp.normalize is the function once nlp/__init__ has run, so import from the module by its path
from nlp.normalize import load as _load_normalizer
from nlp.normalize import normalize
from nlp.slots import extract_code, extract_number, extract_slots, extract_ticket_no
from nlp.soundalike import readings as _load_readings

__all__ = ["INTENTS", "Intent", "Lexicon", "LexiconError", "another_request", "classify", "extract_code",
           "extract_number", "extract_slots", "extract_ticket_no", "load", "read_lexicon"]

Hit = tuple[str, int, int, float]  # word, start, end, share of its weight that counts (1.0, or less for a sound-alike)

_model: Lexicon | None = None
_lock = threading.Lock()


def load(path: str | os.PathLike[str] | None = None) -> None:
    """Load OpenCC, the pinyin table, jieba and the lexicon once per process; later calls return at
    once. With `path`, that lexicon file replaces the packaged one (and any loaded before).
    Raises LexiconError naming the line of a bad entry."""
    global _model
    if _model is not None and path is None:
        return
    with _lock:
        if _model is None or path is not None:
            _load_normalizer()
            _load_readings()
            # jieba logs at DEBUG to stderr; keep gunicorn's log clean
            jieba.setLogLevel(logging.WARNING)
            _model = read_lexicon(path)


def loaded_lexicon() -> Lexicon:
    """The process-wide lexicon, loaded on first use."""
    if _model is None:
        load()
    assert _model is not None
    return _model


# ---------------------------------------------------------------- finding words

# jieba segments only this many characters either side of a single-character keyword; whether
# 吵 stands alone (好吵) or is part of a word (吵架) is decided that close.
_WINDOW = 4


def _stands_alone(lx: Lexicon, text: str, i: int) -> bool:
    pos = max(0, i - _WINDOW)
    for token in lx.tokenizer.cut(text[pos:i + _WINDOW + 1], HMM=False):
        if pos >= i:
            return pos == i and len(token) == 1
        pos += len(token)
    return False


def _hits(lx: Lexicon, text: str) -> list[Hit]:
    """Lexicon words in text, in order: phrases by substring (the longer where two overlap),
    single characters and ASCII words only as whole tokens."""
    hits: list[Hit] = []
    covered: set[int] = set()
    if lx.phrase_re is not None:
        found = [(x.group(1), x.start()) for x in lx.phrase_re.finditer(text)]
        # where phrases overlap the longer one wins (我去不了 is 去不了, not 我去), then the earlier
        for word, start in sorted(found, key=lambda f: (-len(f[0]), f[1])) if len(found) > 1 else found:
            end = start + len(word)
            if not covered.intersection(range(start, end)):
                hits.append((word, start, end, 1.0))
                covered.update(range(start, end))
        hits.sort(key=lambda h: h[1])
    if lx.token_re is not None:
        for x in lx.token_re.finditer(text):
            word, i = x.group(), x.start()
            if word in lx.token_words and i not in covered and (len(word) > 1 or word.isascii()
                                                                 or _stands_alone(lx, text, i)):
                hits.append((word, i, x.end(), 1.0))
    return hits


def _negated(lx: Lexicon, text: str, start: int) -> bool:
    """A negation word ends just before text[start]. 有没有 / 能不能 (A-not-A) ask, they do not negate."""
    neg_rules = lx.negation
    if neg_rules.pattern is None:
        return False
    neg = neg_rules.pattern.search(text, max(0, start - neg_rules.reach), start)
    if neg is None:
        return False
    p, word = neg.start(), neg.group(1)
    if 0 < p < len(text) - 1 and text[p - 1] == text[p + 1]:
        return False
    for exception in neg_rules.exceptions:  # 特别想报名
        k = exception.find(word[0])
        if k >= 0 and p - k >= 0 and text.startswith(exception, p - k):
            return False
    return True


# ---------------------------------------------------------------- scoring

def _score(lx: Lexicon, text: str, hits: list[Hit], slots: dict[str, Any]) -> dict[str, float]:
    scores = dict.fromkeys(INTENTS, 0.0)
    fired: set[str] = set()  # groups and intents whose words occur, for the redirects
    negation = lx.negation
    negated_to = -1  # a negation cancels the rest of its clause: 不想参加任何活动
    seen: set[str] = set()  # a word counts once: 喂喂喂, 在吗在吗
    group_of, keywords, applies_to = lx.group_of, lx.keywords, negation.applies_to
    for word, start, end, share in hits:
        groups = group_of.get(word)
        if groups:
            fired |= groups
        if word in seen:
            continue
        seen.add(word)
        for intent, weight in keywords.get(word, ()):
            if intent in applies_to and (start < negated_to or _negated(lx, text, start)):
                flipped = negation.flip.get(intent)
                if start >= negated_to and flipped and negation.ending and negation.ending.match(text, end):
                    scores[flipped] += weight * share  # 不想报名了: withdraws an earlier sign-up
                    fired.add(flipped)
                elif lx.negation_scope and start >= negated_to:
                    m = _CLAUSE_END.search(text, end)
                    negated_to = m.start() if m else len(text)
                continue
            scores[intent] += weight * share
            fired.add(intent)
    for names, intent, weight in lx.combines:
        if names <= fired:
            scores[intent] += weight
            fired.add(intent)
    if slots and lx.slot_boost:
        for slot in slots:
            for intent, weight in lx.slot_boost.get(slot, {}).items():
                scores[intent] += weight
    if lx.sentence_bonus:
        intent, min_chars, bonus = lx.sentence_bonus
        if scores[intent] and sum(map(str.isalnum, text)) >= min_chars:
            scores[intent] += bonus
    for when, every, source, target in lx.redirects:
        if scores[source] and (not when or when & fired) and every <= fired:
            scores[target] += scores[source]
            scores[source] = 0.0
            fired.add(target)  # 参与项目: the sign-up became a claim, and claims absorb the project noun
    return scores


_CLAUSE_END = re.compile(r"[,.!?;:~…\s]")


def _ranked(lx: Lexicon, scores: dict[str, float]) -> list[str]:
    """Intents that scored, best first (equal scores: tie_break order), then "unknown" if it did not."""
    rank = lx.tie_rank
    ranked = sorted((n for n in scores if scores[n]), key=lambda n: (-scores[n], rank[n]))
    return ranked if "unknown" in ranked else [*ranked, "unknown"]


def _winner(lx: Lexicon, scores: dict[str, float]) -> str:
    best = _ranked(lx, scores)[0]
    return best if scores[best] >= lx.min_score else "unknown"


def _decide(lx: Lexicon, text: str, scores: dict[str, float], slots: dict[str, Any], via_pinyin: bool) -> Intent:
    ranked = _ranked(lx, scores)
    name = ranked[0]
    best = scores[name]
    second = scores[ranked[1]] if len(ranked) > 1 else 0.0
    if best < lx.min_score:
        fb = lx.fallback
        if (fb and sum(map(str.isalnum, text)) >= fb.min_chars and all(p.search(text) for p in fb.require)
                and not (fb.unless and fb.unless.search(text))):
            return Intent(fb.intent, fb.confidence, slots)  # a neighbourhood problem in words the lexicon lacks
        return Intent("unknown", round(1.0 - best / lx.min_score, 3), slots)
    confidence = best / (best + second) * min(1.0, best / lx.saturation)
    if via_pinyin and name not in PASSIVE:
        confidence *= lx.pinyin_factor  # it rests on a guess about what was meant
    confidence = round(confidence, 3)
    if name in PASSIVE:
        return Intent(name, confidence, slots)
    cl = lx.clarify
    unsure = confidence < cl.min_confidence
    alternatives = []
    for other in ranked[1:]:
        if len(alternatives) >= cl.max_alternatives or scores[other] < cl.min_second:
            break
        if other not in PASSIVE and (unsure or scores[other] >= cl.close_ratio * best):
            alternatives.append(other)
    return Intent(name, confidence, slots, tuple(alternatives), via_pinyin)


def _colloquial(lx: Lexicon, text: str) -> str:
    """Spoken forms → Mandarin (嘅 → 的, 唔该 → 谢谢); a keep word (关系) is left as it is, and a single
    character (系, 识) is rewritten only where it is a word of its own."""
    co = lx.colloquial
    if co.pattern is None:
        return text
    words, alone = co.words, co.alone

    def rewrite(m: re.Match[str]) -> str:
        word = m.group()
        if word in alone and not _stands_alone(lx, text, m.start()):
            return word
        return words[word]

    return co.pattern.sub(rewrite, text)


def _prepare(lx: Lexicon, text: str) -> str:
    norm = _colloquial(lx, normalize(text))
    if lx.typo_re is not None:
        norm = lx.typo_re.sub(lambda m: lx.typos[m.group()], norm)
    return norm


def _whole_message_key(text: str) -> str:
    if text and not any(c.isalnum() for c in text):
        return "".join(dict.fromkeys(text.replace(" ", "")))  # ??? → ?
    return text


def _analyse(lx: Lexicon, norm: str) -> tuple[dict[str, Any], dict[str, float], bool]:
    slots = extract_slots(norm)
    hits = _hits(lx, norm)
    scores = _score(lx, norm, hits, slots)
    via_pinyin = False
    # sound-alikes are weak evidence: looked for only when the exact words decided nothing
    # firmly, and only where no exact word is
    if lx.soundalike is not None and max(scores.values()) < lx.pinyin_max_exact:
        before = _winner(lx, scores)
        # a single character (报) does not rule out a sound-alike of a longer word over it (剧报 ≈ 举报)
        taken = {i for _, s, e, _ in hits if e - s > 1 for i in range(s, e)}
        sounds = [(w, s, e, lx.pinyin_factor) for w, s, e in lx.soundalike.find(norm, taken)]
        if sounds:
            # … and where one is found, the longer word wins over that character (as exact words do)
            heard = {i for _, s, e, _ in sounds for i in range(s, e)}
            kept = [h for h in hits if h[1] not in heard]
            if len(kept) < len(hits):
                before = _winner(lx, _score(lx, norm, kept, slots))
            hits = sorted(kept + sounds, key=lambda h: h[1])
            scores = _score(lx, norm, hits, slots)
            via_pinyin = _winner(lx, scores) != before
    return slots, scores, via_pinyin


def classify(text: str, lexicon: Lexicon | None = None) -> Intent:
    """The intent of a resident's raw message, with its slots (number, code, ticket_no).

    `lexicon` is the process-wide one from load() unless given (to try a candidate lexicon)."""
    lx = lexicon or _model or loaded_lexicon()
    norm = _prepare(lx, text)
    exact = lx.whole_message.get(_whole_message_key(norm))
    if exact:
        return Intent(exact, 1.0, extract_slots(norm))
    slots, scores, via_pinyin = _analyse(lx, norm)
    return _decide(lx, norm, scores, slots, via_pinyin)


def another_request(text: str, *this_flow: str, certain: bool = False) -> bool:
    """Whether a reply to the bot's question is some other request, so that the conversation step
    passes it on: an intent other than unknown and `this_flow`. A step that asks for a short answer
    (a number, 是/否, stars) passes on any such reading, and the router may then ask which was meant;
    a step that takes free text (an opinion's description) passes on only a `certain` one (no close
    alternative, not only through a sound-alike), since a description names all sorts of things."""
    intent = classify(text)
    if intent.name in ("unknown", *this_flow):
        return False
    return not certain or (not intent.alternatives and not intent.via_pinyin)
