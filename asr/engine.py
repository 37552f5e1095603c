"""Transcribe a recording: decode, gate crosstalk, VAD, Whisper with word times, guards, Simplified text.

`Transcriber.transcribe(path, options)` returns a lazy iterator of segments in time order and an info
object; everything that can be wrong with the input is checked before the first segment is produced. Each
channel's speech regions are joined end to end and decoded long-form at temperature 0, words aligned per
window (asr/longform.py): the same audio, model, options and versions give the same transcript, byte for
byte. `--batch-size N` decodes short clips N at a time instead (asr/batched.py). Either way a region that
came out without text is decoded again alone, and every region the VAD heard ends with words or as a segment
marked unintelligible (asr/regions.py), counted in the info's `coverage`; the info's `reproduce` says what
reproduces the transcript (asr/reproduce.py).
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
from asr.channels import split_channels
from asr.digits import continues_number, tidy_text, tidy_words, without_pause
from asr.longform import transcribe_longform
from asr.regions import Channel, RegionDecoder
from asr.respell import respell
from asr.types import Coverage, ReproducibleTranscript, TranscribeOptions, TranscriptionInfo
from asr.vad import SAMPLE_RATE, Region
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
        """The file is decoded into a temporary file (asr/audio.py), gated there and read region by region."""
        language = check_language(options.language)
        info, samples = audio_io.load(path)
        return self._transcribe(samples, options.with_(language=language), owned=True)

    def transcribe_array(self, samples: np.ndarray,
                         options: TranscribeOptions) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """`samples`: float32 at 16 kHz, shape (channels, n) or (n,), in memory or a memmap; never written to."""
        return self._transcribe(samples, options, owned=False)

    def _transcribe(self, samples: np.ndarray, options: TranscribeOptions,
                    owned: bool) -> tuple[Iterator[Segment], TranscriptionInfo]:
        language = check_language(options.language)
        options = options.with_(language=language)
        if samples.ndim == 1:
            samples = samples[None, :]
        n_channels, n = samples.shape
        duration = n / SAMPLE_RATE
        channels = self._split_channels(samples, options, in_place=owned)
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
    def _split_channels(self, samples: np.ndarray, options: TranscribeOptions,
                        in_place: bool = False) -> list[Channel]:
        """Copies folded, crosstalk gated, VAD regions: a chunk at a time (asr/channels.py)."""
        return split_channels(samples, options, in_place)

    def _detect_language(self, channels: list[Channel]) -> tuple[str, float]:
        best = max(channels, key=lambda ch: sum(r.end - r.start for r in ch.regions))
        if not best.regions:
            return "en", 0.0
        first, heard = [], 0   # the first 30 s of speech, not all of it
        for r in best.regions:
            first.append(best.samples[r.start:r.end])
            heard += r.end - r.start
            if heard >= 30 * SAMPLE_RATE:
                break
        speech = np.concatenate(first)[: 30 * SAMPLE_RATE]
        language, prob, _ = self.model.detect_language(speech)
        return language, float(prob)

    # -- decoding -------------------------------------------------------------------------------------
    def _segments(self, channels: list[Channel], opts: TranscribeOptions, duration: float,
                  coverage: Coverage) -> Iterator[Segment]:
        heard = [ch for ch in channels if ch.regions]
        if len(heard) > 1 and opts.batch_size == 0 and _idle_workers(self.model) >= 2:
            yield from _numbered(side_by_side(self, heard, opts, duration, coverage))
            return
        streams = [self.channel(ch, opts, duration, coverage) for ch in heard]
        yield from _numbered(heapq.merge(*streams, key=_order))

    def channel(self, ch: Channel, opts: TranscribeOptions, duration: float,
                coverage: Coverage) -> Iterator[Segment]:
        """One channel's segments in time order: its regions joined end to end and decoded long-form
        (asr/longform.py), or in short clips N at a time (`--batch-size N`, asr/batched.py), GROUP_S of
        speech at a time (so that a long recording's speech is never all in memory at once); then, region by
        region, what that gave, and the region decoded again alone where it gave nothing or stopped before
        the speech did (asr/regions.py)."""
        decoder = RegionDecoder(self.model, opts, coverage)
        for group in speech_groups(ch.regions, GROUP_S):
            yield from self._group(decoder, ch, group, opts, duration)

    def _group(self, decoder: RegionDecoder, ch: Channel, regions: tuple[Region, ...], opts: TranscribeOptions,
               duration: float) -> Iterator[Segment]:
        from faster_whisper.vad import SpeechTimestampsMap

        chunks = [{"start": r.start, "end": r.end} for r in regions]
        speech = np.concatenate([ch.samples[r.start:r.end] for r in regions], dtype=np.float32)
        ts_map = SpeechTimestampsMap(chunks, SAMPLE_RATE)
        prompt = decoder.decoder.prompt
        if opts.batch_size > 0:
            raw = transcribe_batched(self.model, speech, regions, opts.batch_size, opts.language, opts.beam,
                                     prompt)
        else:
            raw = transcribe_longform(self.model, speech, opts.language, opts.beam, prompt)
        del speech
        found: list[list[Segment]] = [[] for _ in regions]
        starts = [r.start / SAMPLE_RATE for r in regions]
        for fw_seg in raw:
            for seg in self._convert(fw_seg, ts_map, ch, regions, opts):
                kept = guards.guard(seg, duration, prompt, opts.hotwords)
                kept = None if kept is None else respell(kept, opts.hotwords)
                if kept is not None and kept.text:
                    for k, part in _by_region(kept, starts):
                        found[k].append(part)
        before = ""   # the channel's text so far (its end, squashed): what a copy with no audio under it repeats
        for region, segments in zip(regions, found):
            segments = guards.drop_unheard(join_numbers(sorted(segments, key=lambda s: s.start)), before)
            out = decoder.region(ch, region, duration, decoded=segments)
            out = guards.drop_unheard(out, before) or out   # a region never left without text by it
            before = guards.text_tail(before, out)
            yield from out

    def _convert(self, fw_seg: Any, ts_map: Any, ch: Channel, regions: tuple[Region, ...],
                 opts: TranscribeOptions) -> list[Segment]:
        """A faster-whisper segment of the joined speech on the session clock, split at the pauses."""
        zh = (opts.language or "").startswith("zh")
        fw_words = list(fw_seg.words or ())
        chunk = word_chunks(fw_words, ts_map, regions)
        words: list[Word] = []
        for w, index in zip(fw_words, chunk):
            start = ts_map.get_original_time(w.start, index)
            end = ts_map.get_original_time(w.end, index)
            text = to_simplified(w.word) if zh else w.word
            words.append(Word(start, max(start, end), text, float(w.probability)))
        if zh:
            words = tidy_words(words)
        words = snap_to_onsets(words, regions)
        out = []
        for group in split_at_pauses(words, regions):
            if not group or not heard_as_speech(group, regions):
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


NUMBER_GAP_S = 1.5    # a number read out in groups stays one across a pause shorter than this


def join_numbers(segments: list[Segment]) -> list[Segment]:
    """Neighbouring segments of one region joined where Whisper ended one in the middle of a run of digits
    and began the next with the rest of it ("9879，" | "0902" -> "98790902"): a number is one run, in one
    segment (asr/digits.py `continues_number`; a list of years or two short numbers stay apart)."""
    out: list[Segment] = []
    for seg in segments:
        last = out[-1] if out else None
        if (last is not None and last.words and seg.words and seg.start - last.end < NUMBER_GAP_S
                and continues_number(last.text, seg.text)):
            head = list(last.words)
            head[-1] = replace(head[-1], text=without_pause(head[-1].text))   # the pause Whisper wrote
            words = tidy_words([*head, *seg.words])
            out[-1] = replace(last, end=max(last.end, seg.end), words=tuple(words), text=guards.words_text(words))
        else:
            out.append(seg)
    return out


GROUP_S = 600.0    # speech decoded in one piece: a group of regions ends at the first region end past it


def speech_groups(regions: Iterable[Region], limit_s: float) -> list[tuple[Region, ...]]:
    """The regions in runs of about `limit_s` of speech each (a run ends with the region that reaches it)."""
    groups: list[tuple[Region, ...]] = []
    run: list[Region] = []
    size = 0
    for region in regions:
        run.append(region)
        size += region.end - region.start
        if size >= limit_s * SAMPLE_RATE:
            groups.append(tuple(run))
            run, size = [], 0
    if run:
        groups.append(tuple(run))
    return groups


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


def side_by_side(transcriber: Transcriber, channels: list[Channel], opts: TranscribeOptions, duration: float,
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
            for seg in transcriber.channel(ch, opts, duration, mine):
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
