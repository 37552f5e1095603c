"""Transcribe a recording: decode, gate crosstalk, VAD, Whisper with word times, guards, Simplified text.

`Transcriber.transcribe(path, options)` returns a lazy iterator of segments in time order and an info
object; everything that can be wrong with the input is checked before the first segment is produced.
"""
from __future__ import annotations

import bisect
import heapq
import logging
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from asr import audio as audio_io
from asr import guards
from asr.batched import transcribe_batched
from asr.types import TranscribeOptions, TranscriptionInfo
from asr.vad import SAMPLE_RATE, Region, channels_are_copies, crosstalk_gate, speech_regions
from core.errors import OptionError
from core.textnorm import to_simplified
from core.transcript import Segment, Transcript, Word

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
            raw = transcribe_batched(self.model, speech, ch.regions, opts.batch_size, opts.language,
                                     opts.beam, prompt)
        else:
            raw, _ = self.model.transcribe(
                speech, language=opts.language, beam_size=opts.beam, word_timestamps=True,
                vad_filter=False, initial_prompt=prompt or None,
                condition_on_previous_text=opts.condition_on_previous_text)
        for fw_seg in raw:
            for seg in self._convert(fw_seg, ts_map, ch, opts):
                kept = guards.guard(seg, duration) if opts.guard_hallucinations else seg
                if kept is not None and kept.text:
                    yield kept

    def _convert(self, fw_seg: Any, ts_map: Any, ch: _Channel, opts: TranscribeOptions) -> list[Segment]:
        zh = (opts.language or "").startswith("zh")
        fw_words = list(fw_seg.words or ())
        chunk = word_chunks(fw_words, ts_map, ch.regions)
        words: list[Word] = []
        for w, index in zip(fw_words, chunk):
            start = ts_map.get_original_time(w.start, index)
            end = ts_map.get_original_time(w.end, index)
            text = to_simplified(w.word) if zh else w.word
            words.append(Word(start, max(start, end), text, float(w.probability)))
        if opts.snap_onsets:
            words = snap_to_onsets(words, ch.regions)
        groups = split_at_pauses(words, ch.regions)
        out = []
        for group in groups:
            if not group or (opts.guard_hallucinations and not heard_as_speech(group, ch.regions)):
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


def word_chunks(fw_words: list[Any], ts_map: Any, regions: tuple[Region, ...]) -> list[int]:
    """Which VAD chunk each word of the joined speech belongs to.

    faster-whisper goes by a word's midpoint. But Whisper starts an utterance's first word early, often in
    the padding or even the last syllables of the previous chunk, and the word would be carried back into
    the previous utterance's time. The first word or two of a segment, when the words after them are in a
    later chunk, and any word that lands after the speech of its chunk has ended and leads into a later
    chunk, are given to that later chunk."""
    chunks = [ts_map.get_chunk_index((w.start + w.end) / 2) for w in fw_words]
    # a segment's first word or two, alone in an earlier chunk than the words that follow them
    for lead in (1, 2):
        if len(chunks) > lead and len(set(chunks[:lead])) == 1 and chunks[lead] > chunks[lead - 1]:
            chunks[:lead] = [chunks[lead]] * lead
            break
    for i in range(len(fw_words) - 2, -1, -1):
        here, after = chunks[i], chunks[i + 1]
        if after > here:
            speech_end = regions[here].spans[-1][1] / SAMPLE_RATE
            start = ts_map.get_original_time(fw_words[i].start, here)
            if start >= speech_end - 0.1:
                chunks[i] = after
    return chunks


def heard_as_speech(words: list[Word], regions: tuple[Region, ...]) -> bool:
    """False for words that lie mostly in the padding around speech, where the VAD heard none: Whisper
    fills that silence with phantom text ("字幕制作人", "那天") at the end of an utterance."""
    start, end = words[0].start, words[-1].end
    if end - start <= 0:
        return True
    covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in _spans_s(regions))
    coverage = covered / (end - start)
    mean_p = sum(w.p for w in words) / len(words)
    return coverage >= 0.6 or (coverage >= 0.4 and mean_p >= 0.5)


SPLIT_PAUSE_S = 0.8  # a segment is split where the VAD heard a pause at least this long between two words


def _spans_s(regions: tuple[Region, ...]) -> list[tuple[float, float]]:
    return [(a / SAMPLE_RATE, b / SAMPLE_RATE) for r in regions for a, b in r.spans]


def _span_index(t: float, ends: list[float]) -> int:
    """Index of the first span that ends after `t` (len(ends) when none does)."""
    return bisect.bisect_right(ends, t)


def snap_to_onsets(words: list[Word], regions: tuple[Region, ...]) -> list[Word]:
    """Whisper often starts an utterance's first word in the silence before it. A word that starts
    before the speech it belongs to (it straddles the onset, or lies in the pause nearer the next onset than
    the previous speech) gets the VAD's onset as its start; word order is kept."""
    spans = _spans_s(regions)
    ends = [e for _, e in spans]
    out: list[Word] = []
    for i, w in enumerate(words):
        k = _span_index((w.start + w.end) / 2, ends)
        if k < len(spans) and w.start < spans[k][0]:
            onset = spans[k][0]
            in_gap = (w.start + w.end) / 2 < onset
            prev_end = spans[k - 1][1] if k > 0 else -1e9
            if not in_gap or onset - w.end <= w.start - prev_end:
                end = w.end if not in_gap else onset + min(w.end - w.start, 0.3)
                if i + 1 < len(words):
                    end = min(end, max(onset, words[i + 1].start))
                w = replace(w, start=round(onset, 2), end=round(max(onset, end), 2))
        if out and w.start < out[-1].start:
            w = replace(w, start=out[-1].start, end=max(w.end, out[-1].start))
        out.append(w)
    return out


def split_at_pauses(words: list[Word], regions: tuple[Region, ...]) -> list[list[Word]]:
    """Split a segment where its words cross a pause the VAD heard (SPLIT_PAUSE_S or more), so that one
    segment is one utterance, whatever Whisper's own segmentation over the joined speech did."""
    spans = _spans_s(regions)
    ends = [e for _, e in spans]
    groups: list[list[Word]] = []
    prev_k = -1
    for w in words:
        k = min(_span_index((w.start + w.end) / 2, ends), len(spans) - 1) if spans else 0
        if not groups:
            groups.append([])
        elif k > prev_k and spans and spans[k][0] - spans[max(prev_k, 0)][1] >= SPLIT_PAUSE_S \
                and w.start - groups[-1][-1].end >= 0.05:
            groups.append([])
        groups[-1].append(w)
        prev_k = max(prev_k, k)
    return groups


def collect(segments: Iterable[Segment], info: TranscriptionInfo,
            on_segment: Optional[Any] = None) -> Transcript:
    """Drain the iterator into a Transcript; `on_segment(seg)` is called as each one arrives."""
    out = []
    for seg in segments:
        out.append(seg)
        if on_segment is not None:
            on_segment(seg)
    return Transcript(language=info.language, model=info.model, duration=info.duration, segments=tuple(out))
