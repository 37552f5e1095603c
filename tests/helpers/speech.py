"""The shared speech clips (SPEECH, with their manifest) and audio made in memory."""
from __future__ import annotations

import csv
import os
import wave
from pathlib import Path

import numpy as np

from .cli import ROOT

SPEECH = Path(os.environ.get("XUNLU_SPEECH_DIR", ROOT.parent / "shared" / "speech"))
RATE = 16000


def manifest() -> dict[str, dict[str, str]]:
    with open(SPEECH / "manifest.tsv", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """samples: float in [-1, 1], shape (n,) or (channels, n)."""
    data = samples if samples.ndim == 2 else samples[None, :]
    pcm = (np.clip(data.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return pcm.reshape(-1, w.getnchannels()).T.copy()


def room_tone(seconds: float, seed: int = 1) -> np.ndarray:
    """Ventilation-like room tone: brown-ish noise, mains hum and a little hiss, no speech."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    brown = np.cumsum(rng.normal(0, 1, n))
    brown -= np.convolve(brown, np.ones(400) / 400, mode="same")
    brown = brown / (np.max(np.abs(brown)) + 1e-9) * 0.02
    t = np.arange(n) / RATE
    hum = 0.01 * np.sin(2 * np.pi * 50 * t) + 0.004 * np.sin(2 * np.pi * 100 * t)
    hiss = rng.normal(0, 0.003, n)
    return (brown + hum + hiss).astype(np.float32)
