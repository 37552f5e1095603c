"""Text -> search units, the same way for transcripts and for queries, with a map back to the source text.

A unit is one CJK character, one run of digits, or one run of Latin letters. Before cutting into units the
text is made Simplified, NFKC-folded, lower-cased, and Chinese numerals become digits (一百一十七 -> 117,
六九八三 -> 6983, 八月十一日 -> 8月11日, 一百一十七万 -> 117万), so either form of a number finds the other. Punctuation and spaces
are dropped: ASR punctuation must not stop a phrase from matching. Digits apart only by white space are one
run: a number read out in groups ("8864 2285", "3 7 3 8 8 6 9 9") is one number.

Recall does not depend on a word segmenter: every pair of neighbouring units is indexed (bigrams), so any
string of two or more units, a name jieba has never seen included, is found as a phrase of its bigrams.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from core.textnorm import to_simplified

_DIGIT = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5",
          "六": "6", "七": "7", "八": "8", "九": "9"}
_SCALE = set("十百千")
# 万 and 亿 stay units of their own: 一百一十七万 -> 117 万, so that 117, 一百一十七 and 117万 all find it
_NUMERAL_RUN = re.compile(r"[零〇一幺二两三四五六七八九十百千]+")


@dataclass(frozen=True)
class Unit:
    text: str
    start: int  # index of the first source character
    end: int    # index after the last source character


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002ffff"


def _fold(text: str) -> str:
    """Simplified + NFKC + lower case, one output character per input character (so offsets hold)."""
    simplified = to_simplified(text)
    if len(simplified) != len(text):
        simplified = "".join(to_simplified(ch) if len(to_simplified(ch)) == 1 else ch for ch in text)
    out = []
    for ch in simplified:
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded if len(folded) == 1 else ch.lower())
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _numeral(run: str) -> str:
    """A run of Chinese numerals as digits; digit-by-digit when it has no 十百千万亿."""
    if not any(ch in _SCALE for ch in run):
        return "".join(_DIGIT[ch] for ch in run)
    import cn2an

    try:
        value = cn2an.cn2an(run.replace("两", "二").replace("幺", "一"), "normal")
        return str(int(value))
    except Exception:  # "万一", "十万八千里" pieces and the like: keep what cannot be read as a number
        return "".join(_DIGIT.get(ch, ch) for ch in run)


def units(text: str) -> list[Unit]:
    """Cut `text` into search units with their source offsets."""
    folded = _fold(text)
    # (character, source start, source end) after numerals became digits
    chars: list[tuple[str, int, int]] = []
    pos = 0
    for m in _NUMERAL_RUN.finditer(folded):
        chars.extend((ch, i, i + 1) for i, ch in enumerate(folded[pos:m.start()], pos))
        converted = _numeral(m.group())
        if converted.isdigit():
            chars.extend((ch, m.start(), m.end()) for ch in converted)
        else:  # partly converted: keep a per-character map
            chars.extend((_DIGIT.get(ch, ch), i, i + 1) for i, ch in enumerate(m.group(), m.start()))
        pos = m.end()
    chars.extend((ch, i, i + 1) for i, ch in enumerate(folded[pos:], pos))

    out: list[Unit] = []
    i = 0
    while i < len(chars):
        ch, start, end = chars[i]
        if ch.isdigit() and ch.isascii():
            # a number read out digit by digit comes in groups ("8864 2285", "3 7 3 8"): one run
            j, last, run = i, i, []
            while j < len(chars):
                c = chars[j][0]
                if c.isascii() and c.isdigit():
                    run.append(c)
                    last = j
                elif not (c.isspace() and j + 1 < len(chars) and _spaced_digit(chars, j + 1)):
                    break
                j += 1
            out.append(Unit("".join(run), start, chars[last][2]))
            i = last + 1
        elif "a" <= ch <= "z":
            j = i
            while j < len(chars) and ("a" <= chars[j][0] <= "z" or chars[j][0] == "'"):
                j += 1
            out.append(Unit("".join(c for c, _, _ in chars[i:j]), start, chars[j - 1][2]))
            i = j
        elif _is_cjk(ch) or ch.isalnum():
            out.append(Unit(ch, start, end))
            i += 1
        else:
            i += 1
    return out


def _spaced_digit(chars: list[tuple[str, int, int]], j: int) -> bool:
    """True when chars[j:] is more white space, then a digit."""
    while j < len(chars) and chars[j][0].isspace():
        j += 1
    return j < len(chars) and chars[j][0].isascii() and chars[j][0].isdigit()


def unit_texts(text: str) -> list[str]:
    return [u.text for u in units(text)]


def bigrams(texts: list[str]) -> list[str]:
    return [f"{a}|{b}" for a, b in zip(texts, texts[1:])]


def find(haystack: list[str], needle: list[str]) -> list[int]:
    """Every index where `needle` occurs in `haystack` as consecutive units."""
    n = len(needle)
    if n == 0:
        return []
    return [i for i in range(len(haystack) - n + 1) if haystack[i:i + n] == needle]
