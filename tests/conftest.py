"""Shared fixtures: the shared speech clips, a home folder, the real model, and audio made in memory."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xunlu-home")
    os.environ["XUNLU_HOME"] = str(path)
    return path


@pytest.fixture(scope="session")
def transcriber(home):
    from asr.pipeline import load_transcriber

    return load_transcriber("base", home, device="cpu", compute_type="int8")


def xunlu(*args: str, home: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `xunlu` command the way a user does."""
    exe = Path(sys.executable).with_name("xunlu")
    full_env = {**os.environ, "XUNLU_HOME": str(home), **(env or {})}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=full_env)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)
