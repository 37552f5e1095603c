"""A case vocabulary name that Whisper heard but spelled as a sound-alike is written as the name.

The vocabulary in the prompt (asr/vocabulary.py) makes Whisper write most names as spelled; some still come out
as characters of the same sound (龙药 for 龙耀, 五后 for 武侯). Where a run of Chinese characters in a segment
reads as a vocabulary name, syllable by syllable and tone by tone (any reading of a character with several),
it is written as the name. Tones must agree, so 定向 (dìng xiàng) never becomes 丁香 (dīng xiāng): a name is
only written where its own sounds were heard; a name of three characters or more may differ in one tone.
Nor is a run written over that is words of its own (an everyday word in jieba's dictionary, or, for a name
of two characters, one of its characters in such a word with its neighbour): there Whisper heard words, not
a name. Names of one character, or not all Chinese, are left to the prompt alone.

The words keep their times: each character is replaced inside the word it belongs to (as asr/digits.py does).
Measured in bench/asr.py (section `vocabulary`): names recognised, and names written into clips that do not
say them.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from typing import Iterable, Sequence

from core.dictionary import EVERYDAY, word_count
from core.transcript import Segment

MIN_CHARS = 2


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@functools.lru_cache(maxsize=8192)
def readings(ch: str) -> frozenset[str]:
    """Every reading of a Chinese character with its tone ("yao4"); empty for anything else."""
    if not _cjk(ch):
        return frozenset()
    from pypinyin import Style, pinyin

    return frozenset(r for r in pinyin(ch, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0]
                     if r and r != ch)


def names(vocabulary: Iterable[str]) -> tuple[str, ...]:
    """The vocabulary words that can be respelled: all Chinese, two characters or more; longest first."""
    found = {w for w in ("".join(v.split()) for v in vocabulary) if len(w) >= MIN_CHARS and all(map(_cjk, w))}
    return tuple(sorted(found, key=lambda w: (-len(w), w)))


def _toneless(found: frozenset[str]) -> frozenset[str]:
    return frozenset(r.rstrip("12345") for r in found)


def sounds_like(span: str, name: str) -> bool:
    """True when every character of `span` can be read as the one of `name` at its place, tone included; a
    name of three characters or more may differ in the tone of one (左小雷 for 左小蕾)."""
    if len(span) != len(name):
        return False
    loose = 1 if len(name) >= 3 else 0
    for a, b in zip(span, name):
        ra, rb = readings(a), readings(b)
        if ra & rb:
            continue
        if loose and ra and _toneless(ra) & _toneless(rb):
            loose -= 1
            continue
        return False
    return True


def _real_words(text: str, i: int, n: int) -> bool:
    """True when what was written at text[i:i+n] is words of its own: the span is an everyday word (定向),
    or, for a two-character name, one of its characters makes an everyday word with the one beside it
    outside the span (Whisper chose real words, not a sound-alike of the name)."""
    if word_count(text[i:i + n]) >= EVERYDAY:
        return True
    if n > 2:
        return False
    before = text[i - 1:i + 1] if i > 0 else ""
    after = text[i + n - 1:i + n + 1] if i + n < len(text) else ""
    return any(len(w) == 2 and all(map(_cjk, w)) and word_count(w) >= EVERYDAY for w in (before, after))


def respell_texts(texts: Sequence[str], vocabulary: Sequence[str]) -> list[str]:
    """`texts` (a segment's words, in order) with each sound-alike of a vocabulary name written as the name;
    a run found across two words is replaced character by character in each."""
    chars = [[ch, k] for k, t in enumerate(texts) for ch in t]
    text = "".join(c[0] for c in chars)
    taken = [False] * len(text)
    for name in names(vocabulary):
        i = 0
        while i + len(name) <= len(text):
            span = text[i:i + len(name)]
            if span != name and not any(taken[i:i + len(name)]) and sounds_like(span, name) \
                    and not _real_words(text, i, len(name)):
                for j, ch in enumerate(name):
                    chars[i + j][0] = ch
                    taken[i + j] = True
                i += len(name)
                continue
            if span == name:
                for j in range(len(name)):
                    taken[i + j] = True
            i += 1
    out = [""] * len(texts)
    for ch, k in chars:
        out[k] += ch
    return out


def respell(segment: Segment, vocabulary: Sequence[str]) -> Segment:
    """The segment with its sound-alikes of vocabulary names written as the names (text and words alike)."""
    if not vocabulary or not names(vocabulary):
        return segment
    if segment.words:
        from asr.guards import words_text

        texts = respell_texts([w.text for w in segment.words], vocabulary)
        if all(t == w.text for t, w in zip(texts, segment.words)):
            return segment
        words = tuple(replace(w, text=t) if t != w.text else w for w, t in zip(segment.words, texts))
        return replace(segment, words=words, text=words_text(list(words)))
    text = respell_texts([segment.text], vocabulary)[0]
    return segment if text == segment.text else replace(segment, text=text)

