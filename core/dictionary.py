"""jieba's dictionary as a word list: how often it saw a word, and whether that makes it a word in everyday
use. Shared by the search's sound-alikes (index/sounds.py) and the vocabulary's respelling (asr/respell.py)."""
from __future__ import annotations

import functools
import logging

EVERYDAY = 300           # jieba's dictionary count of a word in everyday use (智能 778, 中航 42, 受信 0)


@functools.lru_cache(maxsize=100_000)
def word_count(word: str) -> int:
    """How often jieba's dictionary saw `word` (0: not in it); EVERYDAY and up is a word in everyday use.
    The dictionary is loaded on first use (else jieba answers None for every word until something is cut)."""
    import jieba

    if not jieba.dt.initialized:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    return int(jieba.get_FREQ(word) or 0)
