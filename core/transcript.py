"""The transcript types (Word, Segment, Transcript) and their time format, shared by archive, asr and index.

The JSON shape is the contract of DESIGN.md: times are seconds from the first audio sample.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


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
    unintelligible: bool = False   # speech was heard here and nothing could be read ("[听不清]")

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "start": round(self.start, 2), "end": round(self.end, 2),
             "speaker": self.speaker, "channel": self.channel, "text": self.text,
             "words": [w.to_dict() for w in self.words]}
        if self.unintelligible:     # the key is on the marker segments only
            d["unintelligible"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Segment":
        return cls(id=int(d["id"]), start=float(d["start"]), end=float(d["end"]), text=str(d["text"]),
                   words=tuple(Word.from_dict(w) for w in d.get("words", ())),
                   speaker=d.get("speaker"), channel=int(d.get("channel", 0)),
                   unintelligible=d.get("unintelligible") is True)


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


def timestamp(seconds: float, sep: str = ".") -> str:
    """HH:MM:SS.mmm (WebVTT) or HH:MM:SS,mmm (SRT); hours are never omitted."""
    ms = max(0, int(round(seconds * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
