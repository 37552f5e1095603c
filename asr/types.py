"""Transcript types and the options object passed down the ASR pipeline.

The JSON shape is the contract of DESIGN.md: times are seconds from the first audio sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence

TEXT_FORMATS = ("json", "srt", "vtt", "txt")
FORMATS = TEXT_FORMATS + ("docx",)  # docx: the 讯问笔录, a binary file


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    p: float

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 2), "end": round(self.end, 2), "text": self.text,
                "p": round(self.p, 2)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Word":
        return cls(float(d["start"]), float(d["end"]), str(d["text"]), float(d.get("p", 0.0)))


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: Optional[str] = None
    channel: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "start": round(self.start, 2), "end": round(self.end, 2),
                "speaker": self.speaker, "channel": self.channel, "text": self.text,
                "words": [w.to_dict() for w in self.words]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Segment":
        return cls(id=int(d["id"]), start=float(d["start"]), end=float(d["end"]), text=str(d["text"]),
                   words=tuple(Word.from_dict(w) for w in d.get("words", ())),
                   speaker=d.get("speaker"), channel=int(d.get("channel", 0)))


@dataclass(frozen=True)
class Transcript:
    language: str
    model: str
    duration: float
    segments: tuple[Segment, ...]
    session: Optional[str] = None
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "language": self.language, "model": self.model,
                "duration": round(self.duration, 2), "version": self.version,
                "segments": [s.to_dict() for s in self.segments]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Transcript":
        return cls(language=d["language"], model=d["model"], duration=float(d["duration"]),
                   segments=tuple(Segment.from_dict(s) for s in d["segments"]),
                   session=d.get("session"), version=int(d.get("version", 1)))


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
