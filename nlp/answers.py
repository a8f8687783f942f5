"""Short answers to the bot's own questions (是 / 否 / 跳过), as residents type them.

The words are the [answers] table of lexicon.toml; functions here take the resident's raw text."""
from __future__ import annotations

from nlp.classifier import loaded_lexicon
from nlp.normalize import normalize


def _said(text: str) -> str:
    return normalize(text).rstrip("!.~")


def yes_no(text: str) -> bool | None:
    """True for yes (是, 好的, ok, 1), False for no (否, 不用了, 2), None when the text is neither."""
    said = _said(text)
    answers = loaded_lexicon().answers
    if said in answers.yes:
        return True
    if said in answers.no:
        return False
    return None


def skips(text: str) -> bool:
    """Whether the text declines to answer a question that may go unanswered (跳过, 不知道, 无); a
    trailing ~ is not dropped here (跳过~ is not a skip)."""
    return normalize(text).rstrip(".!") in loaded_lexicon().answers.skip


def nothing_more(text: str) -> bool:
    """Whether the text says there is nothing to add to what the bot summed up (就这些, 没有了)."""
    return _said(text) in loaded_lexicon().answers.nothing_more


def words(kind: str) -> frozenset[str]:
    """One list of the [answers] table (thanks, sign, unsign...), for a handler that matches it on a
    text it has prepared itself."""
    return getattr(loaded_lexicon().answers, kind)


def redo(text: str) -> bool:
    """Whether the text asks to start the answer over (重新描述, 不对)."""
    return _said(text) in loaded_lexicon().answers.redo
