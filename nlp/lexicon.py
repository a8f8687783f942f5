"""lexicon.toml → a checked, compiled Lexicon. The file format is described in nlp/LEXICON.md.

Staff edit the TOML; every mistake raises LexiconError naming the file and line, so a bad entry
is caught by `nanhu nlp-eval --lexicon FILE` before it is deployed, not by a resident.
"""
from __future__ import annotations

import io
import itertools
import os
import re
import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jieba

from nlp.intent import INTENTS, PASSIVE
from nlp.normalize import normalize
from nlp.soundalike import SoundAlike, make_fold
from nlp.toml_lines import Path, TomlLines

SLOTS = ("ticket_no", "code", "number")  # the slots a [slot_boost] may name (see nlp.slots.extract_slots)


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message is `FILE:LINE: problem`."""

    def __init__(self, problem: str, source: str = "lexicon.toml", line: int | None = None) -> None:
        super().__init__(f"{source}:{line}: {problem}" if line else f"{source}: {problem}")
        self.problem, self.source, self.line = problem, source, line


@dataclass(frozen=True)
class Negation:
    pattern: re.Pattern[str] | None   # a negation word, then at most max_gap characters, at the end
    reach: int                        # how far back from a keyword to look
    exceptions: tuple[str, ...]
    applies_to: frozenset[str]
    flip: dict[str, str]              # negated intent → intent, when the clause ends in a change of mind
    ending: re.Pattern[str] | None    # 了 / 啦 closing the keyword's clause


@dataclass(frozen=True)
class Colloquial:
    """Cantonese (and other spoken) forms rewritten to Mandarin before matching (嘅 → 的, 冇 → 没有)."""
    pattern: re.Pattern[str] | None   # the keep words and the rewritten words, longest first
    words: dict[str, str]             # spoken form → Mandarin; a keep word maps to itself
    alone: frozenset[str]             # single characters, rewritten only where jieba leaves them a word


@dataclass(frozen=True)
class Answers:
    """Short replies to the bot's own questions, each list matched as a whole message."""
    yes: frozenset[str] = frozenset()
    no: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()          # a question the resident need not answer (where the problem is)
    nothing_more: frozenset[str] = frozenset()  # nothing to add to what the bot summed up (就这些)
    redo: frozenset[str] = frozenset()          # start the answer over (重新描述)
    thanks: frozenset[str] = frozenset()        # thanks or an acknowledgement, said to nothing in particular
    sign: frozenset[str] = frozenset()          # asks for the opinion to carry their name (公开姓名)
    unsign: frozenset[str] = frozenset()        # wants it anonymous (匿名)


@dataclass(frozen=True)
class Clarify:
    close_ratio: float
    min_second: float
    min_confidence: float
    max_alternatives: int


@dataclass(frozen=True)
class Fallback:
    intent: str
    min_chars: int
    confidence: float
    require: tuple[re.Pattern[str], ...]  # each must match somewhere in the message
    unless: re.Pattern[str] | None        # none of these may


@dataclass(frozen=True)
class Lexicon:
    """Everything classify() needs, compiled once; immutable, so one instance serves all threads."""
    source: str
    typo_re: re.Pattern[str] | None
    typos: dict[str, str]
    whole_message: dict[str, str]
    phrase_re: re.Pattern[str] | None  # group 1 = the longest phrase starting at each position
    token_words: frozenset[str]
    token_re: re.Pattern[str] | None  # ASCII words, and the single characters that are words
    keywords: dict[str, tuple[tuple[str, float], ...]]
    group_of: dict[str, frozenset[str]]
    negation: Negation
    # (when: any of these fired, all: every one of these fired, from, to)
    redirects: tuple[tuple[frozenset[str], frozenset[str], str, str], ...]
    combines: tuple[tuple[frozenset[str], str, float], ...]
    slot_boost: dict[str, dict[str, float]]
    sentence_bonus: tuple[str, int, float] | None
    min_score: float
    saturation: float
    tie_rank: dict[str, int]
    clarify: Clarify
    fallback: Fallback | None
    soundalike: SoundAlike | None
    pinyin_factor: float
    pinyin_max_exact: float  # sound-alikes are looked for only while no intent scored this much
    tokenizer: jieba.Tokenizer
    colloquial: Colloquial = Colloquial(None, {}, frozenset())
    negation_scope: bool = False  # a negation also cancels the later keywords of its clause
    answers: Answers = Answers()


