"""Live transcription: PCM in as it is captured, partial text while a person speaks, final segments after.

Per channel: the crosstalk gate (two microphones: a sentence is kept on the louder one), Silero VAD run
incrementally, and an utterance tracker. An utterance ends after `end_silence_s` of silence, or is cut at
`max_utterance_s`; it is then decoded once (beam 2, or 5 for up to 10 s of audio; word times, the Simplified
prompt) after the audio of the channel's previous final utterance, whose text Whisper is made to have
written already (the decoder's prefix), and its segments go to `on_final` with word times on the session
clock. When that decode stops short of the speech, the utterance's decode without the context, run beside
it on the model's second worker, is used instead. Of the 0.4 s decoded after the last speech, the decode
waits for the first 0.2 s; for the rest Whisper is given the room's own sound, and the padding is decoded as
captured only when it turns out not to be quiet.
While someone is still speaking, a cheap greedy decode of the open utterance goes to `on_partial` at most
every `partial_interval_s` of audio. Partials never hold up finals: finals are decoded as soon as the audio
that ends them arrives, a partial only once a feed's audio is handled, never while the speaker is pausing,
and none at all while the stream runs behind real time.

A final segment of channel c supersedes the partial shown for channel c.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

import numpy as np

from asr.digits import joins_digits, without_pause
from asr.engine import check_language
from asr.regions import context_start, has_text, marker
from asr.stream_decode import Context, UtteranceDecoder
from asr.stream_vad import WINDOW, SileroStream, SpanTracker, StreamGate, Tape
from asr.vad import SAMPLE_RATE, Region
from core.errors import OptionError
from core.transcript import Segment

log = logging.getLogger("xunlu.asr.stream")


@dataclass(frozen=True)
class StreamOptions:
    language: str = "zh"
    channels: int = 1                      # PCM fed has this many channels
    speakers: tuple[str, ...] = ()         # names per channel; () -> speaker None
    beam_size: int = 2                     # final decode (bench/README.md: near 5's text, 1's time)
    short_beam_size: int = 5               # ... of at most short_audio_s of audio, context included
    short_audio_s: float = 10.0            # (short decodes are cheap; the slow ones keep beam_size)
    initial_prompt: Optional[str] = None   # None: the Simplified-Chinese prompt when language is zh
    hotwords: tuple[str, ...] = ()         # the case vocabulary, listed after the prompt (asr/vocabulary.py)
    vad_threshold: float = 0.5
    end_silence_s: float = 0.5             # silence that ends an utterance
    speech_pad_s: float = 0.4              # audio decoded before the onset
    end_pad_s: float = 0.4                 # audio decoded after the last speech
    end_pad_heard_s: float = 0.2           # ... of it captured when the final's decode starts; the rest is decoded
                                           # as the room's sound, unless what was captured there is not quiet
    max_utterance_s: float = 25.0          # longer speech is cut (at a pause when there is one)
    partials: bool = True
    partial_interval_s: float = 1.0        # audio between two partials of one utterance
    first_partial_s: float = 0.6           # speech needed before the first partial
    max_lag_s: float = 1.0                 # no partials while this far behind real time
    short_window: bool = True              # encode the utterance only, not a padded 30 s window
    early_final: bool = True               # decode as soon as the padding is in, emit once the end is sure
    context_s: float = 10.0                # the channel's earlier speech decoded before a final (0: none)
    alone_aside: bool = True               # ... and the final also decoded without it, on the model's other worker
    digits_pause_s: float = 1.5            # silence that ends an utterance whose text ends with a run of digits


@dataclass(frozen=True)
class Partial:                             # unstable text of an utterance still being spoken
    channel: int
    speaker: Optional[str]
    start: float                           # seconds from the first audio sample
    end: float
    text: str


@dataclass
class _Early:                              # a final decoded before its end was sure
    key: tuple[int, int, int]              # the utterance's start, end and number of spans then
    hushed: bool                           # the padding's rest decoded as the room's sound
    sure: bool                             # ... decided with the whole padding captured
    segments: list[Segment]


@dataclass
class _Utterance:
    start: int                             # first sample decoded (onset minus padding)
    onset: int                             # where speech began
    spans: list[tuple[int, int]] = field(default_factory=list)   # closed raw spans
    open_start: Optional[int] = None       # start of the span still being spoken
    partial_at: Optional[int] = None       # audio end of the last partial tried
    shown: bool = False                    # a partial with text has been shown
    early: Optional[_Early] = None         # decoded before the end was sure


MAX_WINDOW = 28 * SAMPLE_RATE   # context and utterance together stay inside Whisper's 30 s window


BLOCK_10 = SAMPLE_RATE // 10   # 0.1 s


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _blocks(x: np.ndarray) -> np.ndarray:
    return x[: x.shape[0] // BLOCK_10 * BLOCK_10].reshape(-1, BLOCK_10)


def _room(heard: np.ndarray) -> np.ndarray:
    """The quietest 0.1 s of `heard` (the room's own sound); empty when `heard` is shorter."""
    blocks = _blocks(heard)
    if not blocks.size:
        return blocks.reshape(-1)
    return blocks[int(np.argmin(np.mean(np.square(blocks, dtype=np.float64), axis=1)))]


def _quiet(level: float, heard: np.ndarray, speech: float, before: float = 0.0) -> bool:
    """A sound at `level` is quiet: no more than 6 dB over the room (the quietest 0.1 s of `heard`) or over
    `before` (the sound just before it: a sound dying away, not a new one), or 20 dB under `speech`."""
    return level <= 2.0 * max(_rms(_room(heard)), before) or level < 0.1 * speech


def _covers(segments: list[Segment], spans: list[tuple[int, int]]) -> bool:
    """Text reaching to within a second of the speech's end (a decode after a context that stops early
    lost the rest of the utterance)."""
    return bool(segments) and max(s.end for s in segments) >= spans[-1][1] / SAMPLE_RATE - 1.0


def _validate(options: StreamOptions) -> Optional[str]:
    if options.channels < 1:
        raise OptionError(f"channels must be 1 or more, not {options.channels}")
    if options.speakers and len(options.speakers) != options.channels:
        raise OptionError(f"speakers names {len(options.speakers)} speaker(s) for {options.channels} "
                          "channel(s)")
    if len(set(options.speakers)) != len(options.speakers):
        raise OptionError("speakers names the same speaker twice")
    if not 0.0 < options.vad_threshold < 1.0:
        raise OptionError("vad_threshold must lie between 0 and 1")
    if options.end_silence_s < 0.3 or options.max_utterance_s < 2.0 or options.max_utterance_s > 29.0:
        raise OptionError("end_silence_s must be at least 0.3 s and max_utterance_s between 2 and 29 s")
    if options.digits_pause_s < options.end_silence_s:
        raise OptionError("digits_pause_s must be at least end_silence_s")
    if not 0.0 <= options.end_pad_s <= options.end_silence_s:
        raise OptionError("end_pad_s must lie between 0 and end_silence_s")
    if not 0.0 <= options.end_pad_heard_s <= options.end_pad_s:
        raise OptionError("end_pad_heard_s must lie between 0 and end_pad_s")
    if options.beam_size < 1 or options.short_beam_size < 0 or options.short_audio_s < 0:
        raise OptionError("beam_size must be 1 or more, short_beam_size and short_audio_s 0 or more")
    if not 0.0 <= options.context_s <= 20.0:
        raise OptionError("context_s must lie between 0 and 20 s")
    return check_language(options.language)


class LiveTranscriber:
    def __init__(self, transcriber, options: StreamOptions,
                 on_partial: Callable[[Partial], None], on_final: Callable[[Segment], None]):
        language = _validate(options)
        self.options = options
        self._on_partial = on_partial
        self._on_final = on_final
        self._decoder, self._spare = (
            UtteranceDecoder(transcriber.model, language, options.beam_size, options.initial_prompt,
                             options.short_window, (options.short_beam_size, options.short_audio_s),
                             hotwords=options.hotwords)
            for _ in range(2))   # the spare decodes aside (its own model clones: a decode sets one's attributes)
        self._model = transcriber.model
        self._aside: Optional[ThreadPoolExecutor] = None
        self._aside_job: Optional[Future] = None
        n = options.channels
        self._speakers: list[Optional[str]] = list(options.speakers) if options.speakers else [None] * n
        self._raw = Tape(n)
        self._gated = Tape(n)
        self._gate = StreamGate(n)
        self._vad = [SileroStream() for _ in range(n)]
        self._spans = [SpanTracker(options.vad_threshold) for _ in range(n)]
        self._utts: list[Optional[_Utterance]] = [None] * n
        self._prev_end = [0] * n           # end of the last decoded region per channel
        self._context: list[Optional[Context]] = [None] * n
        self._pad = int(options.speech_pad_s * SAMPLE_RATE)
        self._end_pad = int(options.end_pad_s * SAMPLE_RATE)
        self._heard_pad = int(options.end_pad_heard_s * SAMPLE_RATE)
        self._end_silence = int(options.end_silence_s * SAMPLE_RATE)
        self._max_utt = int(options.max_utterance_s * SAMPLE_RATE)
        self._next_id = 0
        self._lock = threading.Lock()
        self._finished = False
        self._wall0: Optional[float] = None
        self._min_slack = math.inf
        self._behind = False
        self._stats = {"finals_decoded": 0, "final_decode_s": 0.0, "early_used": 0, "early_wasted": 0,
                       "partials_decoded": 0, "partial_decode_s": 0.0, "partials_skipped_behind": 0,
                       "partials_skipped_ending": 0, "with_context": 0, "context_dropped": 0, "decoded_aside": 0,
                       "padding_not_quiet": 0, "regions": 0, "retried": 0, "with_words": 0, "unintelligible": 0}

    # -- public -------------------------------------------------------------------------------------
    @property
    def processed(self) -> float:
        """Seconds of audio fully handled: through the gate and the VAD, and finalised where speech ended."""
        return min(v.pos for v in self._vad) / SAMPLE_RATE if not self._finished else \
            self._raw.end / SAMPLE_RATE

    @property
    def settled(self) -> float:
        """Seconds of audio whose finals are all out: no utterance still open on any channel starts before
        it, nor can a new one (its onset padding included). A stream started afresh on the audio from here
        (a worker restarted after a crash) gives the finals still to come."""
        with self._lock:
            pos = min(v.pos for v in self._vad) - self._pad - WINDOW
            for utt in self._utts:
                if utt is not None:
                    pos = min(pos, utt.start)
            return max(0, pos) / SAMPLE_RATE

    @property
    def stats(self) -> dict:
        """Counters of the work done so far (decodes, seconds spent decoding, doubts, partials skipped)."""
        return dict(self._stats, finals_doubted=self._decoder.doubted + self._spare.doubted)

    def feed(self, pcm: np.ndarray) -> None:
        """float32 samples at 16 kHz, shape (n, channels), consecutive, the first call starting at t=0.
        Synchronous: runs VAD/ASR work as needed and calls the callbacks from the calling thread."""
        x = self._check_pcm(pcm)
        with self._lock:
            if self._finished:
                raise RuntimeError("feed() after finish(): the stream is closed")
            if x.shape[1] == 0:
                return
            self._raw.append(x)
            self._track_lag(time.monotonic())
            self._gate.advance(self._raw, self._gated)
            self._analyse()
            if self.options.partials:
                self._maybe_partial()
            self._trim()

    def finish(self) -> None:
        """End of stream: finalise any open utterance (calls on_final), no more feed()."""
        with self._lock:
            if self._finished:
                return
            self._gate.advance(self._raw, self._gated, final=True)
            self._analyse(final=True)
            self._finished = True
            if self._aside is not None:
                self._aside.shutdown(wait=True)

    def close(self) -> None:
        """Let the thread of the decodes aside go (after finish(), or instead of it when transcription has
        failed); what is still running finishes in its own time and is not used."""
        if self._aside is not None:
            self._aside.shutdown(wait=False, cancel_futures=True)

    # -- input --------------------------------------------------------------------------------------
    def _check_pcm(self, pcm: np.ndarray) -> np.ndarray:
        x = np.asarray(pcm)
        channels = self.options.channels
        if x.ndim == 1 and channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != channels:
            raise ValueError(f"feed() expects samples of shape (n, {channels}), got {tuple(x.shape)}")
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / 32768.0
        return np.ascontiguousarray(x.T, dtype=np.float32)

    def _track_lag(self, wall: float) -> None:
        """Behind real time when audio now arrives later, relative to its own clock, than it ever did:
        the consumer has fallen behind and a backlog is building. Feeding faster than real time (a file,
        a test) is never behind."""
        if self._wall0 is None:
            self._wall0 = wall
        slack = (wall - self._wall0) - self._raw.end / SAMPLE_RATE
        self._min_slack = min(self._min_slack, slack)
        behind = slack - self._min_slack > self.options.max_lag_s
        if behind != self._behind:
            log.debug("live ASR %s real time (%.1f s)", "behind" if behind else "back to",
                      slack - self._min_slack)
        self._behind = behind

    # -- VAD and utterances --------------------------------------------------------------------------
    def _analyse(self, final: bool = False) -> None:
        """Run the VAD over the gated audio not yet seen, window by window on every channel in step, so
        that utterances are finalised in the order they end."""
        probs = []
        start = self._vad[0].pos
        end = self._gated.end
        for c, vad in enumerate(self._vad):
            audio = self._gated.get(vad.pos, end)[c]
            probs.append(vad.finish(audio) if final else vad.advance(audio))
        for k in range(probs[0].shape[0]):
            pos = start + k * WINDOW
            for c in range(len(self._vad)):
                self._step(c, float(probs[c][k]), pos, min(pos + WINDOW, end))
        if final:
            for c, spans in enumerate(self._spans):
                event = spans.finish(end)
                utt = self._utts[c]
                if event is not None and utt is not None:
                    utt.spans.append((max(event.start, utt.onset), event.end))
                    utt.open_start = None
                if utt is not None and utt.spans:
                    self._finalise(c, min(utt.spans[-1][1] + self._end_pad, end))
                self._utts[c] = None

    def _step(self, c: int, prob: float, pos: int, now: int) -> None:
        event = self._spans[c].step(prob, pos)
        utt = self._utts[c]
        if event is not None and event.kind == "start":
            if utt is None:
                utt = self._utts[c] = _Utterance(start=max(event.start - self._pad, self._prev_end[c],
                                                           self._gated.base), onset=event.start)
            utt.open_start = event.start
        elif event is not None and utt is not None:
            utt.spans.append((max(event.start, utt.onset), event.end))  # a span cut at max_utterance_s
            utt.open_start = None
        if utt is None:
            return
        if utt.open_start is None and utt.spans:
            last = utt.spans[-1][1]
            if now - last >= self._end_silence and not self._reading_digits(utt, now - last):
                self._finalise(c, min(last + self._end_pad, now))
            else:
                self._decode_early(c, utt, utt.spans)
        elif utt.open_start is not None and now - utt.onset >= self._max_utt:
            self._cut(c, utt, now)
        elif utt.open_start is not None and self._spans[c].temp_end:
            # the VAD has gone quiet and the audio captured since is quiet too: if the span closes, it
            # closes here (a pause inside a sentence is mostly over before this holds)
            spans = utt.spans + [(max(utt.open_start, utt.onset), self._spans[c].temp_end)]
            if self._raw.end >= spans[-1][1] + self._heard_pad and self._going_quiet(c, utt, now):
                self._decode_early(c, utt, spans)

    def _reading_digits(self, utt: _Utterance, quiet: int) -> bool:
        """The speaker is reading out a number in groups (a phone or ID number) and has paused after a group:
        the utterance's early decode ends with digits. It is held open until digits_pause_s of silence, so
        that the next group joins it in one run, in one segment."""
        early = utt.early
        if early is None or quiet >= int(self.options.digits_pause_s * SAMPLE_RATE) or not early.segments:
            return False
        return joins_digits(without_pause(early.segments[-1].text), "0")

    def _decode_early(self, c: int, utt: _Utterance, spans: list[tuple[int, int]]) -> None:
        """The heard part of the padding after the last speech is captured but the end is not sure yet:
        decode now, with the room's sound for the rest of the padding, and emit when the silence has lasted
        end_silence_s, unless speech resumes first or the rest turns out not to be quiet. The padding is read
        from the raw audio, which runs ahead of the gate and the VAD by 0.1-0.3 s; gated here as if it ended
        there. A backlog that already holds the answer needs no guess."""
        end = spans[-1][1] + self._end_pad
        heard = self._heard_end(spans, end)
        if not self.options.early_final or self._behind or self._raw.end < heard:
            return
        key, early, full = (utt.start, end, len(spans)), utt.early, self._raw.end >= end
        if early is not None and early.key == key and (early.sure or not full):
            return
        # the whole padding is captured (a backlog, or a final not sure yet): is its rest quiet, as assumed?
        hushed = not full or self._quiet_after(c, utt, spans, heard, end)
        if early is not None and early.key == key and early.hushed == hushed:
            early.sure = full
            return
        if early is not None:
            self._stats["early_wasted"] += 1
        if not hushed:
            self._stats["padding_not_quiet"] += 1
        utt.early = _Early(key, hushed, full, self._decode(c, utt, end, spans, hushed))

    def _cut(self, c: int, utt: _Utterance, now: int) -> None:
        """Speech has gone on for max_utterance_s: finalise what came before the last pause when there is
        one in its second half, else everything up to now; the rest goes on as a new utterance."""
        open_start = utt.open_start
        assert open_start is not None
        if utt.spans and utt.spans[-1][1] - utt.onset >= self._max_utt // 2:
            cut = (utt.spans[-1][1] + open_start) // 2
            rest_onset = open_start
        else:
            utt.spans.append((open_start, now))
            cut = rest_onset = now
        utt.open_start = None
        self._finalise(c, cut)
        self._utts[c] = _Utterance(start=cut, onset=rest_onset, open_start=rest_onset, partial_at=cut)

    def _finalise(self, c: int, end: int) -> None:
        utt = self._utts[c]
        self._utts[c] = None
        if utt is None or not utt.spans:
            return
        self._prev_end[c] = end
        hushed = self._quiet_after(c, utt, utt.spans, self._heard_end(utt.spans, end), end)
        early = utt.early if utt.early is not None and utt.early.key == (utt.start, end, len(utt.spans)) else None
        if early is not None and early.hushed == hushed:
            segments = early.segments
            self._stats["early_used"] += 1
        else:
            if utt.early is not None:
                self._stats["early_wasted"] += 1
            if not hushed:
                self._stats["padding_not_quiet"] += 1
            segments = self._decode(c, utt, end, utt.spans, hushed)
        segments = self._accounted(c, utt, end, segments)
        self._context[c] = self._heard(c, utt, end, segments)
        for seg in segments:
            seg = replace(seg, id=self._next_id)
            self._next_id += 1
            self._emit(self._on_final, seg)

    def _accounted(self, c: int, utt: _Utterance, end: int, segments: list[Segment]) -> list[Segment]:
        """Every utterance ends with words or as one segment marked unintelligible, as offline (asr/regions.py):
        one that gave no text (after its context, nor alone) is decoded again alone on the 30 s window with
        the channel's earlier text as the prompt; "[听不清]" over its speech when that gives none either."""
        self._stats["regions"] += 1
        if has_text(segments):
            self._stats["with_words"] += 1
            return segments
        self._stats["retried"] += 1
        region = Region(utt.start, end, tuple(utt.spans))
        context = self._context[c]
        duration = max(self._gated.end, end) / SAMPLE_RATE
        audio = self._decoded_audio(c, utt, end, utt.spans, hushed=False)
        again = self._decoder.final(audio, region, c, self._speakers[c], duration,
                                    retry=context.text if context is not None else "")
        if has_text(again):
            self._stats["with_words"] += 1
            return again
        self._stats["unintelligible"] += 1
        return [marker(region, c, self._speakers[c], duration)]

    def _heard(self, c: int, utt: _Utterance, end: int, segments: list[Segment]) -> Optional[Context]:
        """What the next final of channel c hears first: the last context_s of this utterance, from the start
        of a word (0.1 s before it), and the words said there (as offline: asr/regions.py)."""
        words = [w for seg in segments for w in seg.words if w.start >= utt.start / SAMPLE_RATE]
        found = context_start(words, utt.start, end, self.options.context_s)
        if found is None:
            return None
        start, text = found
        return Context(self._audio(c, start, end).copy(), text, start / SAMPLE_RATE)

    def _heard_end(self, spans: list[tuple[int, int]], end: int) -> int:
        """Where the padding decoded as captured ends: end_pad_heard_s after the last speech."""
        return min(spans[-1][1] + self._heard_pad, end)

    def _quiet_after(self, c: int, utt: _Utterance, spans: list[tuple[int, int]], a: int, b: int) -> bool:
        """Nothing new to decode in samples a..b of channel c (the VAD heard no speech there): no louder
        than the room (the utterance's quietest 0.1 s, padding included) or the 0.1 s before them, or 20 dB
        under the utterance's speech. Judged on the audio as finalised: the same answer whether the final
        was decoded early or not."""
        if b <= a:
            return True
        speech = np.concatenate([self._audio(c, x, y) for x, y in spans])
        before = _rms(self._audio(c, max(utt.start, a - BLOCK_10), a))
        return _quiet(_rms(self._audio(c, a, b)), self._audio(c, utt.start, b), _rms(speech), before)

    def _decoded_audio(self, c: int, utt: _Utterance, end: int, spans: list[tuple[int, int]],
                       hushed: bool) -> np.ndarray:
        """The utterance's samples to `end`; `hushed`: after the heard part of the padding, the room's own
        sound (its quietest 0.1 s, repeated) stands for what the padding's rest will hold, and the decode
        need not wait for it."""
        heard = self._heard_end(spans, end) if hushed else end
        audio = self._audio(c, utt.start, heard)
        if heard < end:
            room = _room(audio)
            rest = np.resize(room, end - heard) if room.size else np.zeros(end - heard, dtype=np.float32)
            audio = np.concatenate([audio, rest.astype(np.float32)])
        return audio.copy()   # the tape is compacted in place later; a decode aside may still read this

    def _decode(self, c: int, utt: _Utterance, end: int, spans: list[tuple[int, int]],
                hushed: bool) -> list[Segment]:
        """Decoded after the channel's last final utterance, as offline decoding hears an utterance among
        its neighbours (Whisper is made to have written that one's text already); alone when there is none,
        or when nothing comes out that way."""
        t0 = time.perf_counter()
        audio = self._decoded_audio(c, utt, end, spans, hushed)
        context = self._context[c]
        if context is not None and context.audio.shape[0] + end - utt.start > MAX_WINDOW:
            context = None
        segments = []
        alone: Optional[Future] = None
        if context is not None:
            self._stats["with_context"] += 1
            alone = self._decode_aside(c, utt, end, spans, audio)
            segments = self._decode_region(c, utt, end, spans, audio, context)
        if not _covers(segments, spans):   # Whisper stopped after the prefix, or soon after it
            if context is not None:
                self._stats["context_dropped"] += 1
                log.debug("ch%d after %r: %r stops short of the speech (%.2f s); %s alone", c, context.text,
                          [s.text for s in segments], spans[-1][1] / SAMPLE_RATE,
                          "decoded aside" if alone is not None else "decoding it")
            segments = alone.result() if alone is not None else self._decode_region(c, utt, end, spans, audio)
        took = time.perf_counter() - t0
        self._stats["finals_decoded"] += 1
        self._stats["final_decode_s"] += took
        log.debug("final ch%d %.2f-%.2f s decoded in %.2f s%s: %d segment(s)", c, utt.start / SAMPLE_RATE,
                  end / SAMPLE_RATE, took, " after its context" if context is not None else "", len(segments))
        return segments

    def _decode_aside(self, c: int, utt: _Utterance, end: int, spans: list[tuple[int, int]],
                      audio: np.ndarray) -> Optional[Future]:
        """The utterance decoded alone, in a thread, while this one decodes it after its context: the answer
        when that decode comes back short (0-6 of 41-61 in a 5-minute bench run) is then ready, instead of a
        second decode after the first. Whisper's decoder uses one core, and a model with two workers runs two
        decodes side by side on 2 cores at almost the speed of one. Not when the model has one worker or is
        busy (another session, an import), nor while the stream runs behind or the last one is still going."""
        ct2 = getattr(self._model, "model", None)
        if (not self.options.alone_aside or self._behind or getattr(ct2, "num_workers", 1) < 2
                or getattr(ct2, "num_active_batches", 1) > 0
                or (self._aside_job is not None and not self._aside_job.done())):
            return None
        if self._aside is None:
            self._aside = ThreadPoolExecutor(1, thread_name_prefix="xunlu-asr-aside")
        region = Region(utt.start, end, tuple(spans))
        duration = max(self._gated.end, end) / SAMPLE_RATE
        self._aside_job = self._aside.submit(self._spare.final, audio, region, c, self._speakers[c], duration)
        self._stats["decoded_aside"] += 1
        return self._aside_job

    def _decode_region(self, c: int, utt: _Utterance, end: int, spans: list[tuple[int, int]], audio: np.ndarray,
                       context: Optional[Context] = None) -> list[Segment]:
        region = Region(utt.start, end, tuple(spans))

        def doubted(text: str) -> None:
            # the quick decode is in doubt and a slower one follows: show its text meanwhile, as unstable
            self._emit(self._on_partial, Partial(c, self._speakers[c], round(utt.onset / SAMPLE_RATE, 2),
                                                 round(end / SAMPLE_RATE, 2), text))

        return self._decoder.final(audio, region, c, self._speakers[c], max(self._gated.end, end) / SAMPLE_RATE,
                                   on_doubt=doubted if self.options.partials else None,
                                   context=context)

    def _audio(self, c: int, a: int, b: int) -> np.ndarray:
        """Gated samples [a, b) of channel c; the part past what the gate has handed out is gated as if the
        stream ended at the last sample captured."""
        if b <= self._gated.end:
            return self._gated.get(a, b)[c]
        head = self._gated.get(a, self._gated.end)[c]
        return np.concatenate([head, self._gate.preview(self._raw, b)[c]])

    # -- partials -----------------------------------------------------------------------------------
    def _maybe_partial(self) -> None:
        """At most one partial per feed: the speaking channel whose partial is oldest."""
        now = self._vad[0].pos
        interval = int(self.options.partial_interval_s * SAMPLE_RATE)
        first = int(self.options.first_partial_s * SAMPLE_RATE)
        best: Optional[int] = None
        best_tried = 0
        for c, utt in enumerate(self._utts):
            if utt is None or utt.open_start is None or self._spans[c].quiet:
                continue
            if now - utt.onset < first:
                continue
            if utt.partial_at is not None and now - utt.partial_at < interval:
                continue
            tried = -1 if utt.partial_at is None else utt.partial_at
            if best is None or tried < best_tried:
                best, best_tried = c, tried
        if best is None:
            return
        utt = self._utts[best]
        assert utt is not None
        if self._behind:
            self._stats["partials_skipped_behind"] += 1
            return
        if utt.shown and self._going_quiet(best, utt, now):
            self._stats["partials_skipped_ending"] += 1
            log.debug("partial ch%d at %.2f s skipped: the speaker is going quiet", best, now / SAMPLE_RATE)
            return
        utt.partial_at = now
        t0 = time.perf_counter()
        text = self._decoder.partial(self._gated.get(utt.start, now)[best])
        took = time.perf_counter() - t0
        self._stats["partials_decoded"] += 1
        self._stats["partial_decode_s"] += took
        log.debug("partial ch%d %.2f-%.2f s decoded in %.2f s: %r", best, utt.start / SAMPLE_RATE,
                  now / SAMPLE_RATE, took, text)
        if not text:   # nothing readable yet (a first syllable, a breath): try again 0.2 s on
            utt.partial_at = now - interval + SAMPLE_RATE // 5
        if text:
            utt.shown = True
            self._emit(self._on_partial, Partial(best, self._speakers[best], round(utt.onset / SAMPLE_RATE, 2),
                                                 round(now / SAMPLE_RATE, 2), text))

    def _going_quiet(self, c: int, utt: _Utterance, now: int) -> bool:
        """The VAD trails the input by the gate's delay and the unread part of a chunk; when the audio
        beyond it is quiet (no louder than the room, or 20 dB under the utterance's speech), the speaker has
        probably stopped and the final is due. A partial now would only delay it, unless none has shown text
        yet (a short name whose first tries read nothing): then a partial, 0.15 s of work, comes half a second
        before the final. A final may be decoded before the VAD's span has closed."""
        tail = self._raw.get(max(now, self._raw.base), self._raw.end)[c]
        if tail.shape[0] < SAMPLE_RATE // 20:
            return False
        speech = self._gated.get(max(utt.onset, self._gated.base), now)[c]
        return _quiet(_rms(tail), self._gated.get(max(utt.start, self._gated.base), now)[c], _rms(speech))

    # -- housekeeping -------------------------------------------------------------------------------
    def _emit(self, callback: Callable, item: object) -> None:
        """A failing listener is logged, never allowed to stop transcription."""
        try:
            callback(item)
        except Exception:
            log.exception("live ASR callback %r failed", getattr(callback, "__name__", callback))

    def _trim(self) -> None:
        self._raw.forget(self._gate.keep_from())
        keep = min(v.pos for v in self._vad) - self._pad - 2 * WINDOW
        for utt in self._utts:
            if utt is not None:
                keep = min(keep, utt.start)
        self._gated.forget(max(0, keep))


def replay(transcriber: Any, audio: np.ndarray, options: StreamOptions,
           chunk_s: float = 0.1) -> tuple[list[Segment], dict]:
    """The finals of a LiveTranscriber fed `audio` ((channels, n) float32 at 16 kHz) in `chunk_s` chunks as
    fast as it takes them, and its stats: what a live run over the same audio writes (`--reproduce` of a live
    transcript, bench/asr.py), in time order and numbered."""
    finals: list[Segment] = []
    live = LiveTranscriber(transcriber, options, lambda p: None, finals.append)
    frames = np.ascontiguousarray(audio.T)
    step = max(1, int(round(chunk_s * SAMPLE_RATE)))
    try:
        for k in range(0, frames.shape[0], step):
            live.feed(frames[k:k + step])
        live.finish()
    finally:
        live.close()
    ordered = sorted(finals, key=lambda s: (s.start, s.channel))
    return [replace(s, id=i) for i, s in enumerate(ordered)], live.stats
