"""Sound-alike matching: what was said, whatever characters the ASR chose for it.

Whisper writes a name or a rare word it does not know as characters that sound the same (授信 as 受信,
一季度 as 以季度, 复苏 as 复速). Every transcribed Chinese character therefore also gets its toneless pinyin
syllable, with heteronyms resolved by the word it belongs to (jieba's words, each read by pypinyin's phrase
dictionary: 银行 -> yin hang, 行走 -> xing zou), and the index holds pairs of neighbouring syllables with their
positions (`shou|xin`), as it holds pairs of characters. A query of two or more syllables, typed in
characters (授信, read by pypinyin as one word) or in pinyin (`shouxin`, `shou xin`, `xi'an`), then matches
every place where the same syllables were said in a row.

Looser tiers (off unless asked for) also accept the initials and finals that Mandarin speakers and Whisper
confuse: `zh` (zh/z, ch/c, sh/s), `ng` (-ng/-n), `ln` (l/n), `fh` (f/h, fu/hu, fa/hua...). They expand the
query's syllables into every variant that is a real syllable: nothing more is indexed for them. One syllable
is never searched by sound (every 的 would be a 得), and a syllable is never dropped or replaced by a
different one (on a two-syllable word that finds hundreds of unrelated places). Two syllables are matched
only where they start or end a word (`word_pair`): in the middle of 驾驶汽车 sits 驶汽, shi qi, but nobody said
十七 there.

A sound-alike that is itself another everyday word is that word, not a mishearing (`other_word`): when the
query and what the ASR wrote are both words in everyday use (只能 and 智能, 正式 and 正是, 推出 and 退出), the
hit is not offered. Whisper writes what it could not place as a rare or garbled form (受信, 沉督, 旅马十), and
a name or a term is not an everyday word, so those are still found.
"""
from __future__ import annotations

import functools
import itertools
import logging
import re
import unicodedata
from typing import Iterable, Optional, Sequence

from core.dictionary import EVERYDAY, word_count
from index.analysis import Unit, _fold, _is_cjk

log = logging.getLogger("xunlu.index")

SEP = "|"
TIERS = ("zh", "ng", "ln", "fh")
TIER_HELP = {"zh": "zh/z, ch/c, sh/s", "ng": "-ng/-n (ang/an, eng/en, ing/in)", "ln": "l/n",
             "fh": "f/h (fa/hua, fei/hui, fu/hu...)"}
MAX_READINGS = 32        # variants of one query term searched at most (the looser tiers multiply them)
MAX_LATIN_SPLITS = 4     # ways of cutting one typed pinyin word into syllables ("xian": xian, xi an)

# Chinese numerals become digits for the index (一 -> 1); their sound is the numeral's
NUMERAL_SOUND = {"零": "ling", "〇": "ling", "一": "yi", "幺": "yao", "二": "er", "两": "liang", "三": "san",
                 "四": "si", "五": "wu", "六": "liu", "七": "qi", "八": "ba", "九": "jiu", "十": "shi",
                 "百": "bai", "千": "qian"}
# (toneless pinyin, source start, source end, starts a word, ends a word, which word, the character)
Syllable = tuple[str, int, int, bool, bool, int, str]


# -- readings ------------------------------------------------------------------------------------------
def _pypinyin():
    try:
        import pypinyin
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("sound-alike search needs pypinyin: pip install pypinyin") from exc
    return pypinyin


def _toneless(reading: str) -> str:
    from pypinyin import Style
    from pypinyin.style import convert

    return convert(reading, Style.NORMAL, strict=True)


@functools.lru_cache(maxsize=None)
def char_readings(ch: str) -> tuple[str, ...]:
    """Every toneless reading of one character, the most common first; () for a character pypinyin does not
    know."""
    _pypinyin()
    from pypinyin.constants import PINYIN_DICT

    found = PINYIN_DICT.get(ord(ch))
    if not found:
        return ()
    return tuple(dict.fromkeys(_toneless(r) for r in found.split(",")))


_DEFAULTS: dict[str, str] = {}


def _default(ch: str) -> str:
    """A character's reading out of context; the character itself when it has none (it matches only itself)."""
    if ch not in _DEFAULTS:
        found = char_readings(ch)
        _DEFAULTS[ch] = NUMERAL_SOUND.get(ch) or (found[0] if found else ch)
    return _DEFAULTS[ch]


