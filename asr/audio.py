"""Probe and decode any file ffmpeg can read into 16 kHz float32 audio, one row per channel."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess

import numpy as np

from asr.errors import InputError
from asr.types import AudioInfo

log = logging.getLogger("xunlu.asr.audio")
SAMPLE_RATE = 16000


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise InputError(f"{tool} is not installed: run scripts/setup.sh (or apt-get install ffmpeg)")
    return path


def check_path(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"is a directory, not a media file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read file (permission denied): {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"file is empty (0 bytes): {path}")


def probe(path: str) -> AudioInfo:
    """Describe the first audio stream of `path`; raise InputError when there is none."""
    check_path(path)
    cmd = [_require("ffprobe"), "-v", "error", "-print_format", "json", "-show_streams",
           "-show_format", path]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise InputError(f"not a media file ffmpeg can read: {path} ({reason})")
    data = json.loads(proc.stdout or "{}")
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise InputError(f"no audio stream in {path}")
    stream = audio[0]
    duration = _float(stream.get("duration")) or _float(data.get("format", {}).get("duration"))
    return AudioInfo(path=path, duration=duration or 0.0, channels=int(stream.get("channels") or 1),
                     sample_rate=int(stream.get("sample_rate") or 0),
                     codec=str(stream.get("codec_name", "")))


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def decode(path: str, channels: int) -> np.ndarray:
    """Decode the first audio stream to float32 at 16 kHz, shape (channels, samples)."""
    cmd = [_require("ffmpeg"), "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0",
           "-ac", str(channels), "-ar", str(SAMPLE_RATE), "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        reason = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["unknown error"])[-1]
        raise InputError(f"cannot decode audio of {path}: {reason}")
    pcm = np.frombuffer(proc.stdout, dtype=np.float32)
    usable = len(pcm) - len(pcm) % channels
    if usable == 0:
        raise InputError(f"no audio samples could be decoded from {path}")
    return pcm[:usable].reshape(-1, channels).T.copy()


def load(path: str) -> tuple[AudioInfo, np.ndarray]:
    """Probe and decode; the info's duration is the decoded length (exact, not the header's)."""
    info = probe(path)
    audio = decode(path, info.channels)
    exact = audio.shape[1] / SAMPLE_RATE
    info = AudioInfo(info.path, exact, info.channels, info.sample_rate, info.codec)
    log.debug("decoded %s: %.2f s, %d channel(s)", path, exact, info.channels)
    return info, audio
