"""A spoken run of digits written as one run: phone, ID, bank card and plate numbers.

Whisper writes a number read out digit by digit in pieces: "9879 0902", "3 7 3 8 8 6 9 9", "一三八 幺二三四",
"京A 12345", and splits it into two segments at a breath. In Chinese text (language zh):

- no space next to a Chinese character, between two digits, or between a digit and the one or two capital
  letters of a plate or an ID number ("京A 12345" -> "京A12345");
- no comma, 、, full stop or dash between the groups of a number read out in groups ("138，1234，5678" ->
  "13812345678"), when the groups (two digits or more each) make seven digits or more; not a list of years
  ("2015、2016"), nor thousands ("10,000,000");
- a run of Chinese digit characters read one by one becomes Arabic digits: four or more of them
  ("一三八一二三四五六七八" -> "13812345678", "一九九八年" -> "1998年"), three or more when 幺 is among them
  ("幺幺零" -> "110"), any number of them written beside Arabic digits ("138幺二" -> "13812"); 幺 is 1. Not a run
  next to 十百千万亿两点 (a number said as a number: "一千三百"), nor an AABB phrase ("七七八八");
- 17 digits followed by X (an ID number's check character, also heard as 叉) -> "...X".

Also, since the words' text is seen joined here: 著 written 着 where Simplified Chinese writes 着 (拉著 -> 拉着;
core/textnorm.py `particle_zhe`). The words keep their times: characters are replaced or dropped inside the
word they belong to.
`joins_digits` tells the segmenter (asr/words.py) not to split between two digits of a run, and live decoding
(asr/stream.py) to hold an utterance open after a group; `continues_number` tells offline decoding
(asr/engine.py `join_numbers`) that two segments hold one number between them.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Optional

from core.textnorm import particle_zhe
from core.transcript import Word

CN_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6",
             "七": "7", "八": "8", "九": "9"}
_WIDE = {chr(0xFF10 + i): str(i) for i in range(10)}   # full-width digits
_ARABIC = set("0123456789") | set(_WIDE)
_NUMBER_WORDS = set("十拾百佰千仟万萬亿億两兩点點")   # a run beside these is a number said as a number
_DIGIT_CHARS = "0-9\uff10-\uff19" + "".join(CN_DIGITS)
_DIGIT_CLASS = f"[{_DIGIT_CHARS}]"
_RUN = re.compile(_DIGIT_CLASS + "+")
_BETWEEN = re.compile(f"[^{_DIGIT_CHARS}]+")
_GROUP_SEPARATORS = "，,、。－—\\-"     # the ASCII dash escaped: it is in a character class
_GROUPED = re.compile(f"{_DIGIT_CLASS}{{2,}}(?:\\s*[{_GROUP_SEPARATORS}]\\s*{_DIGIT_CLASS}{{2,}})+")
_YEAR = re.compile("(?:19|20)[0-9]{2}")
GROUPED_MIN_DIGITS = 7     # a phone number without its area code; a list of short numbers stays a list
PAUSE_MARKS = "，,、。. "    # what Whisper writes for the pause after a group of digits


def without_pause(text: str) -> str:
    """`text` without the comma, full stop or space Whisper wrote at its end for a pause."""
    return text.rstrip().rstrip(PAUSE_MARKS)


def _is_digit(ch: str) -> bool:
    return ch in _ARABIC or ch in CN_DIGITS


def _cjk(ch: str) -> bool:
    return ("\u3400" <= ch <= "\u9fff") or ("\u3000" <= ch <= "\u303f") or ("\uff00" <= ch <= "\uffef")


def joins_digits(left: str, right: str) -> bool:
    """True when `right` goes on with a run of digits that `left` ends with: its first character is a digit,
    and `left` ends with an Arabic digit or two Chinese digit characters."""
    left, right = left.rstrip(), right.lstrip()
    if not left or not right or not _is_digit(right[0]):
        return False
    tail = len(left) - len(left.rstrip("".join(_ARABIC) + "".join(CN_DIGITS)))
    return tail >= 1 and (left[-1] in _ARABIC or tail >= 2)


def _grouped_number(groups: list[str], separators: list[str], before: str = "", after: str = "") -> bool:
    """Whether digit groups written with separators between them are one number read out in groups."""
    if sum(len(g) for g in groups) < GROUPED_MIN_DIGITS or before in _NUMBER_WORDS or after in _NUMBER_WORDS:
        return False
    arabic = ["".join(CN_DIGITS.get(ch, _WIDE.get(ch, ch)) for ch in g) for g in groups]
    if all(_YEAR.fullmatch(g) for g in arabic):
        return False
    thousands = all(sep.strip() == "," for sep in separators) and all(len(g) == 3 for g in groups[1:])
    return not thousands


def _grouped_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each separator (with its spaces) inside a number read out in groups."""
    out: list[tuple[int, int]] = []
    for m in _GROUPED.finditer(text):
        between = list(_BETWEEN.finditer(m.group()))
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if _grouped_number(_RUN.findall(m.group()), [x.group() for x in between], before, after):
            out += [(m.start() + x.start(), m.start() + x.end()) for x in between]
    return out


