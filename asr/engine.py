"""Transcribe a recording: decode, gate crosstalk, VAD, Whisper with word times, guards, Simplified text.

`Transcriber.transcribe(path, options)` returns a lazy iterator of segments in time order and an info
object; everything that can be wrong with the input is checked before the first segment is produced.
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from asr import audio as audio_io
from asr import guards
from asr.errors import OptionError
from asr.textnorm import to_simplified
from asr.types import Segment, TranscribeOptions, TranscriptionInfo, Word
from asr.vad import SAMPLE_RATE, Region, channels_are_copies, crosstalk_gate, speech_regions

log = logging.getLogger("xunlu.asr.engine")

ZH_PROMPT = "以下是普通话的句子。"


def check_language(language: Optional[str]) -> Optional[str]:
    """'auto' or None -> None (detect); a Whisper language code -> itself; anything else -> OptionError."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if language in (None, "", "auto"):
        return None
    code = language.lower()
    if code not in _LANGUAGE_CODES:
        raise OptionError(f"unknown language code '{language}': use auto or a Whisper code such as zh, en, "
                          "yue, ja")
    return code


@dataclass(frozen=True)
class _Channel:
    index: int
    speaker: Optional[str]
    samples: np.ndarray
    regions: tuple[Region, ...]


class Transcriber:
    """Holds one loaded Whisper model; reusable across files."""

    def __init__(self, model: Any, model_label: str):
        self.model = model
        self.model_label = model_label

    # -- public -------------------------------------------------------------------------------------
    def transcribe(self, path: str, options: TranscribeOptions) -> tuple[Iterator[Segment], TranscriptionInfo]:
        language = check_language(options.language)
        info, samples = audio_io.load(path)
        return self.transcribe_array(samples, options.with_(language=language))

    def transcribe_array(self, samples: np.ndarray,
                         options: TranscribeOptions) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """`samples`: float32 at 16 kHz, shape (channels, n) or (n,)."""
        language = check_language(options.language)
        options = options.with_(language=language)
        if samples.ndim == 1:
            samples = samples[None, :]
        n_channels, n = samples.shape
        duration = n / SAMPLE_RATE
        channels = self._split_channels(samples, options)
        speech = sum((r.end - r.start) for ch in channels for r in ch.regions) / SAMPLE_RATE
        lang_prob = 1.0
        if language is None:
            language, lang_prob = self._detect_language(channels)
        opts = options.with_(language=language)
        info = TranscriptionInfo(language=language, language_probability=lang_prob, duration=duration,
                                 channels=n_channels, speech_duration=speech, model=self.model_label,
                                 speakers=tuple(ch.speaker for ch in channels))
        return self._segments(channels, opts, duration), info

    # -- channels and VAD ------------------------------------------------------------------------------
    def _split_channels(self, samples: np.ndarray, options: TranscribeOptions) -> list[_Channel]:
        n_channels = samples.shape[0]
        speakers = list(options.speakers)
        if speakers and len(speakers) != n_channels:
            raise OptionError(f"--speakers names {len(speakers)} speaker(s) but the recording has "
                              f"{n_channels} audio channel(s)")
        if n_channels == 1 or (not speakers and channels_are_copies(samples)):
            mono = samples.mean(axis=0).astype(np.float32) if n_channels > 1 else samples[0]
            names: list[Optional[str]] = [speakers[0] if speakers else None]
            tracks = [mono]
        else:
            tracks = list(crosstalk_gate(samples))
            names = list(speakers) if speakers else [None] * n_channels
        out = []
        for index, (track, name) in enumerate(zip(tracks, names)):
            regions = speech_regions(track, options.vad_threshold, options.min_silence_ms,
                                     options.speech_pad_ms)
            out.append(_Channel(index, name, track, tuple(regions)))
        return out

    def _detect_language(self, channels: list[_Channel]) -> tuple[str, float]:
        best = max(channels, key=lambda ch: sum(r.end - r.start for r in ch.regions))
        if not best.regions:
            return "en", 0.0
        speech = np.concatenate([best.samples[r.start:r.end] for r in best.regions])[: 30 * SAMPLE_RATE]
        language, prob, _ = self.model.detect_language(speech)
        return language, float(prob)

    # -- decoding -------------------------------------------------------------------------------------
    def _segments(self, channels: list[_Channel], opts: TranscribeOptions,
                  duration: float) -> Iterator[Segment]:
        streams = [self._channel_segments(ch, opts, duration) for ch in channels if ch.regions]
        merged = heapq.merge(*streams, key=lambda s: (s.start, s.channel))
        for i, seg in enumerate(merged):
            yield replace(seg, id=i)

    def _channel_segments(self, ch: _Channel, opts: TranscribeOptions, duration: float) -> Iterator[Segment]:
        from faster_whisper.vad import SpeechTimestampsMap

        chunks = [{"start": r.start, "end": r.end} for r in ch.regions]
        speech = np.concatenate([ch.samples[r.start:r.end] for r in ch.regions]).astype(np.float32)
        ts_map = SpeechTimestampsMap(chunks, SAMPLE_RATE)
        prompt = opts.initial_prompt
        if prompt is None and opts.language == "zh":
            prompt = ZH_PROMPT
        if opts.batch_size > 0:
            raw = self._batched(speech, chunks, opts, prompt)
        else:
            raw, _ = self.model.transcribe(
                speech, language=opts.language, beam_size=opts.beam_size, word_timestamps=True,
                vad_filter=False, initial_prompt=prompt or None,
                condition_on_previous_text=opts.condition_on_previous_text)
        for fw_seg in raw:
            for seg in self._convert(fw_seg, ts_map, ch, opts, split=opts.batch_size > 0):
                kept = guards.guard(seg, duration) if opts.guard_hallucinations else seg
                if kept is not None and kept.text:
                    yield kept

    def _batched(self, speech: np.ndarray, chunks: list[dict], opts: TranscribeOptions,
                 prompt: Optional[str]) -> Iterable[Any]:
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.vad import collect_chunks

        # pack the speech regions into windows of at most 30 s, as the batched pipeline's own VAD does
        local, offset = [], 0
        for c in chunks:
            length = c["end"] - c["start"]
            local.append({"start": offset, "end": offset + length})
            offset += length
        _, meta = collect_chunks(speech, local, max_duration=30.0)
        clips = [{"start": m["offset"], "end": m["offset"] + m["duration"]} for m in meta if m["duration"] > 0]
        pipeline = BatchedInferencePipeline(self.model)
        segments, _ = pipeline.transcribe(
            speech, language=opts.language, beam_size=opts.beam_size, word_timestamps=True,
            vad_filter=False, clip_timestamps=clips, batch_size=opts.batch_size,
            initial_prompt=prompt or None, condition_on_previous_text=False)
        return segments

    def _convert(self, fw_seg: Any, ts_map: Any, ch: _Channel, opts: TranscribeOptions,
                 split: bool) -> list[Segment]:
        zh = (opts.language or "").startswith("zh")
        words: list[Word] = []
        for w in fw_seg.words or ():
            index = ts_map.get_chunk_index((w.start + w.end) / 2)
            start = ts_map.get_original_time(w.start, index)
            end = ts_map.get_original_time(w.end, index)
            text = to_simplified(w.word) if zh else w.word
            words.append(Word(start, max(start, end), text, float(w.probability)))
        if opts.snap_onsets:
            words = snap_to_onsets(words, ch.regions)
        groups = split_at_regions(words, ch.regions) if split else [words]
        out = []
        for group in groups:
            if not group:
                continue
            text = guards.words_text(group)
            out.append(Segment(id=0, start=group[0].start, end=group[-1].end, text=text,
                               words=tuple(group), speaker=ch.speaker, channel=ch.index))
        if not words and fw_seg.text.strip():
            text = to_simplified(fw_seg.text.strip()) if zh else fw_seg.text.strip()
            start = ts_map.get_original_time(fw_seg.start)
            end = ts_map.get_original_time(fw_seg.end, is_end=True)
            out.append(Segment(0, start, end, text, (), ch.speaker, ch.index))
        return out


