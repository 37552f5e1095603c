"""Helpers for archive tests: a scripted transcriber (fast, deterministic) and media made with ffmpeg."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from core.transcript import Segment, Transcript, Word

from .cli import ffmpeg
from .speech import SPEECH


def scripted_transcribe(path: Path, speakers: Sequence[str]) -> Transcript:
    names = list(speakers) or [None]
    segs = (
        Segment(0, 0.5, 2.0, "你叫什么名字", (Word(0.5, 0.8, "你", 0.9), Word(0.8, 2.0, "叫什么名字", 0.9)),
                names[0], 0),
        Segment(1, 2.5, 4.0, "我叫王五", (Word(2.5, 2.8, "我", 0.9), Word(2.8, 4.0, "叫王五", 0.9)),
                names[-1], len(names) - 1),
    )
    return Transcript(language="zh", model="scripted", duration=5.0, segments=segs)


def make_wav(tmp: Path, name: str = "room.wav") -> Path:
    path = tmp / name
    ffmpeg("-i", str(SPEECH / "misc" / "stereo_diarization.wav"), "-c:a", "pcm_s16le", str(path))
    return path


def make_mp4(tmp: Path, name: str = "cam.mp4", faststart: bool = True) -> Path:
    path = tmp / name
    flags = ["-movflags", "+faststart"] if faststart else []
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=5:size=160x120:rate=10", "-i",
           str(SPEECH / "misc" / "stereo_diarization.wav"), "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", *flags, str(path))
    return path