# ---------------------------------------------------------------- checking

_SECTIONS: dict[str, set[str] | None] = {  # allowed keys; None = free keys (words, intents, groups)
    "settings": {"min_score", "saturation", "tie_break"},
    "typos": None, "whole_message": None, "colloquial": {"words", "keep"}, "groups": None, "keywords": None,
    "slot_boost": None,
    "negation": {"words", "max_gap", "exceptions", "applies_to", "change_of_mind", "whole_clause"},
    "redirect": {"when", "all", "from", "to"},
    "compound": {"intent", "weight", "parts"},
    "combine": {"all", "intent", "weight"},
    "sentence_bonus": {"intent", "min_chars", "bonus"},
    "pinyin": {"factor", "min_weight", "min_chars", "max_exact", "skip_intents", "initials", "finals", "not_typos"},
    "clarify": {"close_ratio", "min_second", "min_confidence", "max_alternatives"},
    "fallback": {"intent", "min_chars", "confidence", "require", "unless"},
    "answers": {"yes", "no", "skip", "nothing_more", "redo", "thanks", "sign", "unsign"},
}
_ARRAYS_OF_TABLES = {"redirect", "compound", "combine"}


class _Checker:
    """Reads values out of the parsed TOML, raising LexiconError at the right line."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = TomlLines(text)
        self.source = source

    def fail(self, problem: str, path: Path, key: str | None = None, value: str | None = None) -> LexiconError:
        if key is None and path and isinstance(path[-1], str) and self.lines.table(path) is None:
            path, key = path[:-1], path[-1]  # a top-level `name = value` rather than a [name] table
        line = self.lines.key(path, key, value) if key is not None else self.lines.table(path)
        return LexiconError(problem, self.source, line)

    def table(self, data: Any, path: Path) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(f"[{_name(path)}] must be a table", path[:-1], str(path[-1]))
        return data

    def keys(self, data: dict[str, Any], path: Path, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(f"unknown key {key!r} in [{_name(path)}] (known: {', '.join(sorted(allowed))})",
                                path, key)

    def number(self, data: dict[str, Any], path: Path, key: str, default: float | None = None, *,
               positive: bool = True, at_most: float | None = None) -> float:
        value = data.get(key, default)
        if value is None:
            raise self.fail(f"[{_name(path)}] needs {key!r}", path)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and value <= 0) \
                or (not positive and value < 0) or (at_most is not None and value > at_most):
            bound = (f"a number {'> 0' if positive else '>= 0'}"
                     + (f" and <= {at_most:g}" if at_most is not None else ""))
            raise self.fail(f"{key!r} must be {bound}, got {value!r}", path, key)
        return float(value)

    def integer(self, data: dict[str, Any], path: Path, key: str, default: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{key!r} must be a whole number >= 0, got {value!r}", path, key)
        return value

    def intent(self, value: Any, path: Path, key: str, *, in_list: bool = False) -> str:
        if value not in INTENTS:
            raise self.fail(f"{value!r} is not an intent (one of {', '.join(INTENTS)})", path, key,
                            value if in_list and isinstance(value, str) else None)
        return value

    def word(self, value: Any, path: Path, key: str, *, in_list: bool = False) -> str:
        where = value if in_list and isinstance(value, str) else None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{value!r} must be a non-empty text", path, key, where)
        if normalize(value) != value:
            raise self.fail(f"write {value!r} as {normalize(value)!r}: words are matched after normalization "
                            "(simplified characters, half-width, lowercase ASCII, single spaces)", path, key, where)
        return value

    def words(self, data: dict[str, Any], path: Path, key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"{key!r} must be a list of words", path, key)
        return [self.word(w, path, key, in_list=True) for w in value]

    def weight(self, value: Any, path: Path, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
            raise self.fail(f"weight of {key!r} must be a number > 0 and <= 10, got {value!r}", path, key)
        return float(value)


def _name(path: Path) -> str:
    return ".".join(f'"{p}"' if isinstance(p, str) and "." in p else str(p) for p in path if not isinstance(p, int))


# ---------------------------------------------------------------- jieba

_dictionary: bytes | None = None
_dictionary_lock = threading.Lock()


def _tokenizer(chars: set[str], phrases: list[str]) -> jieba.Tokenizer:
    """A jieba tokenizer that knows only the dictionary words containing `chars` (plus the lexicon's
    phrases). It decides whether a single-character keyword stands alone (吵) or is part of a word
    (吵架); the other 340,000 words would only cost a second of loading."""
    global _dictionary
    if _dictionary is None:
        with _dictionary_lock:
            if _dictionary is None:
                _dictionary = resources.files("jieba").joinpath("dict.txt").read_bytes()
    data = _dictionary
    lines: dict[int, bytes] = {}
    for char in chars:
        needle = char.encode("utf-8")
        at = data.find(needle)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            lines[start] = data[start:end]
            at = data.find(needle, end)
    # a word found in the text is a word; an entry's own frequency still ranks overlapping words
    extra = [f"{p} 100".encode() for p in phrases if " " not in p]
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = jieba.Tokenizer.gen_pfdict(io.BytesIO(b"\n".join([*lines.values(), *extra])))
    tokenizer.initialized = True
    return tokenizer


# ---------------------------------------------------------------- compiling

def _is_token_word(word: str) -> bool:
    # single characters and ASCII words are too ambiguous as substrings (查 in 检查, hi in this)
    return len(word) == 1 or word.isascii()


def _trie_pattern(words: list[str]) -> str:
    """One regex matching the longest of `words`, branching character by character: a plain
    alternation of 2,000 words would try each of them at every position."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