@functools.lru_cache(maxsize=200_000)
def word_reading(word: str) -> tuple[str, ...]:
    """A word of Chinese characters read by pypinyin (its phrase dictionary resolves heteronyms: 银行 hang)."""
    if len(word) == 1:
        return (_default(word),)
    py = _pypinyin().lazy_pinyin(word, errors=lambda chars: list(chars))
    if len(py) != len(word):
        return tuple(_default(ch) for ch in word)
    return tuple(p if p.isascii() else _default(ch) for p, ch in zip(py, word))


@functools.lru_cache(maxsize=None)
def inventory() -> frozenset[str]:
    """Every toneless syllable (ü written v), interjections like m, n, ng, hm left out."""
    _pypinyin()
    from pypinyin.constants import PINYIN_DICT

    out = set()
    for value in PINYIN_DICT.values():
        for r in value.split(","):
            t = _toneless(r)
            if t.isascii() and t.isalpha() and t not in ("m", "n", "ng", "hm", "hng", "r"):
                out.add(t)
    return frozenset(out)


# -- what was transcribed ------------------------------------------------------------------------------
def doc_syllables(text: str, found: Sequence[Unit], words: Sequence[str]) -> list[Optional[Syllable]]:
    """The syllables of a transcript text, one per Chinese character (numerals too), None where something
    else (digits, Latin) stands between them; each says whether it starts and whether it ends one of jieba's
    words. `found`: analysis.units(text); `words`: its jieba words over the joined unit texts
    (index.search_index cuts them once for both fields)."""
    read: list[Optional[str]] = []
    owner: list[int] = []
    starts, ends = set(), set()
    for n, w in enumerate(words):
        starts.add(len(read))
        r = _word_of_characters(w)
        read.extend(r if r is not None else (None,) * len(w))
        owner.extend([n] * len(w))
        ends.add(len(read))
    out: list[Optional[Syllable]] = []
    k = 0
    aligned = len(read) == sum(len(u.text) for u in found)
    for u in found:
        t = u.text
        first, last = (k in starts, k + len(t) in ends) if aligned else (True, True)
        word = owner[k] if aligned else -1
        if len(t) == 1 and ("\u3400" <= t <= "\u9fff" or _is_cjk(t)):
            r = read[k] if aligned else None
            out.append((r or _DEFAULTS.get(t) or _default(t), u.start, u.end, first, last, word, t))
        elif t.isdigit():
            source = _fold(text[u.start:u.end])
            numerals = [(NUMERAL_SOUND[c], u.start + i, u.start + i + 1, c) for i, c in enumerate(source)
                        if c in NUMERAL_SOUND]
            out.extend((s, a, b, first and i == 0, last and i == len(numerals) - 1, word, c)
                       for i, (s, a, b, c) in enumerate(numerals))
            if not numerals:
                out.append(None)
        else:
            out.append(None)
        k += len(t)
    return out


@functools.lru_cache(maxsize=200_000)
def _word_of_characters(word: str) -> Optional[tuple[str, ...]]:
    """A jieba word of two or more Chinese characters read as a word; None for anything else."""
    if len(word) < 2 or not all(_is_cjk(c) for c in word):
        return None
    return word_reading(word)


def sound_tokens(syllables: Sequence[Optional[Syllable]]) -> list[tuple[str, int]]:
    """Pairs of neighbouring syllables with positions. The n-th pair is at position 2n, or 2n + 1 when the
    two syllables are said as a word (word_pair): a phrase compares positions // 2, a two-syllable query
    wants an odd position, and the index holds one posting per pair for both. A gap in the positions where
    the syllables break, so that a phrase never spans what stands between them."""
    out: list[tuple[str, int]] = []
    pos, prev = 0, None
    for s in syllables:
        if s is None:
            if prev is not None:
                pos += 1
            prev = None
            continue
        if prev is not None:
            out.append((f"{prev[0]}{SEP}{s[0]}", 2 * pos + word_pair(prev, s)))
            pos += 1
        prev = s
    return out


