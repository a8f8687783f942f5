"""Understanding residents' messages: normalize text, classify it into an intent, pull out slots.

    import nlp
    nlp.load()                     # once per process, e.g. at gunicorn preload
    nlp.classify("報名２")          # Intent(name='event.signup', confidence=1.0, slots={'number': 2})
    nlp.head_count("我带两个小孩")   # 3

Pure Python over a data lexicon (lexicon.toml, described in LEXICON.md); no Flask, database or network.
"""
from nlp.answers import nothing_more, redo, skips, yes_no
from nlp.answers import words as answer_words
from nlp.categories import categories, category
from nlp.classifier import another_request, classify, load
from nlp.intent import INTENTS, Intent
from nlp.lexicon import Lexicon, LexiconError, read_lexicon
from nlp.masking import mask_mobile, mask_phones
from nlp.normalize import normalize
from nlp.numerals import numeral
from nlp.slots import (
    Rating,
    code,
    extract_slots,
    head_count,
    list_number,
    mentions_place,
    mobile,
    rating,
    stated_people,
    ticket_no,
)

__all__ = [
    "INTENTS", "Intent", "Lexicon", "LexiconError", "Rating", "another_request", "answer_words", "categories",
    "category", "classify",
    "code", "extract_slots", "head_count", "list_number", "load", "mask_mobile", "mask_phones",
    "mentions_place", "mobile", "normalize", "nothing_more", "numeral", "rating", "read_lexicon", "redo",
    "skips", "stated_people", "ticket_no", "yes_no",
]
