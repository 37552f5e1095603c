"""Offline decoding region by region: a channel's VAD speech regions decoded one at a time, each after the end
of the one before, the way live decoding takes utterances (asr/stream_decode.py), so that nothing is written
after the speech and no region is skipped.

faster-whisper's long-form decoding of a channel's joined speech seeks, after the last word of a window, to
that word's end and decodes what is left (the padding, silence) as a new window; Whisper writes something
there, its compression-ratio and log-probability checks fail, and the temperature fallback samples at 0.2 to
1.0 (best of 5): seconds per window, text that differs from run to run, phantom words at the end, and
speech it never returned to (faster-whisper issues 702 and 1085). Here each region is decoded with its own
clip boundaries: the encoder sees the region (after up to `context_s` of the channel's previous region,
whose text is Whisper's decoder prefix, as live does) in a window cut to it, at temperature 0 only, with a
token budget; a later window is decoded only when speech is left in it (tail_check). Whisper's own doubt
(log-probability under -1, compression ratio over 2.4, nothing from speech) is answered at temperature 0
on a wider window.

Coverage: every region ends with words or as one segment marked unintelligible. A region whose decode after
its context stops more than a second before its speech does is decoded alone; one that still gives no text
is decoded again alone on the 30 s window with the channel's earlier text as the prompt; speech left after a
region's last word is decoded on from there; a region with no text after all that becomes
`UnintelligibleSegment` "[听不清]" over its speech.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np

from asr.guards import squash
from asr.stream_decode import Context, UtteranceDecoder
from asr.types import UNINTELLIGIBLE, Coverage, TranscribeOptions, UnintelligibleSegment
from asr.vad import SAMPLE_RATE, Region
from core.transcript import Segment, Word

log = logging.getLogger("xunlu.asr.regions")

MAX_WINDOW_S = 28.0      # context and region together stay inside Whisper's 30 s window
MIN_CONTEXT_S = 3.0      # a shorter context did harm live (bench/README.md)
UNCOVERED_S = 1.0        # text ending this long before the speech does has lost some of it
TAIL_SPEECH_S = 0.6      # speech after the last word that is decoded on
CLOSING = "。.，,！!？?；;：:、…"   # a prefix ending a sentence makes Whisper start it again


@dataclass(frozen=True)
class Channel:
    index: int
    speaker: Optional[str]
    samples: np.ndarray            # 16 kHz, gated, session clock
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class _Heard:                       # a decoded region, for the next one's context
    start: int
    end: int
    words: tuple[Word, ...]


def context_start(words: list[Word], start: int, end: int, limit_s: float) -> Optional[tuple[int, str]]:
    """Where the context of the next utterance starts (a sample index in start..end) and what was said from
    there: the last `limit_s` of samples start..end, from 0.1 s before a word's start, and the words from that
    one on, closing punctuation dropped. None when nothing said fits."""
    limit = int(limit_s * SAMPLE_RATE)
    for i, w in enumerate(words):
        at = max(start, int((w.start - 0.1) * SAMPLE_RATE)) if i else start
        if end - at <= limit:
            text = "".join(x.text for x in words[i:]).strip().rstrip(CLOSING)
            return (at, text) if text else None
    return None


def covers(segments: list[Segment], spans: tuple[tuple[int, int], ...]) -> bool:
    """Text reaching to within UNCOVERED_S of the speech's end."""
    return bool(segments) and max(s.end for s in segments) >= spans[-1][1] / SAMPLE_RATE - UNCOVERED_S


def has_text(segments: list[Segment]) -> bool:
    return any(s.text for s in segments)


def marker(region: Region, channel: int, speaker: Optional[str], duration: float) -> UnintelligibleSegment:
    """The segment that stands for a region nothing could be read from: its speech's start and end."""
    start = min(region.onset / SAMPLE_RATE, duration)
    end = min(max(region.spans[-1][1] / SAMPLE_RATE, start), duration)
    return UnintelligibleSegment(0, round(start, 2), round(end, 2), UNINTELLIGIBLE, (), speaker, channel)


