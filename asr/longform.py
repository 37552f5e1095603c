"""Offline decoding of a channel's speech: faster-whisper's own long-form decode of the VAD regions joined end
to end, without its word timestamps, at temperature 0; word times aligned afterwards on each window's own
encoder output.

Why this way (bench/README.md, section "interviews"): decoded like this, a channel's text is what plain
faster-whisper writes for it with the best simple settings (VAD, beam 5, no conditioning, the zh prompt, no
word timestamps), which was more accurate than decoding region by region after the channel's previous words
(live's way) on the bench interviews. faster-whisper's `word_timestamps=True` is not used during decoding:
with it, after each window's last word the decoder seeks back to that word's end and decodes the leftover
audio (padding, silence) as a new window, writes text there and samples at temperatures 0.2-1.0 (upstream
issues 702 and 1085). Here the windows are the ones faster-whisper chooses without word timestamps (each
ends at its last timestamp token, or after 30 s), the decode is at temperature 0 only (Whisper's doubt is
not answered by chance: the text is the same every run), and once a window's segments are all known their
words are aligned on the encoder output that window was decoded from (faster-whisper's `add_word_timestamps`,
as it would have done, minus the seek). What long-form decoding skips (a window Whisper judged silent, a
sentence after the last timestamp) is found by the caller's coverage check and decoded again alone
(asr/regions.py `RegionDecoder.region`).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from asr import vocabulary
from asr.guards import squash
from asr.windows import MAX_FRAMES, with_encoder

HOP = 160                    # samples a mel frame, at 16 kHz


def keeping_encoder(model: Any) -> Any:
    """A shallow copy of a WhisperModel whose `encode` keeps its last output in `.encoded`."""
    def make_encode(cls: type) -> Callable[[Any, np.ndarray], Any]:
        def encode(self: Any, features: np.ndarray) -> Any:
            out = cls.encode(self, features)
            self.encoded = out
            return out
        return encode

    return with_encoder(model, "Keeping", make_encode)


def windows(segments: Iterable[Any], encoded: Callable[[], Any]) -> Iterator[tuple[list[Any], Any]]:
    """The decoder's segments grouped by the window (`seek`) they came from, each group with the encoder
    output it was decoded from: the output is taken when a window's first segment arrives (faster-whisper
    yields a window's segments before it encodes the next window)."""
    group: list[Any] = []
    output = None
    for seg in segments:
        if group and seg.seek != group[0].seek:
            yield group, output
            group = []
        if not group:
            output = encoded()
        group.append(seg)
    if group:
        yield group, output


def transcribe_longform(model: Any, speech: np.ndarray, language: Optional[str], beam_size: int,
                        prompt: Optional[str]) -> list[Any]:
    """faster-whisper segments of `speech` (a channel's regions joined end to end), in time order, with words.
    A model that is not a WhisperModel (a scripted one in the tests) is asked as it is; its segments keep the
    words it gives."""
    keeper = keeping_encoder(model)
    segments, _ = keeper.transcribe(
        speech, language=language, beam_size=beam_size, temperature=0.0, word_timestamps=False,
        vad_filter=False, condition_on_previous_text=False, initial_prompt=prompt or None,
        **vocabulary.barred(model, prompt))
    if not hasattr(keeper, "add_word_timestamps"):
        return once_each(list(segments))
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(keeper.hf_tokenizer, keeper.model.is_multilingual, task="transcribe",
                          language=language)
    content = len(speech) // HOP
    out: list[Any] = []
    last_speech = 0.0
    for group, output in windows(segments, lambda: getattr(keeper, "encoded", None)):
        if output is None or all(s.words is not None for s in group):
            out += group
            continue
        dicts = [{"seek": s.seek, "start": s.start, "end": s.end, "tokens": list(s.tokens)} for s in group]
        frames = min(MAX_FRAMES, content - group[0].seek)
        last_speech = keeper.add_word_timestamps([dicts], tokenizer, output, frames, "\"'“¿([{-",
                                                 "\"'.。,，!！?？:：”)]}、", last_speech) or last_speech
        for s, d in zip(group, dicts):
            words = [_word(w) for w in d.get("words") or ()]
            out.append(dataclasses.replace(s, start=d["start"], end=d["end"], words=words))
    return once_each(out)


FRAMES_PER_S = 100           # a window's `seek` counts mel frames


def once_each(segments: list[Any]) -> list[Any]:
    """The segments with each stretch of speech written once: less those that no audio stands under, and
    less what the next window decodes again.

    Where Whisper loops at the end of a window it writes earlier sentences again (in a quiet interview:
    A B C D, then A' B' C, 若要一男子拉着一车用力 twice), each with timestamps of its own. Aligned on the window's
    audio, the copies find none: their words pile up at the window's last frame, with no length, and the
    segment before them is pushed there too, past the point faster-whisper's next window starts from, which
    then decodes that audio again (two segments over the same 2 s: 到一家不保谅 and 到一家古堡厌……). A segment
    of no length, or whose words begin where the next window begins or later, is left out; the next window's
    decode stands, and what a loop left without text is decoded again by the caller's coverage check.

    A window that ends inside a sentence can be followed by one that starts a little before its last words end
    and writes them again (…与国际奥委会 | 奥委会、基于法律…): a later window's first words that lie before the end
    of the words already written and say again what they ended with are left out. (By time alone would not
    do: the last word before a pause is often aligned over the pause, past the next window's first word.) In
    a window that does not loop, every segment begins before the point the next window starts from."""
    seeks = sorted({getattr(s, "seek", 0) for s in segments})
    after = {a: b / FRAMES_PER_S for a, b in zip(seeks, seeks[1:])}
    out: list[Any] = []
    reach, window, said = float("-inf"), None, ""   # where the words so far end, their window, their text's end
    for s in segments:
        seek = getattr(s, "seek", 0)
        nxt = after.get(seek)
        if s.end - s.start <= 0 or (nxt is not None and s.start >= nxt - 0.01):
            continue
        words = list(s.words or ())
        if words and window is not None and seek != window:
            again = _said_again(words, reach, said)
            if again == len(words):
                continue
            if again:
                words = words[again:]
                s = dataclasses.replace(s, start=words[0].start, words=words, text="".join(w.word for w in words))
        if words:
            reach, window = max(reach, words[-1].end), seek
            said = (said + squash("".join(w.word for w in words)))[-40:]
        out.append(s)
    return out


def _said_again(words: list[Any], reach: float, said: str) -> int:
    """How many of a window's first words, lying before `reach`, repeat the end of `said`."""
    early = list(itertools.takewhile(lambda w: (w.start + w.end) / 2 < reach, words))
    for k in range(len(early), 0, -1):
        text = squash("".join(w.word for w in early[:k]))
        if text and said.endswith(text):
            return k
    return 0


def _word(w: dict) -> Any:
    from faster_whisper.transcribe import Word

    return Word(start=w["start"], end=w["end"], word=w["word"], probability=w["probability"])
