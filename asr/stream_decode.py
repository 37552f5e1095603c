"""Decoding one live utterance: final segments with word times on the session clock, or a quick partial.

faster-whisper always hands Whisper's encoder a 30 s window, padded with zeros, and an utterance is a few
seconds. CTranslate2 accepts a shorter window, and encoding only the utterance is what makes live decoding
fast enough on two cores: the encoder takes about 1.0 s for 30 s, 0.2 s for 15 s, 0.1 s for 10 s (base int8,
2 cores). Measured here on 32 shared zh clips (16 commands under 5.5 s, 16 sentences; base int8, beam 5, word
times, on 2 cores loaded by other work): a window of max(10 s, the clip + 1 s) gave CER 10.3% at 2.5 s a clip
against 10.5% at 14.9 s for the 30 s window. Windows cut at the clip + 1 s with no 10 s floor gave 14.4%:
Whisper repeated or garbled short commands. `short_window_model` gives a copy of the model object (sharing
the loaded weights) that encodes this way.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from asr import guards, vocabulary
from asr.digits import tidy_text, tidy_words
from asr.respell import respell
from asr.vad import SAMPLE_RATE, Region
from asr.windows import FRAMES_PER_S, MARGIN_FRAMES, MAX_FRAMES, MIN_FRAMES, content_frames, trim_window, with_encoder
from asr.words import ZH_PROMPT, heard_as_speech, snap_to_onsets, split_at_pauses
from core.textnorm import particle_zhe, to_simplified
from core.transcript import Segment, Word

log = logging.getLogger("xunlu.asr.stream")


class TailSkipped(Exception):
    """Raised inside a decode to stop faster-whisper before a window that holds no speech."""


def short_window_model(model: Any, min_frames: int = MIN_FRAMES) -> Any:
    """A shallow copy of a faster-whisper WhisperModel whose encoder sees only the audio it is given, plus a
    second, and never under `min_frames` (the weights, tokenizer and feature extractor are shared, not
    copied); with `min_frames` at MAX_FRAMES it encodes the padded 30 s window as usual. Other objects are
    returned as they are.

    Its `window_check`, when set, is called with each window's content frames before encoding and may
    raise TailSkipped."""
    trim = min_frames < MAX_FRAMES

    def make_encode(cls: type) -> Callable[[Any, np.ndarray], Any]:
        def encode(self: Any, features: np.ndarray) -> Any:
            check = getattr(self, "window_check", None)
            if check is not None:
                check(content_frames(features))
            return cls.encode(self, trim_window(features, min_frames) if trim else features)
        return encode

    clone = with_encoder(model, "ShortWindow" if trim else "CheckedWindow", make_encode)
    if clone is not model:
        clone.window_check = None
    return clone


TAIL_SPEECH_S = 0.6   # a later window is decoded only when the VAD heard this much speech in it
LOGPROB_MIN = -1.0     # Whisper's own fallback thresholds (faster-whisper's defaults)
COMPRESSION_MAX = 2.4
TOKENS_PER_S = 15      # a final's token budget: Mandarin runs 4-7 characters a second
DOUBT_MIN_FRAMES = 2000   # a doubted utterance is decoded again on a window of at least 20 s


def tail_check(total_frames: int, spans_s: list[tuple[float, float]]):
    """Whisper sometimes stops its first window before the audio ends (the encoder sees the utterance
    end abruptly); faster-whisper then decodes the rest as a new window, with temperature fallback, and
    turns the padding after the last word into phantom text ("OK", "这边") at a cost of seconds. A later
    window (fewer content frames than the utterance) goes ahead only when speech remains in it."""
    def check(frames: int) -> None:
        if frames >= total_frames - 2:
            return
        seek_s = (total_frames - frames) / FRAMES_PER_S
        speech = sum(max(0.0, b - max(a, seek_s)) for a, b in spans_s)
        if speech < TAIL_SPEECH_S:
            raise TailSkipped
    return check


def token_budget(samples: int) -> int:
    """Tokens a decode of this much audio may write: a loop ("胡胡胡...") stops there instead of running to
    Whisper's limit, which took a greedy partial 0.9 s."""
    return min(400, int(TOKENS_PER_S * samples / SAMPLE_RATE) + 20)


