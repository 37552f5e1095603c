"""Numbers as they are spoken: read out digit by digit, in groups, over a breath, and looked up by a part.

A phone, ID, bank card or plate number is read out in groups, and Whisper writes the groups apart
("8864 2285", "3 7 3 8 8 6 9 9": index.analysis joins digits apart only by white space) or ends a segment
in the middle of the number. A segment whose last unit is a number read digit by digit, followed (same
speaker, less than PAUSE_S later) by a segment that starts with digits, is indexed with those digits joined
on: the whole number is found, at the time of its first digit, and its end at its last digit (in the next
segment). The next segment keeps its own text as well.

Every number of MIN_SPOKEN digits or more that was read digit by digit (Arabic digits, or Chinese digit
characters without 十百千) is also searchable by any part of MIN_PART digits or more (`2285` finds 88642285,
and so does 二二八五), and by how it ends (`尾号2285`). A number said as a number (一千一百七十) is not cut into
parts: 117 must not find 1170.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from core.transcript import Segment
from index.analysis import _DIGIT, Unit, _fold, units

PAUSE_S = 1.5        # a number goes on in the next segment of the same speaker only after a shorter pause
MIN_SPOKEN = 4       # digits a number needs to be searchable by its parts
MIN_PART = 3         # digits a part needs
LONG = 24            # a longer run (a decoding loop) is searchable by parts of up to PART_MAX digits only
PART_MAX = 12
END = "$"            # a part that ends the number: `尾号2285`
# words before a number that say "the number" (a query 尾号2285 finds a number that ends with 2285; 卡号6222
# a number with 6222 in it, wherever the label was said)
ENDING_LABELS = {"尾号", "尾数", "末尾", "后四位", "后几位", "末四位", "后三位", "后六位"}
LABELS = {"号码", "电话", "电话号码", "手机", "手机号", "手机号码", "卡号", "银行卡号", "账号", "车牌",
          "车牌号", "身份证", "身份证号", "身份证号码", "编号", "房间号", "门牌号", "工号", "警号", "QQ号", "微信号"}

Times = list[tuple[float, float, int]]   # (start s, end s, characters) per word, as index.search_index packs
_DIGITS = "0-9０-９零〇一幺二两三四五六七八九"
_DIGIT_CHAR = re.compile(f"[{_DIGITS}][^0-9A-Za-z\u3400-\u9fff０-９]*$")   # ends with a digit (and punctuation)
# what may stand between two groups of one number: a comma or a hyphen, or between groups of three digits
# or more a full stop or an enumeration comma ("2016.2015", not 3.14)
_GROUP_GAP = re.compile(r"[,，\-‐–—]\s*$")
_STOP_GAP = re.compile(r"[.。、]\s*$")
_DIGIT_START = re.compile(f"[^0-9A-Za-z\u3400-\u9fff０-９]*[{_DIGITS}]")   # starts with one


def spoken(text: str, unit: Unit) -> bool:
    """A run of digits read digit by digit: Arabic digits, or Chinese digit characters without 十百千."""
    return unit.text.isdigit() and not any(ch in "十百千" for ch in _fold(text[unit.start:unit.end]))


def digit_offsets(text: str, unit: Unit) -> Optional[list[int]]:
    """Source index of each digit of a run read digit by digit; None for a number said with 十百千."""
    if not spoken(text, unit):
        return None
    source = _fold(text[unit.start:unit.end])
    pos = [unit.start + i for i, c in enumerate(source) if (c.isascii() and c.isdigit()) or c in _DIGIT]
    return pos if len(pos) == len(unit.text) else None


def spoken_runs(text: str, found: Sequence[Unit]) -> list[tuple[str, list[int]]]:
    """Numbers read out digit by digit, as (digits, source index of each digit). Groups that Whisper wrote
    with a comma or a hyphen between them ("4729,7011", "138-1234-5678"), or a full stop between groups of
    three digits or more ("4729.7011"), are one number here (index.analysis already joins groups apart by
    white space); as units they stay apart, so that "2016年" still finds "2015,2016年"."""
    out: list[tuple[str, list[int]]] = []
    prev: Optional[Unit] = None
    for u in found:
        offsets = digit_offsets(text, u) if u.text.isdigit() else None
        if offsets is None:
            prev = None
            continue
        between = text[prev.end:u.start] if prev is not None else ""
        if prev is not None and out and len(between) <= 2 and (
                _GROUP_GAP.match(between) or (_STOP_GAP.match(between) and len(prev.text) >= 3
                                              and len(u.text) >= 3)):
            digits, pos = out[-1]
            out[-1] = (digits + u.text, pos + offsets)
        else:
            out.append((u.text, offsets))
        prev = u
    return out


def digit_tokens(text: str, found: Sequence[Unit]) -> list[str]:
    """The `digits` field: every part of MIN_PART digits or more of each number read digit by digit, and the
    parts that end it (marked END)."""
    out: list[str] = []
    for t, _offsets in spoken_runs(text, found):
        if len(t) < MIN_SPOKEN:
            continue
        n = len(t)
        longest = n if n <= LONG else PART_MAX
        for a in range(n):
            out.extend(t[a:b] for b in range(a + MIN_PART, min(n, a + longest) + 1))
        out.extend(t[a:] + END for a in range(max(0, n - longest), n - MIN_PART + 1))
        if n > longest:
            out.append(t)
    return out


def number_query(units_: Sequence[str]) -> Optional[str]:
    """For a term that is a label and a number (`尾号2285`, `手机号13812345678`), the `digits` token it also
    finds; None for other terms."""
    if len(units_) < 2 or not units_[-1].isdigit() or len(units_[-1]) < MIN_PART:
        return None
    label = "".join(units_[:-1])
    if label in ENDING_LABELS:
        return units_[-1] + END
    return units_[-1] if label.lower() in {x.lower() for x in LABELS} else None


# -- numbers that go on in the next segment ------------------------------------------------------------
def source_times(seg: Segment) -> tuple[str, Times]:
    """A segment's text as its words give it, and each word's (start, end, characters)."""
    if seg.words:
        return "".join(w.text for w in seg.words), [(w.start, w.end, len(w.text)) for w in seg.words]
    return seg.text, [(seg.start, seg.end, len(seg.text))]


def _slice(times: Times, a: int, b: int) -> Times:
    """The words covering characters [a, b), each with only its characters in that range."""
    out: Times = []
    pos = 0
    for start, end, length in times:
        lo, hi = max(a, pos), min(b, pos + length)
        if lo < hi:
            out.append((start, end, hi - lo))
        pos += length
    return out


@dataclass(frozen=True)
class Joined:
    text: str      # the segment's text up to its number, and the digits that go on after it
    times: Times
    tail: str      # the digits taken from the following segment(s)
    tail_times: Times


def joined_numbers(segments: Sequence[Segment], texts: Optional[Sequence[tuple[str, Times]]] = None
                   ) -> dict[int, Joined]:
    """Segments (by index in `segments`) whose last number goes on at the start of the next segment of the
    same speaker, less than PAUSE_S later (a chain of such segments is followed). `texts`: source_times() of
    each segment, when the caller has them."""
    texts = texts if texts is not None else [source_times(seg) for seg in segments]
    ends = [_DIGIT_CHAR.search(source) is not None for source, _ in texts]
    starts = [_DIGIT_START.match(source) is not None for source, _ in texts]
    info: dict[int, tuple[str, Times, list[Unit]]] = {}

    def analysed(i: int) -> tuple[str, Times, list[Unit]]:
        if i not in info:
            info[i] = (texts[i][0], texts[i][1], units(texts[i][0]))
        return info[i]

    order = sorted(range(len(segments)), key=lambda i: (segments[i].start, segments[i].id))
    following: dict[int, int] = {}
    last: dict[str, int] = {}
    for i in order:
        who = segments[i].speaker or f"ch{segments[i].channel}"
        if who in last:
            following[last[who]] = i
        last[who] = i
    out: dict[int, Joined] = {}
    for i in reversed(order):
        j = following.get(i)
        if j is None or not ends[i] or not starts[j]:  # cheap test first: most segments end in no digit
            continue
        a_src, a_times, a_units = analysed(i)
        b_src, b_times, b_units = analysed(j)
        if not a_units or not b_units or not a_times or not b_times:
            continue
        lu, fu = a_units[-1], b_units[0]
        if not (spoken(a_src, lu) and spoken(b_src, fu)) or len(lu.text) + len(fu.text) < MIN_SPOKEN:
            continue
        if b_times[0][0] - a_times[-1][1] >= PAUSE_S:
            continue
        tail, tail_times = b_src[fu.start:fu.end], _slice(b_times, fu.start, fu.end)
        if len(b_units) == 1 and j in out:  # the next segment is only digits, and they go on again
            tail, tail_times = tail + out[j].tail, tail_times + out[j].tail_times
        out[i] = Joined(a_src[:lu.end] + tail, _slice(a_times, 0, lu.end) + tail_times, tail, tail_times)
    return out
