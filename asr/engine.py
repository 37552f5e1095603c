"""Transcribe a recording: decode, gate crosstalk, VAD, Whisper with word times region by region, guards,
Simplified text.

`Transcriber.transcribe(path, options)` returns a lazy iterator of segments in time order and an info
object; everything that can be wrong with the input is checked before the first segment is produced. Each
channel's speech regions are decoded one after another (asr/regions.py), at temperature 0: the same audio,
model, options and versions give the same transcript, byte for byte. `--batch-size N` decodes short clips N
at a time (asr/batched.py); a region that comes out of it without text is decoded again alone. Either way
every region the VAD heard ends with words or as a segment marked unintelligible, counted in the info's
`coverage`; the info's `reproduce` says what reproduces the transcript (asr/reproduce.py).
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import replace
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from asr import audio as audio_io
from asr import guards
from asr.batched import transcribe_batched
from asr.digits import tidy_text, tidy_words
from asr.regions import Channel, RegionDecoder
from asr.types import Coverage, ReproducibleTranscript, TranscribeOptions, TranscriptionInfo
from asr.vad import SAMPLE_RATE, channels_are_copies, crosstalk_gate, speech_regions
from asr.words import ZH_PROMPT, heard_as_speech, snap_to_onsets, split_at_pauses, word_chunks
from core.errors import OptionError
from core.textnorm import to_simplified
from core.transcript import Segment, Word

log = logging.getLogger("xunlu.asr.engine")

__all__ = ["ZH_PROMPT", "Transcriber", "check_language", "collect"]


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


class Transcriber:
    """Holds one loaded Whisper model; reusable across files."""

    def __init__(self, model: Any, model_label: str, provenance: Optional[dict[str, Any]] = None):
        self.model = model
        self.model_label = model_label
        self.provenance = provenance   # how the model was loaded (asr.pipeline.load_transcriber)

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
        coverage = Coverage()
        info = TranscriptionInfo(language=language, language_probability=lang_prob, duration=duration,
                                 channels=n_channels, speech_duration=speech, model=self.model_label,
                                 speakers=tuple(ch.speaker for ch in channels), coverage=coverage,
                                 reproduce=self._reproduce(opts))
        return self._segments(channels, opts, duration, coverage), info

    def _reproduce(self, opts: TranscribeOptions) -> Optional[dict[str, Any]]:
        from asr.reproduce import record

        return record(self.model_label, self.provenance, opts)

    # -- channels and VAD ------------------------------------------------------------------------------
    def _split_channels(self, samples: np.ndarray, options: TranscribeOptions) -> list[Channel]:
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
            out.append(Channel(index, name, track, tuple(regions)))
        return out

    def _detect_language(self, channels: list[Channel]) -> tuple[str, float]:
        best = max(channels, key=lambda ch: sum(r.end - r.start for r in ch.regions))
        if not best.regions:
            return "en", 0.0
        speech = np.concatenate([best.samples[r.start:r.end] for r in best.regions])[: 30 * SAMPLE_RATE]
        language, prob, _ = self.model.detect_language(speech)
        return language, float(prob)

    # -- decoding -------------------------------------------------------------------------------------
    def _segments(self, channels: list[Channel], opts: TranscribeOptions, duration: float,
                  coverage: Coverage) -> Iterator[Segment]:
        heard = [ch for ch in channels if ch.regions]
        if opts.batch_size > 0:
            decoder = RegionDecoder(self.model, opts, coverage)
            streams = [self._batched(decoder, ch, opts, duration) for ch in heard]
        elif len(heard) > 1 and _idle_workers(self.model) >= 2:
            yield from _numbered(side_by_side(self.model, heard, opts, duration, coverage))
            return
        else:
            decoder = RegionDecoder(self.model, opts, coverage)
            streams = [decoder.channel(ch, duration) for ch in heard]
        yield from _numbered(heapq.merge(*streams, key=_order))

    def _batched(self, decoder: RegionDecoder, ch: Channel, opts: TranscribeOptions,
                 duration: float) -> Iterator[Segment]:
        """The batched mode: clips of the channel's joined speech decoded N at a time; then, region by
        region, what they gave, and the region decoded again alone where they gave nothing."""
        from faster_whisper.vad import SpeechTimestampsMap

        chunks = [{"start": r.start, "end": r.end} for r in ch.regions]
        speech = np.concatenate([ch.samples[r.start:r.end] for r in ch.regions]).astype(np.float32)
        ts_map = SpeechTimestampsMap(chunks, SAMPLE_RATE)
        prompt = opts.initial_prompt
        if prompt is None and opts.language == "zh":
            prompt = ZH_PROMPT
        raw = transcribe_batched(self.model, speech, ch.regions, opts.batch_size, opts.language, opts.beam,
                                 prompt)
        found: list[list[Segment]] = [[] for _ in ch.regions]
        starts = [r.start / SAMPLE_RATE for r in ch.regions]
        for fw_seg in raw:
            for seg in self._convert(fw_seg, ts_map, ch, opts):
                kept = guards.guard(seg, duration, prompt)
                if kept is not None and kept.text:
                    for k, part in _by_region(kept, starts):
                        found[k].append(part)
        for region, segments in zip(ch.regions, found):
            yield from decoder.region(ch, region, duration, decoded=sorted(segments, key=lambda s: s.start))

    def _convert(self, fw_seg: Any, ts_map: Any, ch: Channel, opts: TranscribeOptions) -> list[Segment]:
        """A faster-whisper segment of the joined speech on the session clock, split at the pauses."""
        zh = (opts.language or "").startswith("zh")
        fw_words = list(fw_seg.words or ())
        chunk = word_chunks(fw_words, ts_map, ch.regions)
        words: list[Word] = []
        for w, index in zip(fw_words, chunk):
            start = ts_map.get_original_time(w.start, index)
            end = ts_map.get_original_time(w.end, index)
            text = to_simplified(w.word) if zh else w.word
            words.append(Word(start, max(start, end), text, float(w.probability)))
        if zh:
            words = tidy_words(words)
        words = snap_to_onsets(words, ch.regions)
        out = []
        for group in split_at_pauses(words, ch.regions):
            if not group or not heard_as_speech(group, ch.regions):
                continue
            text = guards.words_text(group)
            out.append(Segment(id=0, start=group[0].start, end=group[-1].end, text=text,
                               words=tuple(group), speaker=ch.speaker, channel=ch.index))
        if not words and fw_seg.text.strip():
            text = tidy_text(to_simplified(fw_seg.text.strip())) if zh else fw_seg.text.strip()
            start = ts_map.get_original_time(fw_seg.start)
            end = ts_map.get_original_time(fw_seg.end, is_end=True)
            out.append(Segment(0, start, end, text, (), ch.speaker, ch.index))
        return out


def _order(seg: Segment) -> tuple[float, int]:
    return seg.start, seg.channel


def _numbered(segments: Iterable[Segment]) -> Iterator[Segment]:
    for i, seg in enumerate(segments):
        yield replace(seg, id=i)


def _idle_workers(model: Any) -> int:
    """Decodes the model can run at once now: its workers (models/store.py loads 2), none busy."""
    ct2 = getattr(model, "model", None)
    if getattr(ct2, "num_active_batches", 1) > 0:
        return 1
    return int(getattr(ct2, "num_workers", 1) or 1)


def side_by_side(model: Any, channels: list[Channel], opts: TranscribeOptions, duration: float,
                 coverage: Coverage) -> Iterator[Segment]:
    """The channels decoded at the same time, one thread each (the model's workers share one copy of the
    weights; Whisper's decoder keeps one core busy), their segments merged in time order. A channel's text
    depends on that channel's audio alone, so the transcript is the same as one channel after the other."""
    import queue
    import threading

    done = object()
    stop = threading.Event()
    lock = threading.Lock()
    queues: list[queue.Queue] = [queue.Queue() for _ in channels]

    def work(ch: Channel, out: queue.Queue) -> None:
        mine = Coverage()
        try:
            for seg in RegionDecoder(model, opts, mine).channel(ch, duration):
                out.put(seg)
                if stop.is_set():
                    return
        except BaseException as exc:   # handed to the consumer, raised there
            out.put(exc)
        finally:
            with lock:
                for key, value in mine.as_dict().items():
                    setattr(coverage, key, getattr(coverage, key) + value)
            out.put(done)

    def drain(q: queue.Queue) -> Iterator[Segment]:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    threads = [threading.Thread(target=work, args=(ch, q), name=f"xunlu-asr-ch{ch.index}", daemon=True)
               for ch, q in zip(channels, queues)]
    for t in threads:
        t.start()
    try:
        yield from heapq.merge(*(drain(q) for q in queues), key=_order)
    finally:
        stop.set()
        for t in threads:
            t.join()


def _by_region(seg: Segment, starts: list[float]) -> list[tuple[int, Segment]]:
    """A segment cut where its words cross from one region into the next (a batched clip holds several
    regions, and Whisper does not always pause between them), each part with its region's index."""
    if not seg.words:
        return [(_region_of(seg.start, starts), seg)]
    parts: list[tuple[int, list[Word]]] = []
    for w in seg.words:
        k = _region_of((w.start + w.end) / 2, starts)
        if parts and parts[-1][0] == k:
            parts[-1][1].append(w)
        else:
            parts.append((k, [w]))
    if len(parts) == 1:
        return [(parts[0][0], seg)]
    return [(k, replace(seg, start=ws[0].start, end=ws[-1].end, text=guards.words_text(ws), words=tuple(ws)))
            for k, ws in parts]


def _region_of(t: float, starts: list[float]) -> int:
    """Index of the region that a time on the session clock falls in (the last one starting before it)."""
    import bisect

    return max(0, bisect.bisect_right(starts, t + 1e-6) - 1)


def collect(segments: Iterable[Segment], info: TranscriptionInfo,
            on_segment: Optional[Any] = None) -> ReproducibleTranscript:
    """Drain the iterator into a Transcript (one that carries the info's `reproduce` record); `on_segment(seg)`
    is called as each one arrives."""
    out = []
    for seg in segments:
        out.append(seg)
        if on_segment is not None:
            on_segment(seg)
    return ReproducibleTranscript(language=info.language, model=info.model, duration=info.duration,
                                  segments=tuple(out), reproduce=getattr(info, "reproduce", None))