def _phrase_re(phrases: list[str]) -> re.Pattern[str] | None:
    """Group 1 = the longest phrase starting at each position, overlaps included (a lookahead);
    the first lookahead lets the regex engine skip positions no phrase can start at."""
    if not phrases:
        return None
    first = "".join(sorted({p[0] for p in phrases}))
    return re.compile(f"(?=[{re.escape(first)}])(?=({_trie_pattern(phrases)}))")


def _token_re(token_words: frozenset[str]) -> re.Pattern[str] | None:
    chars = "".join(sorted(w for w in token_words if len(w) == 1 and not w.isascii()))
    if not token_words:
        return None
    return re.compile("[a-z]+" + (f"|[{re.escape(chars)}]" if chars else ""))


def compile_lexicon(text: str, source: str = "lexicon.toml") -> Lexicon:
    """Check and compile the text of a lexicon file; LexiconError names the line of any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise LexiconError(f"not valid TOML: {exc}", source, int(m.group(1)) if m else None) from None
    c = _Checker(text, source)
    for section, value in data.items():
        if section not in _SECTIONS:
            raise c.fail(f"unknown section [{section}] (known: {', '.join(sorted(_SECTIONS))})", (section,))
        if section in _ARRAYS_OF_TABLES:
            if not isinstance(value, list):
                raise c.fail(f"[{section}] is a list of rules: write [[{section}]]", (section,))
            for i, item in enumerate(value):
                c.keys(c.table(item, (section, i)), (section, i), _SECTIONS[section] or set())
        elif _SECTIONS[section] is not None:
            c.keys(c.table(value, (section,)), (section,), _SECTIONS[section] or set())
        else:
            c.table(value, (section,))

    # keywords and compounds
    keywords: dict[str, dict[str, float]] = {}
    for intent, words in data.get("keywords", {}).items():
        path = ("keywords", intent)
        if intent not in INTENTS:
            raise c.fail(f"[{_name(path)}]: {intent!r} is not an intent (one of {', '.join(INTENTS)})", path)
        for word, weight in c.table(words, path).items():
            c.word(word, path, word)
            keywords.setdefault(word, {})[intent] = c.weight(weight, path, word)
    for i, compound in enumerate(data.get("compound", [])):
        path: Path = ("compound", i)
        intent = c.intent(compound.get("intent"), path, "intent")
        weight = c.weight(compound.get("weight"), path, "weight")
        parts = compound.get("parts")
        if not isinstance(parts, list) or not parts or not all(isinstance(p, list) and p for p in parts):
            raise c.fail("'parts' must be a list of non-empty lists of words", path, "parts")
        for part in parts:
            for w in part:
                if w != "":  # "" makes a part optional
                    c.word(w, path, "parts", in_list=True)
        for combination in itertools.product(*parts):
            word = "".join(combination)
            if word:
                keywords.setdefault(word, {}).setdefault(intent, weight)  # an explicit keyword keeps its weight

    groups: dict[str, list[str]] = {}
    for group, words in data.get("groups", {}).items():
        if not isinstance(words, list):
            raise c.fail(f"group {group!r} must be a list of words", ("groups",), group)
        groups[group] = [c.word(w, ("groups",), group, in_list=True) for w in words]
    group_of: dict[str, set[str]] = {}
    for group, words in groups.items():
        for word in words:
            group_of.setdefault(word, set()).add(group)

    redirects = []
    for i, r in enumerate(data.get("redirect", [])):
        path = ("redirect", i)
        when, every = r.get("when", []), r.get("all", [])
        if not isinstance(when, list) or not isinstance(every, list) or not (when or every):
            raise c.fail("'when' (any of) or 'all' (every one of) must be a non-empty list of groups or intents",
                         path, "when" if "when" in r else None)
        for key, names in (("when", when), ("all", every)):
            for name in names:
                if name not in groups and name not in INTENTS:
                    raise c.fail(f"{name!r} in {key!r} is neither a [groups] name nor an intent", path, key, name)
        redirects.append((frozenset(when), frozenset(every), c.intent(r.get("from"), path, "from"),
                          c.intent(r.get("to"), path, "to")))

    combines = []
    for i, r in enumerate(data.get("combine", [])):
        path = ("combine", i)
        names = r.get("all")
        if not isinstance(names, list) or len(names) < 2:
            raise c.fail("'all' must list at least two groups or intents", path, "all")
        for name in names:
            if name not in groups and name not in INTENTS:
                raise c.fail(f"{name!r} in 'all' is neither a [groups] name nor an intent", path, "all", name)
        combines.append((frozenset(names), c.intent(r.get("intent"), path, "intent"),
                         c.weight(r.get("weight"), path, "weight")))

    # negation
    negation = c.table(data.get("negation", {}), ("negation",))
    neg_path: Path = ("negation",)
    neg_words = sorted(c.words(negation, neg_path, "words"), key=len, reverse=True)
    gap = c.integer(negation, neg_path, "max_gap", 0)
    applies_to = negation.get("applies_to", [])
    if not isinstance(applies_to, list):
        raise c.fail("'applies_to' must be a list of intents", neg_path, "applies_to")
    change = c.table(negation.get("change_of_mind", {}), ("negation", "change_of_mind"))
    change_path: Path = ("negation", "change_of_mind")
    c.keys(change, change_path, {"endings", "flip"})
    endings = c.words(change, change_path, "endings")
    flip = c.table(change.get("flip", {}), (*change_path, "flip"))
    whole_clause = negation.get("whole_clause", False)
    if not isinstance(whole_clause, bool):
        raise c.fail(f"'whole_clause' must be true or false, got {whole_clause!r}", neg_path, "whole_clause")
    negation_rules = Negation(
        pattern=re.compile(rf"({'|'.join(map(re.escape, neg_words))})\w{{0,{gap}}}$") if neg_words else None,
        reach=(len(neg_words[0]) + gap) if neg_words else 0,
        exceptions=tuple(c.words(negation, neg_path, "exceptions")),
        applies_to=frozenset(c.intent(n, neg_path, "applies_to", in_list=True) for n in applies_to),
        flip={c.intent(k, change_path, "flip"): c.intent(v, change_path, "flip") for k, v in flip.items()},
        # the ending closes the clause: 不想报名了 / 不参加嘉年华了吧, but not 了解
        ending=re.compile(rf"[^,.!?;:~…\s]*?(?:{'|'.join(map(re.escape, endings))})[吧啊呀哈哦喔]*(?=$|[,.!?;:~…\s])")
        if endings else None,
    )

    slot_boost: dict[str, dict[str, float]] = {}
    for slot, boosts in data.get("slot_boost", {}).items():
        path = ("slot_boost",)
        if slot not in SLOTS:
            raise c.fail(f"{slot!r} is not a slot (one of {', '.join(SLOTS)})", path, slot)
        slot_boost[slot] = {c.intent(i, path, slot): c.weight(w, path, slot)
                            for i, w in c.table(boosts, (*path, slot)).items()}

    bonus = data.get("sentence_bonus")
    sentence_bonus = None
    if bonus is not None:
        path = ("sentence_bonus",)
        sentence_bonus = (c.intent(bonus.get("intent"), path, "intent"), c.integer(bonus, path, "min_chars", 0),
                          c.number(bonus, path, "bonus"))

    settings = data.get("settings", {})
    s_path: Path = ("settings",)
    tie_break = settings.get("tie_break", [])
    if not isinstance(tie_break, list):
        raise c.fail("'tie_break' must be a list of intents", s_path, "tie_break")
    tie_break = [c.intent(n, s_path, "tie_break", in_list=True) for n in tie_break]
    min_score = c.number(settings, s_path, "min_score", 1.0)

    cl = data.get("clarify", {})
    cl_path: Path = ("clarify",)
    clarify = Clarify(
        close_ratio=c.number(cl, cl_path, "close_ratio", 1.0, at_most=1.0),
        min_second=c.number(cl, cl_path, "min_second", min_score),
        min_confidence=c.number(cl, cl_path, "min_confidence", 0.0, positive=False, at_most=1.0),
        max_alternatives=c.integer(cl, cl_path, "max_alternatives", 1),
    )

    fallback = None
    fb = data.get("fallback")
    if fb is not None:
        path = ("fallback",)
        require = fb.get("require", [])
        if not isinstance(require, list) or not all(isinstance(r, list) and r for r in require):
            raise c.fail("'require' must be a list of non-empty lists of words", path, "require")
        patterns = []
        for r in require:
            words = sorted((c.word(w, path, "require", in_list=True) for w in r), key=len, reverse=True)
            patterns.append(re.compile("|".join(map(re.escape, words))))
        unless = sorted(c.words(fb, path, "unless"), key=len, reverse=True)
        fallback = Fallback(c.intent(fb.get("intent"), path, "intent"), c.integer(fb, path, "min_chars", 0),
                            c.number(fb, path, "confidence", at_most=1.0), tuple(patterns),
                            re.compile("|".join(map(re.escape, unless))) if unless else None)

    typos: dict[str, str] = {}
    for wrong, right in data.get("typos", {}).items():
        c.word(wrong, ("typos",), wrong)
        typos[wrong] = c.word(right, ("typos",), wrong)
    whole_message = {c.word(k, ("whole_message",), k): c.intent(v, ("whole_message",), k)
                     for k, v in data.get("whole_message", {}).items()}

    co = c.table(data.get("colloquial", {}), ("colloquial",))
    co_path: Path = ("colloquial",)
    spoken: dict[str, str] = {}
    for wrong, right in c.table(co.get("words", {}), (*co_path, "words")).items():
        c.word(wrong, (*co_path, "words"), wrong)
        if not isinstance(right, str):
            raise c.fail(f"{wrong!r} must be rewritten to a text, got {right!r}", (*co_path, "words"), wrong)
        spoken[wrong] = c.word(right, (*co_path, "words"), wrong) if right else right
    keep = {w: w for w in c.words(co, co_path, "keep") if w not in spoken}
    colloquial = Colloquial(
        # the lookahead lets the regex engine skip positions no spoken form can start at
        pattern=re.compile(f"(?=[{re.escape(''.join(sorted({w[0] for w in [*spoken, *keep]})))}])"
                           f"{_trie_pattern([*spoken, *keep])}") if spoken else None,
        words={**keep, **spoken},
        alone=frozenset(w for w in spoken if len(w) == 1),
    )

    an = c.table(data.get("answers", {}), ("answers",))
    answers = Answers(**{key: frozenset(c.words(an, ("answers",), key)) for key in _SECTIONS["answers"] or ()})

    vocabulary = set(keywords) | set(group_of)
    phrases = sorted((w for w in vocabulary if not _is_token_word(w)), key=lambda w: (-len(w), w))
    token_words = frozenset(w for w in vocabulary if _is_token_word(w))

    soundalike, factor, max_exact = None, 0.0, 0.0
    py = data.get("pinyin")
    if py is not None:
        path = ("pinyin",)
        factor = c.number(py, path, "factor", at_most=1.0)
        max_exact = c.number(py, path, "max_exact", min_score)
        min_weight = c.number(py, path, "min_weight", 0.0, positive=False)
        min_chars = max(2, c.integer(py, path, "min_chars", 2))
        skip = py.get("skip_intents", [])
        if not isinstance(skip, list):
            raise c.fail("'skip_intents' must be a list of intents", path, "skip_intents")
        skip_set = {c.intent(n, path, "skip_intents", in_list=True) for n in skip}
        folds = []
        for key in ("initials", "finals"):
            table = c.table(py.get(key, {}), (*path, key))
            for k, v in table.items():
                if not (isinstance(v, str) and k.isascii() and v.isascii() and k.isalpha()
                        and (v.isalpha() or v == "")):
                    raise c.fail(f"{key} fold {k!r} = {v!r} must map letters to letters", path, key)
            folds.append(table)
        eligible = [w for w, by in keywords.items()
                    if len(w) >= min_chars and not w.isascii()
                    and any(i not in skip_set and weight >= min_weight for i, weight in by.items())]
        soundalike = SoundAlike.build(eligible, make_fold(*folds), c.words(py, path, "not_typos"))

    return Lexicon(
        source=source,
        typo_re=re.compile("|".join(map(re.escape, sorted(typos, key=len, reverse=True)))) if typos else None,
        typos=typos,
        whole_message=whole_message,
        phrase_re=_phrase_re(phrases),
        token_words=token_words,
        token_re=_token_re(token_words),
        keywords={w: tuple(by.items()) for w, by in keywords.items()},
        group_of={w: frozenset(g) for w, g in group_of.items()},
        negation=negation_rules,
        redirects=tuple(redirects),
        combines=tuple(combines),
        slot_boost=slot_boost,
        sentence_bonus=sentence_bonus,
        min_score=min_score,
        saturation=c.number(settings, s_path, "saturation", 1.0),
        tie_rank={n: tie_break.index(n) if n in tie_break else len(tie_break) + INTENTS.index(n) for n in INTENTS},
        clarify=clarify,
        fallback=fallback,
        soundalike=soundalike,
        pinyin_factor=factor,
        pinyin_max_exact=max_exact,
        tokenizer=_tokenizer({w for w in token_words if not w.isascii()} | colloquial.alone, phrases),
        colloquial=colloquial,
        negation_scope=whole_clause,
        answers=answers,
    )


def default_path() -> str:
    return str(resources.files("nlp").joinpath("lexicon.toml"))


def read_lexicon(path: str | os.PathLike[str] | None = None) -> Lexicon:
    """Read, check and compile a lexicon file (the packaged nlp/lexicon.toml by default).
    OSError when unreadable, LexiconError when wrong."""
    if path is None:
        text = resources.files("nlp").joinpath("lexicon.toml").read_text(encoding="utf-8")
        return compile_lexicon(text, "lexicon.toml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return compile_lexicon(text, str(path))


__all__ = ["PASSIVE", "Answers", "Lexicon", "LexiconError", "compile_lexicon", "default_path", "read_lexicon"]
