"""Read the 16 kHz PCM tap (interleaved s16le, written by ffmpeg) at the reader's own pace."""
from __future__ import annotations

from pathlib import Path

import numpy as np

TAP_RATE = 16000


class TapReader:
    def __init__(self, path: Path, channels: int):
        self.path = Path(path)
        self.channels = channels
        self.frame_bytes = 2 * channels
        self.position = 0          # frames handed out so far

    @property
    def total_frames(self) -> int:
        try:
            return self.path.stat().st_size // self.frame_bytes
        except OSError:
            return 0

    @property
    def available(self) -> int:
        return self.total_frames - self.position

    def read(self, max_frames: int) -> np.ndarray:
        """Up to `max_frames` new frames as float32 (n, channels); empty when nothing new."""
        n = min(max_frames, self.available)
        if n <= 0:
            return np.zeros((0, self.channels), dtype=np.float32)
        with open(self.path, "rb") as f:
            f.seek(self.position * self.frame_bytes)
            data = f.read(n * self.frame_bytes)
        n = len(data) // self.frame_bytes
        self.position += n
        pcm = np.frombuffer(data[: n * self.frame_bytes], dtype="<i2").astype(np.float32) / 32768.0
        return pcm.reshape(n, self.channels)
