"""The front end of live transcription: audio kept on the session clock, the crosstalk gate and Silero VAD,
run on audio as it arrives.

Each piece gives the same result as its offline counterpart in asr.vad on the same recording: the gate works
on the same 100 ms block grid and only hands out samples whose blocks (and neighbours) are complete; Silero
keeps its LSTM state and 64-sample context between calls, which reproduces the probabilities of one pass
over the whole channel exactly; the span tracker is faster-whisper's `get_speech_timestamps` loop (no
padding, no minimum length, pauses of FINE_SILENCE_MS) made incremental.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from asr.vad import BLOCK, FINE_SILENCE_MS, FRAME, SAMPLE_RATE, crosstalk_gate

WINDOW = 512          # Silero's window (32 ms)
CONTEXT = 64          # samples of the previous window Silero sees


class Tape:
    """Multi-channel audio addressed by sample index on the session clock (0 = the first sample fed).

    Appends are amortised O(1); `forget(before)` lets the oldest samples go."""

    def __init__(self, channels: int):
        self.channels = channels
        self.base = 0                       # session index of self._buf[:, 0]
        self._buf = np.zeros((channels, 1 << 16), dtype=np.float32)
        self._len = 0

    @property
    def end(self) -> int:
        return self.base + self._len

    def append(self, x: np.ndarray) -> None:
        """`x`: (channels, n) float32."""
        n = x.shape[1]
        if self._len + n > self._buf.shape[1]:
            size = self._buf.shape[1]
            while self._len + n > size:
                size *= 2
            buf = np.zeros((self.channels, size), dtype=np.float32)
            buf[:, : self._len] = self._buf[:, : self._len]
            self._buf = buf
        self._buf[:, self._len:self._len + n] = x
        self._len += n

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) of every channel (a view); a below what is kept is an error."""
        if a < self.base or b > self.end or a > b:
            raise IndexError(f"samples {a}..{b} not on the tape ({self.base}..{self.end})")
        return self._buf[:, a - self.base:b - self.base]

    def forget(self, before: int) -> None:
        drop = min(max(0, before - self.base), self._len)
        if drop < max(SAMPLE_RATE, self._len // 2):
            return  # compact rarely: copying is what costs
        self._buf[:, : self._len - drop] = self._buf[:, drop:self._len]
        self._len -= drop
        self.base += drop


class StreamGate:
    """asr.vad.crosstalk_gate over a stream. A block's gain needs the next block (one-block holes are
    closed) and the per-sample ramp reaches half a frame further, so gated audio trails the input by
    100-200 ms. With one channel the audio passes through unchanged."""

    def __init__(self, channels: int):
        self.channels = channels
        self.done = 0       # gated samples handed out so far

    def keep_from(self) -> int:
        """Oldest raw sample a later call still needs."""
        return max(0, (self.done // BLOCK - 2) * BLOCK)

    def advance(self, raw: Tape, gated: Tape, final: bool = False) -> None:
        if raw.end <= self.done:
            return
        if self.channels == 1:
            gated.append(raw.get(self.done, raw.end))
            self.done = raw.end
            return
        if final:
            b = ready = raw.end
        else:
            blocks = raw.end // BLOCK
            b = blocks * BLOCK
            ready = (blocks - 1) * BLOCK - FRAME // 2
        if ready <= self.done:
            return
        a = self.keep_from()   # two blocks of context before `done`: same block grid as offline
        out = crosstalk_gate(np.ascontiguousarray(raw.get(a, b)))
        gated.append(out[:, self.done - a:ready - a])
        self.done = ready


    def preview(self, raw: Tape, b: int) -> np.ndarray:
        """Gated samples [done, b) (b <= raw.end) as if the stream ended at raw.end: the last blocks' gains
        are decided without the blocks after them. Nothing is handed out; the state is unchanged."""
        if self.channels == 1:
            return raw.get(self.done, b)
        a = self.keep_from()
        out = crosstalk_gate(np.ascontiguousarray(raw.get(a, raw.end)))
        return out[:, self.done - a:b - a]


class SileroStream:
    """Silero speech probabilities for one channel, a window at a time, state carried between calls."""

    def __init__(self):
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self.pos = 0        # samples consumed (a multiple of WINDOW until the end)

    def advance(self, audio: np.ndarray) -> np.ndarray:
        """`audio`: this channel's samples from `pos` on; whole windows are consumed. Returns their
        probabilities (window k starts at sample pos_before + k * WINDOW)."""
        n = audio.shape[0] // WINDOW
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        windows = np.asarray(audio[: n * WINDOW], dtype=np.float32).reshape(n, WINDOW)
        previous = np.concatenate([self._context[None, :], windows[:-1, -CONTEXT:]], axis=0)
        batch = np.concatenate([previous, windows], axis=1)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = windows[-1, -CONTEXT:].copy()
        self.pos += n * WINDOW
        return np.asarray(out, dtype=np.float32).reshape(-1)[:n]

    def finish(self, audio: np.ndarray) -> np.ndarray:
        """The rest of the channel, zero-padded to whole windows exactly as the offline pass pads it."""
        pad = WINDOW - audio.shape[0] % WINDOW
        return self.advance(np.pad(np.asarray(audio, dtype=np.float32), (0, pad)))


@dataclass(frozen=True)
class SpanEvent:
    kind: str          # "start": speech began at `start`; "end": the span [start, end) closed
    start: int
    end: int = 0


class SpanTracker:
    """Raw speech spans (samples) from window probabilities, as faster-whisper's VAD loop finds them with
    speech_pad 0, no minimum speech length and pauses of FINE_SILENCE_MS."""

    def __init__(self, threshold: float = 0.5, min_silence_ms: int = FINE_SILENCE_MS):
        self.threshold = threshold
        self.neg_threshold = max(threshold - 0.15, 0.01)
        self.min_silence = SAMPLE_RATE * min_silence_ms / 1000
        self.triggered = False
        self.start = 0
        self.temp_end = 0

    @property
    def quiet(self) -> bool:
        """True while no speech is open, or the open span has gone quiet (it may be about to close)."""
        return not self.triggered or self.temp_end > 0

    def step(self, prob: float, pos: int) -> Optional[SpanEvent]:
        """One window starting at sample `pos`."""
        if prob >= self.threshold and self.temp_end:
            self.temp_end = 0
        if prob >= self.threshold and not self.triggered:
            self.triggered = True
            self.start = pos
            return SpanEvent("start", pos)
        if prob < self.neg_threshold and self.triggered:
            if not self.temp_end:
                self.temp_end = pos
            if pos - self.temp_end >= self.min_silence:
                event = SpanEvent("end", self.start, self.temp_end)
                self.triggered = False
                self.temp_end = 0
                return event
        return None

    def finish(self, length: int) -> Optional[SpanEvent]:
        """End of audio: an open span ends with the audio, as offline."""
        if not self.triggered:
            return None
        self.triggered = False
        self.temp_end = 0
        return SpanEvent("end", self.start, length)
