"""One transcription job from a file name to a Transcript: check options, probe, load the model, decode."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from asr import audio as audio_io
from asr.engine import Transcriber, check_language, collect
from asr.types import FORMATS, TranscribeOptions, TranscriptionInfo
from core.errors import OptionError
from core.transcript import Segment, Transcript


@dataclass(frozen=True)
class Job:
    input: str
    home: Path
    language: Optional[str] = "zh"
    model: str = "base"
    speakers: Sequence[str] = ()
    fmt: str = "json"
    batch_size: int = 0
    beam_size: Optional[int] = None
    device: str = "auto"
    compute_type: str = "auto"


def load_transcriber(model: str, home: Path, device: str = "auto", compute_type: str = "auto") -> Transcriber:
    from models import store

    ref = store.resolve(model, home)
    return Transcriber(store.load(ref, device, compute_type), store.label(ref, device, compute_type))


def check(job: Job) -> None:
    """Every check that needs no model, so bad input fails fast and before anything is loaded."""
    if job.fmt not in FORMATS:
        raise OptionError(f"unknown format '{job.fmt}': use one of {', '.join(FORMATS)}")
    check_language(job.language)
    if len(set(job.speakers)) != len(job.speakers):
        raise OptionError("--speakers names the same speaker twice")
    info = audio_io.probe(job.input)
    if job.speakers and len(job.speakers) != info.channels:
        raise OptionError(f"--speakers names {len(job.speakers)} speaker(s) but {job.input} has "
                          f"{info.channels} audio channel(s)")


def run_job(job: Job, on_start: Optional[Callable[[TranscriptionInfo], None]] = None,
            on_segment: Optional[Callable[[Segment], None]] = None,
            transcriber: Optional[Transcriber] = None) -> Transcript:
    check(job)
    transcriber = transcriber or load_transcriber(job.model, job.home, job.device, job.compute_type)
    options = TranscribeOptions(language=job.language, speakers=tuple(job.speakers),
                                beam_size=job.beam_size, batch_size=job.batch_size)
    segments, info = transcriber.transcribe(job.input, options)
    if on_start is not None:
        on_start(info)
    return collect(segments, info, on_segment)