@dataclass(frozen=True)
class Context:                             # a channel's last final utterance, heard again before the next
    audio: np.ndarray                      # its samples (16 kHz, one channel)
    text: str                              # what was said in them
    start_s: float                         # where they begin on the session clock


def _cjk_word(text: str) -> str:
    """A Chinese word without the leading space that Whisper writes after a prefix (its prefix is encoded
    with one: "为超生儿, 争出生"); a Latin word keeps its space."""
    rest = text.lstrip()
    return rest if rest and not rest[0].isascii() else text


def _context_words(fw_segments: list[Any], prefix: str, lead: float) -> int:
    """How many leading words of a decode after a context are the context's own: those that spell the prefix
    Whisper was made to write (faster-whisper returns them), else (a model that took no prefix) those heard
    in the context's `lead` seconds."""
    words = [w for s in fw_segments for w in s.words or ()]
    target = "".join(prefix.split())
    said = ""
    for k, w in enumerate(words):
        said += "".join(w.word.split())
        if len(said) >= len(target):
            if target and said.startswith(target):
                return k + 1
            break
    return sum(1 for _ in itertools.takewhile(lambda w: (w.start + w.end) / 2 < lead, words))


def _unheard_tail(seg: Segment) -> bool:
    """A scrap after an utterance's text that Whisper itself barely believes ("放松" at p 0.02 and 0.37 in
    the padding after a sentence): a few characters, mean word probability under 0.4. Alone, an utterance
    decoded without the context offline decoding has will still end this way."""
    if not seg.words or len(seg.text) > 3:
        return False
    return sum(w.p for w in seg.words) / len(seg.words) < 0.4


