"""Short answers to the bot's own questions (是 / 否 / 跳过), as residents type them.

The words are the [answers] table of lexicon.toml; functions here take the resident's raw text."""
from __future__ import annotations

from nlp.classifier import loaded_lexicon
from nlp.normalize import normalize


def yes_no(text: str) -> bool | None:
    """True for yes (是, 好的, ok, 1), False for no (否, 不用了, 2), None when the text is neither."""
    said = normalize(text).rstrip("!.~")
    answers = loaded_lexicon().answers
    if said in answers.yes:
        return True
    if said in answers.no:
        return False
    return None


def skips(text: str) -> bool:
    """Whether the text declines to answer a question that may go unanswered (跳过, 不知道, 无)."""
    return normalize(text).rstrip(".!") in loaded_lexicon().answers.skip
