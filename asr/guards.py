"""Guards against Whisper's failure modes on interview audio.

- Hallucinated credits and sign-offs from silence or room tone ("字幕由Amara.org社群提供",
  "请不吝点赞订阅转发打赏支持明镜与点点栏目", "Thanks for watching!").
- Looping repeats ("变温温度设为两度，变温温度设为两度，变温温度……").
- The prompt said back ("以下是普通话的句子。") from a decode Whisper could not read.
- Times past the end of the audio.
All functions are pure: they take segments and return new ones.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import Iterable, Optional, Sequence

from asr.vocabulary import is_list_echo
from core.textnorm import to_simplified
from core.transcript import Segment, Word

# Lower-cased, punctuation-free fragments; a segment made mostly of one of these is dropped.
HALLUCINATIONS = (
    "字幕由amara.org社群提供", "字幕由amaraorg社群提供", "amaraorg", "amara.org",
    "请不吝点赞订阅转发打赏支持明镜与点点栏目", "请不吝点赞订阅转发打赏", "点赞订阅转发打赏",
    "请不吝点赞", "点赞订阅", "订阅转发", "明镜与点点栏目", "明镜需要您的支持",
    "欢迎订阅", "感谢观看", "谢谢观看", "谢谢收看", "感谢收看", "感谢您的观看", "谢谢大家观看",
    "下次再见", "我们下期再见", "下期再见", "本期视频就到这里",
    "字幕志愿者", "字幕提供", "字幕制作", "字幕组", "优优独播剧场", "yoyo television series exclusive",
    "thanks for watching", "thank you for watching", "please subscribe", "subscribe to my channel",
    "like and subscribe", "subtitles by the amara.org community", "transcription by castingwords",
    "www.mooji.org", "sous-titres réalisés par la communauté d'amara.org",
)

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def squash(text: str) -> str:
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    return _PUNCT.sub("", text)


def is_hallucination(text: str) -> bool:
    """True when a segment is (mostly) one of Whisper's known phantom phrases."""
    squashed = squash(text)
    if not squashed:
        return True
    for phrase in HALLUCINATIONS:
        p = squash(phrase)
        if p and p in squashed and len(p) >= 0.5 * len(squashed):
            return True
    return False


def _unit(word: Word) -> str:
    return squash(word.text)


LONG_PHRASE_CHARS = 8   # a phrase this long said twice in a row, word for word, is Whisper looping


