"""A synthetic two-speaker interview (espeak-ng voices, one per channel) for demos and drills."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000

# (speaker channel, line)
SCRIPT = (
    (0, "Please state your full name for the record."),
    (1, "My name is Li Wei."),
    (0, "Where were you on the evening of August eleventh?"),
    (1, "I was at the warehouse on Harbor Road until nine o'clock."),
    (0, "Who else was at the warehouse with you?"),
    (1, "Nobody else. I was alone the whole time."),
)


class SampleError(RuntimeError):
    """espeak-ng is missing or failed."""


@dataclass(frozen=True)
class Utterance:
    channel: int
    text: str
    start: float
    end: float


def _speak(text: str, voice: str, workdir: Path) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if not exe:
        raise SampleError("espeak-ng is not installed: run scripts/setup.sh (or apt-get install espeak-ng)")
    out = workdir / "line.wav"
    subprocess.run([exe, "-v", voice, "-s", "150", "-w", str(out), text], check=True, capture_output=True)
    with wave.open(str(out)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    if rate != RATE:  # linear resampling is enough for a demo voice
        x = np.arange(0, len(pcm), rate / RATE)
        pcm = np.interp(x, np.arange(len(pcm)), pcm).astype(np.float32)
    return pcm


def make_interview(path: Path, pause_s: float = 1.2, crosstalk_db: float = -20.0) -> list[Utterance]:
    """Write a 2-channel 16 kHz WAV (officer left, suspect right, each heard faintly by the other mic)."""
    voices = ("en-us", "en-gb+m3")
    with tempfile.TemporaryDirectory() as tmp:
        lines = [(ch, text, _speak(text, voices[ch], Path(tmp))) for ch, text in SCRIPT]
    total = int((sum(len(p) for _, _, p in lines) / RATE + pause_s * (len(lines) + 1)) * RATE)
    stereo = np.zeros((2, total), dtype=np.float32)
    cursor = int(pause_s * RATE)
    utterances = []
    leak = 10 ** (crosstalk_db / 20)
    for ch, text, pcm in lines:
        stereo[ch, cursor:cursor + len(pcm)] += pcm
        stereo[1 - ch, cursor + 48:cursor + 48 + len(pcm)] += leak * pcm[: total - cursor - 48]
        utterances.append(Utterance(ch, text, cursor / RATE, (cursor + len(pcm)) / RATE))
        cursor += len(pcm) + int(pause_s * RATE)
    rng = np.random.default_rng(7)
    stereo += rng.normal(0, 10 ** (-60 / 20), stereo.shape).astype(np.float32)
    pcm16 = (np.clip(stereo.T, -1, 1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm16.tobytes())
    return utterances
