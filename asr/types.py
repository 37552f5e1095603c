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
    condition_on_previous_text: bool = False
    vad_threshold: float = 0.5
    min_silence_ms: int = 2000
    speech_pad_ms: int = 400
    snap_onsets: bool = True                # move a word that starts in silence onto the speech onset
    guard_hallucinations: bool = True

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


@dataclass(frozen=True)
class TranscriptionInfo:
    """Returned beside the lazy segment iterator; known before the first segment is produced."""

    language: str
    language_probability: float
    duration: float
    channels: int
    speech_duration: float
    model: str
    speakers: tuple[Optional[str], ...] = field(default=())