class RegionDecoder:
    """Decodes the regions of one channel after another; counts what became of them in `coverage`."""

    def __init__(self, model: Any, options: TranscribeOptions, coverage: Coverage):
        self.options = options
        self.coverage = coverage
        self.decoder = UtteranceDecoder(model, options.language, beam_size=options.beam,
                                        initial_prompt=options.initial_prompt)

    def channel(self, ch: Channel, duration: float) -> Iterator[Segment]:
        """The channel's segments in time order, region after region."""
        before: Optional[_Heard] = None
        for region in ch.regions:
            segments = self.region(ch, region, duration, self._context(ch, before, region))
            yield from segments
            words = tuple(w for s in segments for w in s.words)
            before = _Heard(region.start, region.end, words) if words else None

    def _context(self, ch: Channel, before: Optional[_Heard], region: Region) -> Optional[Context]:
        """The end of the channel's previous region, when its text can go before this one inside the window;
        None when there is none or the region leaves too little room for one."""
        if before is None or self.options.context_s <= 0:
            return None
        room = min(self.options.context_s, MAX_WINDOW_S - (region.end - region.start) / SAMPLE_RATE)
        if room < MIN_CONTEXT_S:
            return None
        found = context_start(list(before.words), before.start, before.end, room)
        if found is None:
            return None
        at, text = found
        audio = ch.samples[at:before.end]
        if before.end < region.start:   # the silence between them is not heard again
            audio = audio.copy()
        return Context(np.ascontiguousarray(audio, dtype=np.float32), text)

    def region(self, ch: Channel, region: Region, duration: float, context: Optional[Context] = None,
               decoded: Optional[list[Segment]] = None) -> list[Segment]:
        """One region's segments: its words, or one UnintelligibleSegment. `decoded`: what another decode
        (the batched mode's) gave for the region, decoded alone when that holds no text."""
        cov = self.coverage
        cov.regions += 1
        cov.decoded += 1
        retried = False
        if decoded is not None:
            segments = decoded
            if not has_text(segments):
                retried = True
                segments = self._decode(ch, region, duration, None)
        else:
            segments = self._decode(ch, region, duration, context)
            if context is not None and not covers(segments, region.spans):
                alone = self._decode(ch, region, duration, None)
                log.debug("ch%d %.2f s: after %r, %r stops short; alone: %r", ch.index, region.start_s,
                          context.text, [s.text for s in segments], [s.text for s in alone])
                if has_text(alone) and (not has_text(segments) or covers(alone, region.spans)):
                    segments = alone
        if not has_text(segments):
            retried = True
            segments = self._decode(ch, region, duration, None, retry=context.text if context else "")
        elif not covers(segments, region.spans):
            rest = self._rest(ch, region, segments, duration)
            retried = retried or rest is not None
            segments = segments + (rest or [])
        cov.retried += retried
        if has_text(segments):
            cov.with_words += 1
            return segments
        cov.unintelligible += 1
        log.debug("ch%d %.2f-%.2f s: no text after a retry; marked unintelligible", ch.index, region.start_s,
                  region.end_s)
        return [marker(region, ch.index, ch.speaker, duration)]

    def _decode(self, ch: Channel, region: Region, duration: float, context: Optional[Context],
                retry: Optional[str] = None) -> list[Segment]:
        audio = np.ascontiguousarray(ch.samples[region.start:region.end], dtype=np.float32)
        return self.decoder.final(audio, region, ch.index, ch.speaker, duration, context=context, retry=retry)

    def _rest(self, ch: Channel, region: Region, segments: list[Segment],
              duration: float) -> Optional[list[Segment]]:
        """The region's speech after its last word, decoded on from there (after the region's own text up to
        that word): Whisper closed the window before a sentence that followed a pause. None when too little
        speech is left to try."""
        last = max(s.end for s in segments)
        at = int(last * SAMPLE_RATE)
        spans = tuple((max(a, at), b) for a, b in region.spans if b > at + SAMPLE_RATE // 10)
        if sum(b - a for a, b in spans) < TAIL_SPEECH_S * SAMPLE_RATE:
            return None
        rest = Region(at, region.end, spans)
        words = [w for s in segments for w in s.words]
        found = context_start(words, region.start, at, min(self.options.context_s or MAX_WINDOW_S,
                                                              MAX_WINDOW_S - (region.end - at) / SAMPLE_RATE))
        context = None
        if found is not None:
            start, text = found
            context = Context(np.ascontiguousarray(ch.samples[start:at], dtype=np.float32), text)
        out = self._decode(ch, rest, duration, context)
        said = squash("".join(s.text for s in segments))
        # what the region already said, said again, is Whisper looping (the guard cut the loop short of the
        # speech's end), not more speech
        return [s for s in out if s.text and s.start >= last - 0.05 and squash(s.text) not in said]
