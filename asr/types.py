"""The options object passed down the ASR pipeline, and what it says about its input and output (the
transcript types themselves are in core.transcript).

The JSON shape is the contract of DESIGN.md: times are seconds from the first audio sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence

from core.transcript import Segment, Transcript, Word  # noqa: F401  (used in annotations below)

TEXT_FORMATS = ("json", "srt", "vtt", "txt")
FORMATS = TEXT_FORMATS + ("docx",)  # docx: the 讯问笔录, a binary file


@dataclass(frozen=True)
class TranscribeOptions:
    """Everything that shapes one transcription; built once by the caller, never mutated."""

    language: Optional[str] = "zh"          # None = detect
    speakers: Sequence[str] = ()            # names of the channels, in order
    beam_size: Optional[int] = None          # None: 5 sequential, 3 batched (asr/batched.py)
    batch_size: int = 0                     # 0 = sequential; N = faster-whisper's batched pipeline
    initial_prompt: Optional[str] = None    # None = a Simplified-Chinese prompt when language is zh
    hotwords: tuple[str, ...] = ()          # the case vocabulary, listed after the prompt (asr/vocabulary.py)
    vad_threshold: float = 0.5
    min_silence_ms: int = 2000
    speech_pad_ms: int = 400
    context_s: float = 10.0                 # a region's rest is decoded after at most this much of its own words

    # Decoding is at temperature 0 only (asr/longform.py, asr/regions.py); no option samples. Word times
    # are always snapped to the VAD's onsets and every guard applied (asr/guards.py).

    @property
    def beam(self) -> int:
        return self.beam_size or (3 if self.batch_size > 0 else 5)

    def with_(self, **changes: Any) -> "TranscribeOptions":
        return replace(self, **changes)


@dataclass(frozen=True)
class AudioInfo:
    """What ffprobe says about an input, before any decoding."""

    path: str
    duration: float
    channels: int
    sample_rate: int
    codec: str


@dataclass
class Coverage:
    """What became of the VAD's speech regions; counted as the segments are produced, complete once the
    iterator is drained. Every region ends with words or as one unintelligible segment:
    `regions == with_words + unintelligible`."""

    regions: int = 0          # speech regions the VAD found, all channels
    decoded: int = 0          # regions decoded (each once at least)
    retried: int = 0          # ... decoded again: nothing came out, or speech was left after the last word
    with_words: int = 0       # regions that have text
    unintelligible: int = 0   # regions with no text after the retry: one "[听不清]" segment each

    def as_dict(self) -> dict[str, int]:
        return {"regions": self.regions, "decoded": self.decoded, "retried": self.retried,
                "with_words": self.with_words, "unintelligible": self.unintelligible}


@dataclass(frozen=True)
class TranscriptionInfo:
    """Returned beside the lazy segment iterator; known before the first segment is produced (but for
    `coverage`, filled in as segments are produced)."""

    language: str
    language_probability: float
    duration: float
    channels: int
    speech_duration: float
    model: str
    speakers: tuple[Optional[str], ...] = field(default=())
    coverage: Coverage = field(default_factory=Coverage, compare=False)
    reproduce: Optional[dict[str, Any]] = field(default=None, compare=False)   # see asr/reproduce.py


UNINTELLIGIBLE = "[听不清]"


@dataclass(frozen=True)
class UnintelligibleSegment(Segment):
    """A speech region the VAD heard and Whisper could not read, even decoded again alone: its text is
    "[听不清]", its times the region's, no words; its JSON has `"unintelligible": true` (that segment only;
    read back by `Segment.from_dict` as a Segment with `unintelligible` set)."""

    unintelligible: bool = True


@dataclass(frozen=True)
class ReproducibleTranscript(Transcript):
    """A Transcript that says what reproduces it: the optional `reproduce` key of the transcript JSON
    (model and its SHA-256, compute type, device, library versions, every decoding and VAD option). The
    contract's keys are unchanged."""

    reproduce: Optional[dict[str, Any]] = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if self.reproduce is not None:
            d["reproduce"] = self.reproduce
        return d