def continues_number(left: str, right: str) -> bool:
    """True when `right` begins with the rest of a number read out in groups that `left` ends with (Whisper
    ended a segment between two groups: "电话9879，" | "0902"): the two sides together pass the rule above."""
    head = without_pause(left)
    if not head or not right.strip():
        return False
    text = head + "，" + right.lstrip()
    return any(a <= len(head) < b for a, b in _grouped_spans(text))


def _upper_run(text: str, i: int, step: int) -> bool:
    """One or two capital Latin letters starting at text[i] (going by `step`), then no more letters."""
    n = 0
    while 0 <= i < len(text) and "A" <= text[i] <= "Z":
        n += 1
        i += step
    return 1 <= n <= 2 and not (0 <= i < len(text) and text[i].isascii() and text[i].isalpha())


def _drop_space(text: str, i: int, j: int) -> bool:
    """Whether the whitespace text[i:j] goes, in Chinese text."""
    if i == 0 or j >= len(text):
        return False
    left, right = text[i - 1], text[j]
    if _cjk(left) or _cjk(right) or (_is_digit(left) and _is_digit(right)):
        return True
    if left in _ARABIC and _upper_run(text, j, 1):
        return True
    return right in _ARABIC and _upper_run(text, i - 1, -1)


def _convert(run: str, before: str, after: str) -> Optional[str]:
    """The run in Arabic digits, or None when it stays as written."""
    if not any(ch in CN_DIGITS for ch in run):
        return None
    if before in _NUMBER_WORDS or after in _NUMBER_WORDS:
        return None
    arabic = any(ch in _ARABIC for ch in run)
    n = len(run)
    aabb = n == 4 and run[0] == run[1] and run[2] == run[3] and run[0] != run[2]
    if not (arabic or n >= 4 or ("幺" in run and n >= 3)) or aabb:
        return None
    return "".join(CN_DIGITS.get(ch, _WIDE.get(ch, ch)) for ch in run)


def tidy_text(text: str) -> str:
    """The rules above on one text."""
    return "".join(_tidy([text])[0])


def tidy_words(words: list[Word]) -> list[Word]:
    """The rules above across words (a run is often split between them); a word left with no text is
    dropped."""
    texts = _tidy([w.text for w in words])
    return [replace(w, text=t) if t != w.text else w for w, t in zip(words, texts) if t]


def _tidy(texts: list[str]) -> list[str]:
    chars: list[list] = [[ch, k] for k, t in enumerate(texts) for ch in t]   # [character, owner word]

    def joined() -> str:
        return "".join(c[0] for c in chars)

    # 0. 著 where Simplified writes 着 (core/textnorm.py): it needs the words around it, so it is done here,
    # where the words' text is seen joined, one character for one
    for i, ch in enumerate(particle_zhe(joined())):
        chars[i][0] = ch
    # 1. spaces
    text = joined()
    drop = set()
    for m in re.finditer(r"\s+", text):
        if _drop_space(text, m.start(), m.end()):
            drop.update(range(m.start(), m.end()))
    chars = [c for i, c in enumerate(chars) if i not in drop]
    # 2. separators between the groups of a number read out in groups
    drop = {i for a, b in _grouped_spans(joined()) for i in range(a, b)}
    chars = [c for i, c in enumerate(chars) if i not in drop]
    # 3. Chinese digit runs
    text = joined()
    for m in _RUN.finditer(text):
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        digits = _convert(m.group(), before, after)
        if digits is not None:
            for i, d in zip(range(m.start(), m.end()), digits):
                chars[i][0] = d
    # 4. an ID number's check character
    text = joined()
    for m in re.finditer(r"(?<![0-9])[0-9]{17}\s*([Xx叉])(?![A-Za-z])", text):
        chars[m.start(1)][0] = "X"
        for i in range(m.start() + 17, m.start(1)):
            chars[i][0] = ""
    out = [""] * len(texts)
    for ch, k in chars:
        out[k] += ch
    return out