def word_pair(a: Optional[Syllable], b: Optional[Syllable]) -> bool:
    """Two neighbouring syllables that start a word or end one (a word of two characters, two words of one,
    a word and the start of the next), or a word of the dictionary inside a longer word (授信 in 授信额度):
    where a query of two syllables matches by sound. Two syllables from the middle of two words, the end of
    驾驶 and the start of 汽车, sound like many a word: nobody said 十七 there. (A misheard word is rarely a
    word of jieba's dictionary: jieba cuts it short, 沉督 and 受信 stay words of their own. Measured on
    bench/kws.py: requiring both ends found 2.3 points less, one end is enough to drop most of those false
    hits.)"""
    if a is None or b is None:
        return False
    if a[3] or b[4]:
        return True
    return a[5] == b[5] and a[5] >= 0 and _in_dictionary(a[6] + b[6])


def _in_dictionary(word: str) -> bool:
    return word_count(word) > 0


def grams(reading: Sequence[str]) -> list[str]:
    return [f"{a}{SEP}{b}" for a, b in zip(reading, reading[1:])]


# -- what is searched ----------------------------------------------------------------------------------
_LATIN = re.compile(r"^[a-zü:v']+$")
_PUNCT_OR_SPACE = re.compile(r"[\s\W_]", re.UNICODE)


