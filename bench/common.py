"""What the benchmarks share: the checkout and speech-clip paths, progress lines on stderr, the shared
speech manifest, 16 kHz WAV files, the model home, and small figures (percentages, percentiles, overlaps)."""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH_DIR = Path(os.environ.get("XUNLU_SPEECH_DIR") or (ROOT.parent / "shared" / "speech"))
SR = 16000
FRAME_10MS = SR // 100


# -- progress -----------------------------------------------------------------------------------------------
def make_log(tag: str, clock: bool = True) -> Callable[[str], None]:
    """A progress printer for stderr: `[tag HH:MM:SS] msg`, or `[tag] msg` without the clock."""

    def log(msg: str) -> None:
        stamp = f" {time.strftime('%H:%M:%S')}" if clock else ""
        print(f"[{tag}{stamp}] {msg}", file=sys.stderr, flush=True)

    return log


# -- the shared speech clips --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One row of SPEECH_DIR/manifest.tsv."""
    file: str
    language: str
    reference: str
    duration: float

    @property
    def path(self) -> Path:
        return SPEECH_DIR / self.file


def manifest() -> list[Row]:
    with open(SPEECH_DIR / "manifest.tsv", encoding="utf-8", newline="") as f:
        return [Row(r["file"], r["language"], r["reference"], float(r["duration_s"]))
                for r in csv.DictReader(f, delimiter="\t")]


def require_speech(ap: argparse.ArgumentParser, name: str = "manifest.tsv") -> None:
    """Stop with a usage error unless SPEECH_DIR has `name` (a file; a folder when it ends with "/")."""
    path = SPEECH_DIR / name
    if not (path.is_dir() if name.endswith("/") else path.is_file()):
        ap.error(f"no {name} in {SPEECH_DIR} (set XUNLU_SPEECH_DIR)")


# -- 16 kHz WAV files ---------------------------------------------------------------------------------------
def read_pcm16(path: Path) -> np.ndarray:
    """16 kHz int16 mono WAV -> int16 (n,). The shared aishell/ and misc zh clips are all of this shape."""
    with wave.open(str(path)) as w:
        if w.getframerate() != SR or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16 kHz 16-bit mono")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def read_wav(path: Path) -> np.ndarray:
    """16 kHz int16 mono WAV -> float32 (n,) in [-1, 1)."""
    return read_pcm16(path).astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray) -> None:
    """(channels, n) or (n,) samples -> 16-bit PCM WAV at 16 kHz; float samples are clipped to [-1, 1] and
    scaled, integer ones written as they are."""
    x = samples if samples.ndim == 2 else samples[None, :]
    if x.dtype.kind == "f":
        x = (np.clip(x, -1.0, 1.0) * 32767.0).round()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(x.T.astype("<i2").tobytes())


def frame_rms(clip: np.ndarray) -> np.ndarray:
    """RMS of each whole 10 ms frame of a mono clip, float64 (n frames,)."""
    n = clip.shape[0] // FRAME_10MS
    return np.sqrt(np.mean(clip[: n * FRAME_10MS].reshape(n, FRAME_10MS).astype(np.float64) ** 2, axis=1))


# -- the model home -----------------------------------------------------------------------------------------
def model_home(given: Optional[Path]) -> Path:
    """The xunlu home whose models a benchmark loads (made if missing): `given`, else $XUNLU_HOME, else
    <tmp>/xunlu-bench-home, so that runs share one assembled model."""
    home = given or (Path(os.environ["XUNLU_HOME"]) if os.environ.get("XUNLU_HOME")
                     else Path(tempfile.gettempdir()) / "xunlu-bench-home")
    home.mkdir(parents=True, exist_ok=True)
    return home


# -- figures ------------------------------------------------------------------------------------------------
def pct(errors: int, total: int) -> float:
    """errors / total as a percentage with 2 decimals (NaN when total is 0)."""
    return round(100.0 * errors / total, 2) if total else float("nan")


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """The p-th percentile (0-100) with linear interpolation between ranks; None when there are no values."""
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """Seconds that [a0, a1] and [b0, b1] share."""
    return max(0.0, min(a1, b1) - max(a0, b0))


# -- spoken digit strings -----------------------------------------------------------------------------------
# The shared clips hold two sentences with digits read one by one (years: 二零一五, 二零一六); each interview
# gets both. (espeak-ng's Mandarin voice and digits cut out of these sentences and spliced into phone numbers
# were tried: Whisper base reads neither, whatever decodes it.)
DIGIT_SENTENCES = ("aishell/BAC009S0150W0276.wav", "aishell/BAC009S0150W0331.wav")
_CN_DIGITS = "零〇一二三四五六七八九幺"


def digit_runs(reference: str, min_len: int = 3) -> list[str]:
    """The runs of digits read one by one in a reference (characters), as Arabic digits: "最早于二零一五年" ->
    ["2015"]. A number said as a number (三十二, 一点二万) is not a run: 十百千万点 break it."""
    table = str.maketrans(_CN_DIGITS, "00123456789" + "1")
    runs, run = [], ""
    for ch in reference + " ":
        if ch in _CN_DIGITS:
            run += ch
            continue
        if len(run) >= min_len:
            runs.append(run.translate(table))
        run = ""
    return runs


# -- live transcription fed as fast as taken -----------------------------------------------------------------
def feed_live(transcriber, audio: np.ndarray, options, chunk_s: float = 0.1) -> tuple[list, dict]:
    """(final segments, stats) of asr.stream.LiveTranscriber over `audio` (channels, n), fed in `chunk_s`
    chunks as fast as they are taken: the finals of a real-time run (bench/live.py --cer-only), in less time."""
    from asr.stream import replay

    return replay(transcriber, audio, options, chunk_s)