def _region_of(t: float, regions: tuple[Region, ...]) -> Optional[Region]:
    for r in regions:
        if r.start_s <= t <= r.end_s:
            return r
    return None


def snap_to_onsets(words: list[Word], regions: tuple[Region, ...]) -> list[Word]:
    """Whisper often starts an utterance's first word in the silence before it; move such a word's start
    onto the speech onset the VAD heard, keeping its end (and the order of words)."""
    out: list[Word] = []
    for i, w in enumerate(words):
        r = _region_of((w.start + w.end) / 2, regions)
        if r is not None and w.start < r.onset_s:
            start = r.onset_s
            end = max(w.end, start + 0.02)
            if i + 1 < len(words):
                end = min(end, max(start, words[i + 1].start))
            w = replace(w, start=round(start, 2), end=round(max(start, end), 2))
        out.append(w)
    return out


def split_at_regions(words: list[Word], regions: tuple[Region, ...]) -> list[list[Word]]:
    """Split one long segment's words where they cross from one speech region into the next."""
    groups: list[list[Word]] = []
    current: Optional[Region] = None
    for w in words:
        r = _region_of((w.start + w.end) / 2, regions)
        if not groups or (r is not None and r is not current and current is not None):
            groups.append([])
        if r is not None:
            current = r
        groups[-1].append(w)
    return groups


def collect(segments: Iterable[Segment], info: TranscriptionInfo,
            on_segment: Optional[Any] = None) -> "Transcript":
    """Drain the iterator into a Transcript; `on_segment(seg)` is called as each one arrives."""
    from asr.types import Transcript

    out = []
    for seg in segments:
        out.append(seg)
        if on_segment is not None:
            on_segment(seg)
    return Transcript(language=info.language, model=info.model, duration=info.duration, segments=tuple(out))
