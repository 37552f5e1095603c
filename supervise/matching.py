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
    chars: frozenset[str]       # its characters: each edit loses at most one of them
    chars_needed: int

    @classmethod
    def of(cls, phrase: str, similarity: float) -> "Pattern":
        text = normalise(phrase)
        allowed = int(len(text) * (1.0 - similarity) + 1e-9)
        pairs, chars = bigrams(text), frozenset(text)
        return cls(text, allowed, pairs, max(0, len(pairs) - 2 * allowed), chars, max(0, len(chars) - allowed))


def distance_in(pattern: str, text: str) -> int:
    """The fewest edits that turn `pattern` into some substring of `text` (Sellers, 1980), computed with
    Myers' bit-vector algorithm (1999): one column of the edit-distance table per text character."""
    m = len(pattern)
    if m == 0:
        return 0
    peq: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    best = m
    for ch in text:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
            if score < best:
                best = score
                if best == 0:
                    return 0
        ph = (ph << 1) & mask          # the top row stays 0: a match may start anywhere in the text
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return best


def found(pattern: Pattern, text: str, text_pairs: Optional[frozenset[str]] = None,
          text_chars: Optional[frozenset[str]] = None) -> bool:
    """Is `pattern` in the normalised `text`, within its allowed edits? (`text_pairs`/`text_chars`: the
    text's character pairs and characters, when the caller tries several patterns on one text.)"""
    if pattern.text in text:
        return True
    if pattern.allowed == 0 or len(text) < len(pattern.text) - pattern.allowed:
        return False
    chars = frozenset(text) if text_chars is None else text_chars
    if len(pattern.chars & chars) < pattern.chars_needed:
        return False
    pairs = bigrams(text) if text_pairs is None else text_pairs
    if len(pattern.pairs & pairs) < pattern.needed:
        return False
    return distance_in(pattern.text, text) <= pattern.allowed
