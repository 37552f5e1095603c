"""The batched mode (`--batch-size N`): a channel's speech cut into short clips, decoded N at a time.

faster-whisper's batched pipeline packs speech into 30 s windows and encodes each batch as one tensor. On a
CPU neither helps the encoder, which is most of the work: base int8 on 2 cores takes about 0.43 s to encode
30 s of audio, 0.08 s for 15 s and 0.06 s for 10 s (self-attention is quadratic in the window), and a batch of
8 windows costs more per window than encoding them one by one. What batching does speed up is the decoder.
So here the speech is cut at pauses into clips of at most CLIP_S, each clip's encoder sees only its own audio
(plus a margin, never under 10 s: asr/windows.py), clips are encoded one by one
and decoded together, and the segments come back in time order.
"""
from __future__ import annotations

import bisect
from typing import Any, Callable, Iterable, Optional

import numpy as np

from asr import vocabulary
from asr.vad import SAMPLE_RATE, Region
from asr.windows import trim_window, with_encoder

CLIP_S = 14.0           # a clip ends at the longest pause in the second half of this reach
MAX_CLIP_S = 29.5       # speech without a pause is cut here, as Whisper sees at most 30 s
TAIL_SPEECH_S = 0.6     # speech left after a clip's last word that is decoded again
TAIL_ROUNDS = 3         # the clips, then their unheard tails, then the tails' tails


def speech_clips(regions: Iterable[Region], max_s: Optional[float] = None) -> list[tuple[int, int]]:
    """Clips (start, end) in samples of the regions' audio joined end to end, each at most `max_s` long
    where a pause allows. A clip ends at the longest pause in the second half of its reach (between regions,
    or in the middle of a pause inside one), so that sentences stay whole. Speech with no pause in `max_s`
    runs on to the next pause, but never past MAX_CLIP_S."""
    regions = list(regions)
    cuts: list[tuple[int, int]] = []       # (where a clip may end in joined samples, the pause there)
    offset = 0
    for k, region in enumerate(regions):
        for (_, a_end), (b_start, _) in zip(region.spans, region.spans[1:]):
            cuts.append((offset + (a_end + b_start) // 2 - region.start, b_start - a_end))
        offset += region.end - region.start
        # regions are also cut at 30 s of speech: the pause at a region's end is the one the VAD heard
        following = regions[k + 1].onset if k + 1 < len(regions) else region.end + (1 << 30)
        cuts.append((offset, following - region.spans[-1][1]))
    limit, hard = int((max_s or CLIP_S) * SAMPLE_RATE), int(MAX_CLIP_S * SAMPLE_RATE)
    clips: list[tuple[int, int]] = []
    start = 0
    while start < offset:
        reach = [(at, pause) for at, pause in cuts if start < at <= start + limit]
        later = [c for c in reach if c[0] - start >= limit // 2] or reach
        if later:
            end = max(later, key=lambda c: (c[1], c[0]))[0]
        else:
            after = [at for at, _ in cuts if start + limit < at <= start + hard]
            end = after[0] if after else min(offset, start + hard)
        clips.append((start, end))
        start = end
    return clips


def per_clip_encoder(model: Any) -> Any:
    """A shallow copy of a faster-whisper WhisperModel (weights shared) whose `encode` trims a batch of
    padded 30 s windows to the longest clip's content plus a margin (never under 10 s, rounded up to whole
    seconds) and encodes the clips one by one."""
    def make_encode(cls: type) -> Callable[[Any, np.ndarray], Any]:
        def encode(self: Any, features: np.ndarray) -> Any:
            import ctranslate2

            f = trim_window(features)
            if f.shape[0] == 1 or self.model.device != "cpu":
                return cls.encode(self, f)
            outs = [np.asarray(cls.encode(self, np.ascontiguousarray(f[i:i + 1]))) for i in range(f.shape[0])]
            return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate(outs)))
        return encode

    return with_encoder(model, "PerClip", make_encode)


def joined_spans(regions: Iterable[Region]) -> list[tuple[float, float]]:
    """The VAD's speech spans, in seconds of the regions' audio joined end to end."""
    out, offset = [], 0
    for region in regions:
        out += [((offset + a - region.start) / SAMPLE_RATE, (offset + b - region.start) / SAMPLE_RATE)
                for a, b in region.spans]
        offset += region.end - region.start
    return out


def unheard_tails(clips: list[tuple[float, float]], segments: list[Any],
                  spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Whisper sometimes ends a clip's text early, before speech that is in the clip (a sentence after a
    pause goes missing); faster-whisper's sequential mode would decode on from there, its batched mode
    does not. The rest of each such clip, from its last word on, when TAIL_SPEECH_S of speech is left."""
    starts = [a for a, _ in clips]
    heard = [a for a, _ in clips]
    for seg in segments:
        k = max(0, bisect.bisect_right(starts, seg.start + 0.01) - 1)   # segment times are rounded to ms
        end = max((w.end for w in seg.words or ()), default=seg.end)
        heard[k] = max(heard[k], end)
    tails = []
    for (a, b), last in zip(clips, heard):
        left = sum(max(0.0, min(b, y) - max(last, x)) for x, y in spans)
        if last > a + 0.5 and left >= TAIL_SPEECH_S:
            tails.append((last, b))
    return tails


def transcribe_batched(model: Any, speech: np.ndarray, regions: Iterable[Region], batch_size: int,
                       language: Optional[str], beam_size: int, prompt: Optional[str]) -> list[Any]:
    """faster-whisper segments of `speech` (the regions' audio joined end to end), in time order."""
    from faster_whisper import BatchedInferencePipeline

    regions = list(regions)
    spans = joined_spans(regions)
    clips = sorted((a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in speech_clips(regions) if b > a)
    pipeline = BatchedInferencePipeline(per_clip_encoder(model))
    out: list[Any] = []
    for _ in range(TAIL_ROUNDS):
        if not clips:
            break
        # longest first: the clips of a batch are alike in length, and none is padded far beyond its audio
        by_length = sorted(clips, key=lambda c: c[0] - c[1])
        segments, _ = pipeline.transcribe(
            speech, language=language, beam_size=beam_size, word_timestamps=True, vad_filter=False,
            clip_timestamps=[{"start": a, "end": b} for a, b in by_length], batch_size=batch_size,
            initial_prompt=prompt or None, condition_on_previous_text=False, **vocabulary.barred(model, prompt))
        decoded = list(segments)
        out += decoded
        clips = unheard_tails(clips, decoded, spans)
    return sorted(out, key=lambda s: (s.start, s.end))