def _toneless_letters(text: str) -> str:
    """Pinyin typed with tone marks (shòuxìn, lǘ) as plain letters, ü as v."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFD", text).replace("u\u0308", "v").replace("U\u0308", "v")
    return "".join(c for c in text if not unicodedata.combining(c))


def query_readings(raw: str) -> tuple[tuple[str, ...], ...]:
    """The syllable sequences a typed term stands for: Chinese characters read as one word (two or more
    syllables), or pinyin letters (tone marks ignored) cut into syllables. () when the term is not searched
    by sound (one syllable, digits or other letters in it)."""
    text = _fold(raw).strip()
    plain = _toneless_letters(text)
    if plain != text and _LATIN.match(plain.replace(" ", "")):
        text = plain
    letters = text.replace(" ", "")
    if letters and _LATIN.match(letters):
        return latin_readings(text)
    chars = "".join(ch for ch in text if not _PUNCT_OR_SPACE.match(ch))
    if len(chars) < 2 or not all(_is_cjk(ch) for ch in chars):
        return ()
    return (word_reading(chars),)


def _syllable_splits(word: str, limit: int = MAX_LATIN_SPLITS) -> list[tuple[str, ...]]:
    """Every way to cut a run of pinyin letters into syllables (fewest syllables first)."""
    known = inventory()

    @functools.lru_cache(maxsize=None)
    def tails(i: int) -> tuple[tuple[str, ...], ...]:
        if i == len(word):
            return ((),)
        out = []
        for j in range(min(len(word), i + 6), i, -1):
            if word[i:j] in known:
                out.extend((word[i:j],) + rest for rest in tails(j))
        return tuple(out)

    return sorted(tails(0), key=len)[:limit]


def latin_readings(text: str) -> tuple[tuple[str, ...], ...]:
    """`shouxin`, `shou xin`, `xi'an`, `lvmashi` (ü typed v or ü) -> syllable sequences of two or more."""
    parts = [p for p in re.split(r"[\s']+", text.replace("ü", "v").replace("u:", "v")) if p]
    if not parts:
        return ()
    splits = [_syllable_splits(p) for p in parts]
    if not all(splits):
        return ()
    out = []
    for combo in itertools.product(*splits):
        reading = tuple(s for part in combo for s in part)
        if len(reading) >= 2 and reading not in out:
            out.append(reading)
    return tuple(out[:MAX_LATIN_SPLITS])


def is_syllable(word: str) -> bool:
    """One pinyin syllable typed alone (`shou`): the parser joins such words into one spoken term."""
    w = _toneless_letters(word.lower())
    return bool(_LATIN.match(w)) and w in inventory()


# -- looser tiers ----------------------------------------------------------------------------------------
_FH = {"ei": "i", "en": "n", "o": "o"}      # fei/hui, fen/hun, fo/huo
_HF = {v: k for k, v in _FH.items()}


def _variants(syllable: str, tiers: Iterable[str]) -> list[str]:
    out = [syllable]
    for tier in tiers:
        more = []
        for s in out:
            if tier == "zh":
                for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
                    if s.startswith(a):
                        more.append(b + s[len(a):])
                    elif s.startswith(b) and not s.startswith(a):
                        more.append(a + s[len(b):])
            elif tier == "ng":
                if s.endswith("ng") and s[-3:-2] in ("a", "e", "i"):
                    more.append(s[:-1])
                elif s.endswith("n") and s[-2:-1] in ("a", "e", "i"):
                    more.append(s + "g")
            elif tier == "ln":
                if s[:1] in ("l", "n"):
                    more.append({"l": "n", "n": "l"}[s[0]] + s[1:])
            elif tier == "fh":
                if s.startswith("f"):
                    rest = s[1:]
                    more += ["h" + rest, "hu" + rest, "hu" + _FH.get(rest, rest)]
                elif s.startswith("hu"):
                    rest = s[2:]
                    more += ["f" + rest, "f" + s[1:], "f" + _HF.get(rest, rest)]
                elif s.startswith("h"):
                    more.append("f" + s[1:])
        out += [m for m in dict.fromkeys(more) if m not in out]
    known = inventory()
    return [s for s in out if s == syllable or s in known]


def loosen(readings: Sequence[tuple[str, ...]], tiers: Sequence[str]) -> list[tuple[str, ...]]:
    """The readings and, with looser tiers, every variant of them (the given readings first)."""
    out = list(dict.fromkeys(readings))
    if not tiers:
        return out
    for reading in readings:
        for combo in itertools.product(*(_variants(s, tiers) for s in reading)):
            if combo not in out:
                out.append(combo)
            if len(out) >= MAX_READINGS:
                log.debug("sound variants of %s cut at %d", readings, MAX_READINGS)
                return out
    return out


def check_tiers(tiers: Iterable[str]) -> tuple[str, ...]:
    """The tiers, checked; ValueError naming the known ones."""
    out = []
    for t in tiers:
        t = t.strip().lower()
        if not t:
            continue
        if t not in TIERS:
            raise ValueError(f"unknown sound tier {t!r}: use {', '.join(TIERS)}")
        if t not in out:
            out.append(t)
    return tuple(out)


# -- where it was said (hit times and highlights) -----------------------------------------------------
def find_sounds(text: str, found: Sequence[Unit], readings: Sequence[tuple[str, ...]],
                words: Optional[Sequence[str]] = None) -> list[tuple[int, int]]:
    """Source spans of `text` where one of `readings` was said. With `words` (jieba's, as indexed), first as
    the index matched: the characters read by their words, two syllables only as a word (word_pair);
    where that finds nothing, each character may be read any of its ways."""
    if words is not None:
        syllables = doc_syllables(text, found, words)
        spans = []
        for reading in readings:
            n = len(reading)
            for i in range(len(syllables) - n + 1):
                window = syllables[i:i + n]
                if all(s is not None and s[0] == r for s, r in zip(window, reading)) and \
                        (n != 2 or word_pair(window[0], window[1])):
                    spans.append((window[0][1], window[-1][2]))
        if spans:
            return sorted(set(spans))
    slots: list[Optional[tuple[frozenset, int, int]]] = []
    for u in found:
        t = u.text
        if len(t) == 1 and _is_cjk(t):
            slots.append((frozenset(char_readings(t)) | {_default(t)}, u.start, u.end))
        elif t.isdigit():
            source = _fold(text[u.start:u.end])
            numerals = [(frozenset((NUMERAL_SOUND[c],)), u.start + i, u.start + i + 1)
                        for i, c in enumerate(source) if c in NUMERAL_SOUND]
            slots.extend(numerals or [None])
        else:
            slots.append(None)
    spans = []
    for reading in readings:
        n = len(reading)
        for i in range(len(slots) - n + 1):
            if all(slots[i + k] is not None and reading[k] in slots[i + k][0] for k in range(n)):
                spans.append((slots[i][1], slots[i + n - 1][2]))
    return sorted(set(spans))


# -- sound-alikes that are other words -----------------------------------------------------------------
def other_word(query: str, written: str) -> bool:
    """True when `written` (how the ASR wrote a sound-alike of `query`) and the query are two different
    everyday words: the ASR chose between two real words and wrote the other one."""
    q, w = _fold(query).strip(), _fold(written).strip()
    if not q or not w or q == w or not all(_is_cjk(c) for c in q + w):
        return False
    return word_count(q) >= EVERYDAY and word_count(w) >= EVERYDAY


def other_word_for(queries: Sequence[str], written: str) -> bool:
    """`other_word` for the query terms as long as `written` (the ones it can be a sound-alike of): True
    when it is another everyday word for each of them."""
    same = [q for q in queries if len(_fold(q).strip()) == len(_fold(written).strip())]
    return bool(same) and all(other_word(q, written) for q in same)
