"""What becomes of each speech region the VAD heard on a channel, after the channel's decode (asr/longform.py,
or the batched mode's clips, asr/batched.py): every region ends with words or as one segment marked
unintelligible, so that no speech is silently lost.

A region that the channel's decode gave no text is decoded again alone, with its own clip boundaries (the
encoder sees the region in a window cut to it, at temperature 0 only, with a token budget, as live decodes an
utterance: asr/stream_decode.py); one that still gives no text is decoded once more alone on the 30 s window
with the zh prompt. A region with a segment that is one name of the case vocabulary and nothing else is
decoded again alone without the list, and the name stays only where that decode hears it too
(asr/stream_decode.py `confirm_names`). A region whose text stops more than UNCOVERED_S before its speech does
(Whisper closed the window before a sentence after a pause) is decoded on from its last word, after the
region's own words up to there as the decoder's prefix. A region with no text after all that becomes
`UnintelligibleSegment` "[听不清]" over its speech. The counts go to `Coverage`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from asr.guards import squash
from asr.stream_decode import Context, UtteranceDecoder
from asr.types import UNINTELLIGIBLE, Coverage, TranscribeOptions, UnintelligibleSegment
from asr.vad import SAMPLE_RATE, Region
from core.transcript import Segment, Word

log = logging.getLogger("xunlu.asr.regions")

MAX_WINDOW_S = 28.0      # the words before a region's rest and the rest together stay inside the 30 s window
UNCOVERED_S = 1.0        # text ending this long before the speech does has lost some of it
TAIL_SPEECH_S = 0.6      # speech after the last word that is decoded on
CLOSING = "。.，,！!？?；;：:、…"   # a prefix ending a sentence makes Whisper start it again


@dataclass(frozen=True)
class Channel:
    index: int
    speaker: Optional[str]
    samples: np.ndarray            # 16 kHz, gated, session clock
    regions: tuple[Region, ...]


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
    """Accounts for the regions of one channel; counts what became of them in `coverage`."""

    def __init__(self, model: Any, options: TranscribeOptions, coverage: Coverage):
        self.options = options
        self.coverage = coverage
        self.decoder = UtteranceDecoder(model, options.language, beam_size=options.beam,
                                        initial_prompt=options.initial_prompt, hotwords=options.hotwords)

    def region(self, ch: Channel, region: Region, duration: float, context: Optional[Context] = None,
               decoded: Optional[list[Segment]] = None) -> list[Segment]:
        """One region's segments: its words, or one UnintelligibleSegment. `decoded`: what the channel's decode
        gave for the region, decoded alone when that holds no text (None: decode the region now, after
        `context` when given)."""
        cov = self.coverage
        cov.regions += 1
        cov.decoded += 1
        retried = False
        if decoded is not None:
            segments = decoded
            if not has_text(segments):
                retried = True
                segments = self._decode(ch, region, duration, None)
            elif self.options.hotwords:
                checked = self.decoder.confirm_names(segments, lambda: self._decode(ch, region, duration, None,
                                                                                    listed=False))
                retried = checked is not segments
                segments = checked
        else:
            segments = self._decode(ch, region, duration, context)
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
                retry: Optional[str] = None, listed: bool = True) -> list[Segment]:
        """The region decoded alone (after `context`); without the case vocabulary when not `listed`."""
        audio = np.ascontiguousarray(ch.samples[region.start:region.end], dtype=np.float32)
        decoder = self.decoder if listed else self.decoder.without_vocabulary()
        return decoder.final(audio, region, ch.index, ch.speaker, duration, context=context, retry=retry)

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
            context = Context(np.ascontiguousarray(ch.samples[start:at], dtype=np.float32), text, start / SAMPLE_RATE)
        out = self._decode(ch, rest, duration, context)
        said = squash("".join(s.text for s in segments))
        # what the region already said, said again, is Whisper looping (the guard cut the loop short of the
        # speech's end), not more speech
        return [s for s in out if s.text and s.start >= last - 0.05 and squash(s.text) not in said]