def collapse_repeats(words: tuple[Word, ...], min_repeats: int = 3, max_period: int = 12,
                     min_chars: int = 2) -> tuple[Word, ...]:
    """Cut a run where a phrase of 1..max_period words repeats `min_repeats` or more times in a row, or a
    phrase of LONG_PHRASE_CHARS characters or more comes twice in a row ("后两者是人口，尤其是年轻人口流入的城市。
    后两者是人口，尤其是年轻人口流入的城市。" from one 5 s sentence).

    The first occurrence is kept, the repeats are dropped. Real speech repeats a word twice ("对对") or a
    short phrase ("我不知道，我不知道"), rarely a phrase three times; a phrase of one character repeated
    (嗯嗯嗯) is kept.
    """
    units = [_unit(w) for w in words]
    out: list[Word] = []
    i = 0
    n = len(words)
    while i < n:
        cut = 0
        for period in range(1, (n - i) // 2 + 1):
            phrase = units[i:i + period]
            chars = sum(len(u) for u in phrase)
            if chars < min_chars or (period > max_period and chars < LONG_PHRASE_CHARS):
                continue
            reps = 1
            while units[i + reps * period:i + (reps + 1) * period] == phrase:
                reps += 1
            if (reps >= min_repeats and period <= max_period) or (reps >= 2 and chars >= LONG_PHRASE_CHARS):
                cut = period * reps
                out.extend(words[i:i + period])
                # a trailing partial repeat ("变温温度……") belongs to the loop too
                j = i + cut
                k = 0
                while j < n and k < period and units[j] == phrase[k]:
                    j += 1
                    k += 1
                cut = j - i
                break
        if cut:
            i += cut
        else:
            out.append(words[i])
            i += 1
    return tuple(out)


UNHEARD_S = 0.02   # a word aligned to less than this has no audio under it


def drop_unheard_repeats(segment: Segment, before: str, min_chars: int = 3) -> Optional[Segment]:
    """Drop words Whisper wrote again with no audio under them: a run of words aligned to one instant
    (zero length) whose text repeats what the channel said just before (`before`: its last text, squashed).
    Conditioning on the previous text makes the decoder carry a phrase into the next window ("2016年，2016年。"
    then "2016年服务员..." from one "2016年" said); the alignment finds no audio for the copy. A repeat that
    was said has its own length; fewer than `min_chars` characters ("对，对") are kept either way.
    None when nothing is left."""
    words = segment.words
    if not words or not any(w.end - w.start <= UNHEARD_S for w in words):
        return segment
    out: list[Word] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w.end - w.start > UNHEARD_S:
            out.append(w)
            i += 1
            continue
        j = i
        while j < len(words) and words[j].end - words[j].start <= UNHEARD_S \
                and abs(words[j].start - w.start) <= UNHEARD_S:
            j += 1
        context = before + "".join(_unit(x) for x in out)
        text, cut = "", 0
        for k in range(i, j):
            text += _unit(words[k])
            if len(text) >= min_chars and context.endswith(text):
                cut = k + 1 - i
        out.extend(words[i + cut:j])
        i = j
    if len(out) == len(words):
        return segment
    if not out:
        return None
    return replace(segment, words=tuple(out), text=words_text(out), start=out[0].start,
                   end=max(out[-1].end, out[0].start))


def text_tail(before: str, segments: Iterable[Segment], keep: int = 40) -> str:
    """The last `keep` characters of `before` and the segments' text, squashed."""
    return (before + "".join(squash(s.text) for s in segments))[-keep:]


def drop_unheard(segments: Iterable[Segment], before: str) -> list[Segment]:
    """`drop_unheard_repeats` over segments in time order, each after the ones before it."""
    out: list[Segment] = []
    for seg in segments:
        kept = drop_unheard_repeats(seg, before)
        if kept is not None:
            out.append(kept)
            before = text_tail(before, (kept,))
    return out


def collapse_text_repeats(text: str, min_repeats: int = 3) -> str:
    """Text-only version for segments without word times: "ab，ab，ab，a" -> "ab，"."""
    pattern = re.compile(r"(.{2,40}?)\1{%d,}" % (min_repeats - 1), re.DOTALL)
    previous = None
    while previous != text:
        previous = text
        text = pattern.sub(r"\1", text)
    return text


def words_text(words: Iterable[Word]) -> str:
    """Whisper's words carry their own leading spaces (English) or none (Chinese)."""
    return "".join(w.text for w in words).strip()


def clamp(segment: Segment, duration: float) -> Optional[Segment]:
    """Keep every time inside [0, duration]; drop words (and segments) that start after the end."""
    words = []
    for w in segment.words:
        if w.start >= duration:
            continue
        start = max(0.0, w.start)
        words.append(replace(w, start=start, end=max(start, min(w.end, duration))))
    start = max(0.0, min(segment.start, duration))
    end = max(start, min(segment.end, duration))
    if segment.words and not words:
        return None
    text = segment.text
    if words:
        start, end = words[0].start, max(words[-1].end, words[0].start)
        if len(words) != len(segment.words):
            text = words_text(words)
    if start >= duration:
        return None
    return replace(segment, start=start, end=end, text=text, words=tuple(words))


def lone_listed(text: str, vocabulary: Sequence[str]) -> Optional[str]:
    """The vocabulary word that `text` is, and nothing else (punctuation and spaces aside); None otherwise."""
    said = squash(text)
    return next((w for w in vocabulary if said and squash(w) == said), None)


def said_back(text: str, vocabulary: Sequence[str]) -> tuple[str, ...]:
    """What of the vocabulary `text` may only have copied from the prompt, which ends with the list: the word
    `text` is and nothing else; or a group of three digits or more of a listed entry found in it (a case
    number's 2026 written for a 2016 said), with the listed word it begins with (张伟2026-2015, for a phone
    number said as 2016 and 2015). Empty when none."""
    said = squash(text)
    if not said:
        return ()
    lone = lone_listed(text, vocabulary)
    if lone is not None:
        return (lone,)
    digits = sorted({g for w in vocabulary for g in re.findall(r"[0-9]{3,}", w) if g in said})
    if not digits:
        return ()
    return tuple(dict.fromkeys([*(w for w in vocabulary if squash(w) and said.startswith(squash(w))), *digits]))


def is_prompt_echo(text: str, prompt: Optional[str], vocabulary: Sequence[str] = ()) -> bool:
    """True when a segment only says the prompt Whisper was given again, or a part of it ("以下是普通话的句子。"
    from a decode it could not read): at least 4 characters of it, and nothing else. One word of the case
    vocabulary (asr/vocabulary.py, listed in the prompt) is speech; two of them and nothing else are the
    list said back."""
    said = squash(text)
    if vocabulary:
        if lone_listed(said, vocabulary) is not None:
            return False
        if is_list_echo(said, (squash(w) for w in vocabulary)):
            return True
    return bool(prompt) and len(said) >= 4 and said in squash(prompt or "")


BROKEN = "\ufffd"   # what a decode cut inside a character's bytes leaves: Whisper's tokens are bytes


def drop_broken(segment: Segment) -> Segment:
    """The segment without U+FFFD: a decode stopped by its token budget or a loop, or a word boundary inside a
    character's bytes, leaves the replacement character where the rest of the character never came (seen
    live as 那种用心脆的脆脆�). It is no speech; words left with nothing are dropped."""
    if BROKEN not in segment.text and not any(BROKEN in w.text for w in segment.words):
        return segment
    if not segment.words:
        return replace(segment, text=segment.text.replace(BROKEN, "").strip())
    words = tuple(replace(w, text=w.text.replace(BROKEN, "")) for w in segment.words)
    words = tuple(w for w in words if w.text.strip())
    return replace(segment, words=words, text=words_text(words))


def guard(segment: Segment, duration: float, prompt: Optional[str] = None,
          vocabulary: Sequence[str] = ()) -> Optional[Segment]:
    """Apply every guard to one segment; None when nothing of it should be kept. `prompt`: what the decode
    was prompted with; `vocabulary`: the case words listed in it."""
    segment = drop_broken(segment)
    if not segment.text.strip():
        return None
    if is_hallucination(segment.text) or is_prompt_echo(segment.text, prompt, vocabulary):
        return None
    if segment.words:
        words = collapse_repeats(segment.words)
        if len(words) != len(segment.words):
            segment = replace(segment, words=words, text=words_text(words))
    else:
        text = collapse_text_repeats(segment.text)
        if text != segment.text:
            segment = replace(segment, text=text)
    segment = clamp(segment, duration)
    if segment is not None and segment.words and segment.end <= segment.start:
        return None   # words aligned to one instant: no audio under them (a loop's tail spilling past its clip)
    return segment