class UtteranceDecoder:
    """Turns one utterance's audio into Segments (final) or text (partial)."""

    def __init__(self, model: Any, language: Optional[str], beam_size: int = 5,
                 initial_prompt: Optional[str] = None, short_window: bool = True,
                 short_beam: tuple[int, float] = (0, 0.0), hotwords: Sequence[str] = ()):
        self.model = short_window_model(model) if short_window else None
        self.wide_model = short_window_model(model, DOUBT_MIN_FRAMES)
        self.full_model = short_window_model(model, MAX_FRAMES)
        self.language = language
        self.beam_size = beam_size
        self.short_beam = short_beam   # (beam, seconds): a decode of at most that much audio uses that beam
        prompt = initial_prompt
        if prompt is None and language == "zh":
            prompt = ZH_PROMPT
        self.hotwords = tuple(hotwords)    # the case vocabulary, listed after the prompt (asr/vocabulary.py)
        self.names = self.hotwords         # written as listed where heard as sound-alikes (asr/respell.py)
        self.base_prompt = prompt or None
        self.prompt = vocabulary.prompt(self.base_prompt, self.hotwords) or None
        self.zh = (language or "").startswith("zh")
        self.doubted = 0       # quick decodes in doubt, decoded again on a wider window

    def final(self, audio: np.ndarray, region: Region, channel: int, speaker: Optional[str],
              duration: float, on_doubt: Optional[Callable[[str], None]] = None,
              context: Optional[Context] = None, retry: Optional[str] = None) -> list[Segment]:
        """`audio`: samples region.start..region.end of the channel (session clock). Segments come with id 0,
        word times snapped to the VAD's onsets, split at long pauses, and every guard applied.
        `on_doubt(text)` is called with the quick decode's text when it is in doubt and decoded again.

        `context`: earlier speech of the channel and its text. Its audio is decoded first, with its text as
        the decoder's prefix (Whisper goes on from there, as from a sentence it wrote itself); its words are
        not returned. What else the decode writes in its audio (what the earlier final left out) comes back at
        its own time there (`_said_before`), never on this utterance's first instant.

        `retry`: the decode of an utterance that gave no text: the utterance alone on the 30 s window, with
        `retry` (the channel's earlier text, may be "") after the prompt instead of a prefix. When that gives
        no text either and the prompt lists a case vocabulary, the utterance is decoded once more without it:
        the list can make Whisper say the list back instead of the speech (dropped by the guards), and a
        vocabulary must never cost an utterance its words."""
        given = audio
        lead = context.audio.shape[0] / SAMPLE_RATE if context is not None else 0.0
        offset = region.start / SAMPLE_RATE - lead   # session time of the decoded audio's first sample
        limit = region.end / SAMPLE_RATE
        regions = (region,)
        spans_s = [(0.0, lead)] if context is not None else []
        spans_s += [(a / SAMPLE_RATE - offset, b / SAMPLE_RATE - offset) for a, b in region.spans]
        if context is not None:
            audio = np.concatenate([context.audio, audio])
        out: list[Segment] = []
        prefix = context.text if context is not None else ""
        prompt = self.prompt
        if retry is not None:
            prompt = " ".join(p for p in (self.prompt, retry) if p) or None
            fw_segments = self._run(self.full_model, np.ascontiguousarray(audio, dtype=np.float32), spans_s,
                                    temperature=0.0, prompt=prompt)
        else:
            fw_segments = self._decode_final(audio, spans_s, on_doubt, prefix)
        skip = _context_words(fw_segments, prefix, lead) if context is not None else 0
        earlier: list[Word] = []
        for fw_seg in fw_segments:
            words = []
            for w in fw_seg.words or ():
                if skip:
                    skip -= 1
                    continue
                if context is not None and (w.start + w.end) / 2 < lead:
                    # the rest of the context's audio, where the earlier final wrote less than was said: not
                    # this utterance's speech (its words would all land on its first instant), but said
                    start = round(context.start_s + w.start, 2)
                    text = _cjk_word(to_simplified(w.word)) if self.zh else w.word
                    earlier.append(Word(start, round(max(start, context.start_s + w.end), 2), text,
                                        float(w.probability)))
                    continue
                start = round(min(offset + max(w.start, lead), limit), 2)
                end = round(min(offset + max(w.start, w.end, lead), limit), 2)
                text = _cjk_word(to_simplified(w.word)) if self.zh else w.word
                words.append(Word(start, end, text, float(w.probability)))
            if context is not None and not words:
                continue
            if words and self.zh:
                words = tidy_words(words)
            if words:
                words = snap_to_onsets(words, regions)
                groups = [g for g in split_at_pauses(words, regions) if g and heard_as_speech(g, regions)]
                segments = [Segment(0, g[0].start, g[-1].end, guards.words_text(g), tuple(g), speaker, channel)
                            for g in groups]
            elif fw_seg.text.strip():
                text = fw_seg.text.strip()
                segments = [Segment(0, round(offset + fw_seg.start, 2), round(min(offset + fw_seg.end, limit), 2),
                                    tidy_text(to_simplified(text)) if self.zh else text, (), speaker, channel)]
            else:
                segments = []
            for seg in segments:
                if out and _unheard_tail(seg):
                    continue
                kept = guards.guard(seg, duration, prompt, self.hotwords)
                kept = None if kept is None else respell(kept, self.names)
                if kept is not None and kept.text:
                    out.append(kept)
        if earlier and context is not None and out:   # (an utterance of its own without text is retried)
            out = self._said_before(earlier, context, channel, speaker, duration, prompt) + out
        if out and self.hotwords:
            out = self.confirm_names(out, lambda: self.without_vocabulary().final(
                given, region, channel, speaker, duration, context=context, retry=retry))
        if not out and retry is not None and self.hotwords:
            return self.without_vocabulary().final(given, region, channel, speaker, duration, retry=retry)
        return out

    def _said_before(self, words: list[Word], context: Context, channel: int, speaker: Optional[str],
                     duration: float, prompt: Optional[str]) -> list[Segment]:
        """The words a decode after the context wrote in the context's own audio past its text: what the
        earlier final left out of its utterance (its decode stopped short), at their own times there. Not
        when they only say the context's text again, once or more (Whisper looping on its prefix: 您好，您好，…)."""
        if self.zh:
            words = tidy_words(words)
        if not words:
            return []
        seg = Segment(0, words[0].start, max(words[-1].end, words[0].start), guards.words_text(words),
                      tuple(words), speaker, channel)
        kept = guards.guard(seg, duration, prompt, self.hotwords)
        said = guards.squash(context.text)
        text = guards.squash(kept.text) if kept is not None else ""
        if not text or not said or text in said * (len(text) // len(said) + 2):
            return []
        return [kept]

    def confirm_names(self, segments: list[Segment], again: Callable[[], list[Segment]]) -> list[Segment]:
        """`segments` with each one that is a single listed name and nothing else confirmed: `again()` decodes
        the same audio without the list, and the name stays where that decode heard it too (as spelled, or as
        a sound-alike that asr/respell.py writes as listed); else what that decode wrote there takes its place.
        A short reply (成都) decoded after the list can come out as the list's first name (龙耀): Whisper goes on
        from its prompt where it hears little, and one listed word is kept as speech (asr/guards.py), so the
        list would write a name that was never said. So can a short number: 张伟2026-2015 for 二零一六 二零一五,
        after a list that ends with the case number DEMO-2026-001 (the demo's), where the decode without the
        list wrote 2016、2015; such a segment (asr/guards.py `said_back`) is confirmed the same way.
        `segments` itself when none is in doubt."""
        doubted = [(s, items) for s in segments if (items := guards.said_back(s.text, self.hotwords))]
        if not doubted:
            return segments
        plain = again()
        heard = guards.squash("".join(s.text for s in plain))
        unheard = [s for s, items in doubted if any(guards.squash(item) not in heard for item in items)]
        kept = [s for s in segments if s not in unheard]

        def under(p: Segment, segs: list[Segment]) -> bool:
            return any(p.start < s.end and p.end > s.start for s in segs)

        for seg in unheard:
            log.debug("%.2f-%.2f s: %r not heard without the list; what that decode heard stands", seg.start, seg.end, seg.text)
        out = kept + [p for p in plain if under(p, unheard) and not under(p, kept)]
        return sorted(out, key=lambda s: (s.start, s.end))

    def without_vocabulary(self) -> "UtteranceDecoder":
        """The same decoder (the same model objects) with the case vocabulary left out of its prompt (its
        names are still written as listed where heard)."""
        import copy

        plain = copy.copy(self)
        plain.hotwords = ()
        plain.prompt = self.base_prompt
        return plain

    def _decode_final(self, audio: np.ndarray, spans_s: list[tuple[float, float]],
                      on_doubt: Optional[Callable[[str], None]] = None, prefix: str = "") -> list[Any]:
        """faster-whisper segments of one utterance (times from the start of `audio`).

        First the short window at temperature 0 only (fast). When Whisper doubts that result by its own
        measures (a window with mean log-probability under -1 or compression ratio over 2.4, or nothing from
        half a second of speech), the utterance is decoded again at temperature 0 on a wider window: at least
        20 s, or offline's 30 s window when the utterance already fills 20 s. On the 28 shared clips under
        3 s, decoded alone (base int8, beam 5, 2 cores): CER 33.3% on a 20 s window in 0.41 s a clip, 32.1%
        on 30 s in 0.76 s, 33.3% on 10 s in 0.24 s; one clip was doubted on 10 s and none on 20 s; live
        waits for this second decode, so its cost is latency. Offline would go on sampling at higher
        temperatures while Whisper still doubts; live does not, since each try costs most of a second; nor
        does it drop the quick decode's text for nothing."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if self.model is None:   # the 30 s window only (bench/live.py --full-window): as offline, fallback too
            return self._run(self.full_model, audio, spans_s, temperature=None, prefix=prefix)
        out = self._run(self.model, audio, spans_s, temperature=0.0, prefix=prefix)
        speech = sum(b - a for a, b in spans_s)
        doubtful = any(s.avg_logprob < LOGPROB_MIN or s.compression_ratio > COMPRESSION_MAX for s in out) \
            or (not out and speech >= 0.5)
        if not doubtful:
            return out
        self.doubted += 1
        frames = audio.shape[0] * FRAMES_PER_S // SAMPLE_RATE + MARGIN_FRAMES
        wider = self.wide_model if frames < DOUBT_MIN_FRAMES else self.full_model
        log.debug("short-window decode doubted (%s); decoding again on the %s window",
                  [(round(s.avg_logprob, 2), round(s.compression_ratio, 2)) for s in out],
                  "20 s" if wider is self.wide_model else "30 s")
        text = self._readable("".join(s.text for s in out))
        if prefix and text.startswith(prefix):
            text = text[len(prefix):].strip()
        if text and on_doubt is not None:
            on_doubt(text)
        again = self._run(wider, audio, spans_s, temperature=0.0, prefix=prefix)
        return again or out

    def _run(self, model: Any, audio: np.ndarray, spans_s: list[tuple[float, float]],
             temperature: Optional[float], prefix: str = "", prompt: Optional[str] = None) -> list[Any]:
        checkable = hasattr(model, "window_check")
        if checkable:
            model.window_check = tail_check(audio.shape[0] // (SAMPLE_RATE // FRAMES_PER_S), spans_s)
        extra = {} if temperature is None else {"temperature": temperature}
        if prefix and checkable:   # another model decodes the context's words too; final() drops them
            extra["prefix"] = prefix
        budget = token_budget(audio.shape[0])
        prompt = prompt or self.prompt
        extra.update(vocabulary.barred(model, prompt))
        out: list[Any] = []
        try:
            raw, _ = model.transcribe(
                audio, language=self.language, beam_size=self._beam(audio.shape[0]), word_timestamps=True,
                vad_filter=False, initial_prompt=prompt, condition_on_previous_text=False,
                max_new_tokens=budget, **extra)
            for fw_seg in raw:
                out.append(fw_seg)
        except TailSkipped:
            pass
        finally:
            if checkable:
                model.window_check = None
        return out

    def _beam(self, samples: int) -> int:
        """The final's beam: the short beam for a decode of at most its seconds of audio, else beam_size."""
        beam, seconds = self.short_beam
        return beam if beam and samples <= seconds * SAMPLE_RATE else self.beam_size

    def partial(self, audio: np.ndarray) -> str:
        """Greedy text of an utterance still being spoken, without timestamps; '' when nothing usable."""
        raw, _ = (self.model or self.full_model).transcribe(
            np.ascontiguousarray(audio, dtype=np.float32), language=self.language, beam_size=1, best_of=1,
            temperature=0.0, without_timestamps=True, word_timestamps=False, vad_filter=False,
            initial_prompt=self.prompt, condition_on_previous_text=False,
            max_new_tokens=token_budget(audio.shape[0]), **vocabulary.barred(self.full_model, self.prompt))
        return self._readable("".join(s.text for s in raw))

    def _readable(self, text: str) -> str:
        """Text fit to show as a partial: Simplified, loops collapsed; '' for a known phantom phrase."""
        # a greedy decode cut short can end inside a character's bytes: U+FFFD, dropped as in the guards
        text = text.replace(guards.BROKEN, "").strip()
        if self.zh:
            text = particle_zhe(to_simplified(text))
        text = guards.collapse_text_repeats(text)
        if not text or guards.is_hallucination(text):
            return ""
        return text
