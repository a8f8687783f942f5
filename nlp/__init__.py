"""Understanding residents' messages: normalize text, classify it into an intent, pull out slots.

    import nlp
    nlp.load()                     # once per process, e.g. at gunicorn preload
    nlp.classify("報名２")          # Intent(name='event.signup', confidence=1.0, slots={'number': 2})

Pure Python over a data lexicon (lexicon.toml); no Flask, database or network.
"""
from nlp.classifier import INTENTS, Intent, LexiconError, classify, extract_number, extract_slots, load
from nlp.normalize import normalize

__all__ = ["INTENTS", "Intent", "LexiconError", "classify", "extract_number", "extract_slots", "load", "normalize"]
