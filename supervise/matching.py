"""Tolerant phrase matching for transcripts: recognition errors change, drop or add a few characters.

A phrase is found in a text when some substring of the text is within k edits of it (Sellers' algorithm),
k = floor(len(phrase) * (1 - similarity)). A q-gram filter (each edit spoils at most two character pairs)
skips the edit-distance work for almost every piece of text, which keeps 10,000 sessions fast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case, punctuation and spaces dropped (Chinese and ASCII punctuation alike)."""
    return _NOT_WORD.sub("", text).lower()


def bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


@dataclass(frozen=True)
class Pattern:
    text: str                   # normalised
    allowed: int                # edits allowed
    pairs: frozenset[str]       # its character pairs
    needed: int                 # pairs a window must share with it before the edit distance is computed

    @classmethod
    def of(cls, phrase: str, similarity: float) -> "Pattern":
        text = normalise(phrase)
        allowed = int(len(text) * (1.0 - similarity) + 1e-9)
        pairs = bigrams(text)
        return cls(text, allowed, pairs, max(0, len(pairs) - 2 * allowed))


def distance_in(pattern: str, text: str) -> int:
    """The fewest edits that turn `pattern` into some substring of `text` (Sellers, 1980)."""
    m = len(pattern)
    column = list(range(m + 1))
    best = m
    for ch in text:
        prev_diag = 0            # the empty prefix of the pattern matches anywhere at no cost
        column[0] = 0
        for i in range(1, m + 1):
            cost = prev_diag if pattern[i - 1] == ch else prev_diag + 1
            above = column[i - 1] + 1
            left = column[i] + 1
            prev_diag = column[i]
            column[i] = min(cost, above, left)
        if column[m] < best:
            best = column[m]
            if best == 0:
                break
    return best


def found(pattern: Pattern, text: str, text_pairs: Optional[frozenset[str]] = None) -> bool:
    """Is `pattern` in the normalised `text`, within its allowed edits?"""
    if pattern.text in text:
        return True
    if pattern.allowed == 0 or len(text) < len(pattern.text) - pattern.allowed:
        return False
    pairs = bigrams(text) if text_pairs is None else text_pairs
    if len(pattern.pairs & pairs) < pattern.needed:
        return False
    return distance_in(pattern.text, text) <= pattern.allowed
