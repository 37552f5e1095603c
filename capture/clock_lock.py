"""A sound card's sample count held on the system clock.

A microphone's samples come at its own crystal's rate, which is a few tens of parts per million off the
system clock that stamps the cameras' pictures (26 ppm on the bench: 1.6 ms a minute, 40 ms after 25
minutes). The recording's sound timeline is its sample count, so left alone the sound slides away from the
picture over a long interview.

The lock watches when each chunk arrives against how many samples came: the earliest arrival in each
2-second block (the one least delayed by the driver and the scheduler) gives a point of the card's lead over
the wall clock, and a straight line through those points gives its drift. The sound is then stretched or
squeezed by that drift, a frame at a time spread over a chunk (at most 2,000 ppm while catching up, far
under what an ear hears as pitch), so that the sound stays where the wall clock puts it. A drift under 2 ppm
is left alone, and so is a line steeper than 1,000 ppm: that is no crystal but a driver that lost or
repeated samples, which the overflow count reports.

`drift_ppm` and `adjusted` (frames added, negative: taken) go into the recording's audit entry.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Optional

import numpy as np

log = logging.getLogger("xunlu.capture.clock")
BLOCK_S = 2.0            # one point of the line per block: its earliest arrival
MIN_SPAN_S = 20.0        # no correction before the line spans this long
KEEP_BLOCKS = 900        # the line through the last 30 minutes
DEADBAND_PPM = 2.0       # a drift under this is the line's own noise
MAX_PPM = 1000.0         # a drift over this is no crystal's
STEP_PPM = 2000.0        # at most this many frames added or taken per frame that passes


class ClockLock:
    """Feed it each chunk as it arrives (`adjust`); it returns the chunk on the system clock."""

    def __init__(self, rate: int):
        self.rate = rate
        self.drift_ppm = 0.0               # the card's rate against the wall clock, less one, in ppm
        self.adjusted = 0                  # frames added (negative: taken) since the start, over every span
        self._start: Optional[float] = None
        self._raw = 0                      # the card's frames since the span started
        self._span_adjusted = 0            # frames added in this span
        self._points: deque[tuple[float, float]] = deque(maxlen=KEEP_BLOCKS)
        self._block_end = BLOCK_S
        self._best: Optional[tuple[float, float]] = None   # this block's (time, lead) of least delay
        self._slope = 0.0
        self._warned = False

    def restart(self) -> None:
        """A new span (the source dropped and its gap was padded from the wall clock): measure afresh."""
        self._start = None
        self._raw = 0
        self._span_adjusted = 0
        self._points.clear()
        self._block_end = BLOCK_S
        self._best = None
        self._slope = 0.0

    def adjust(self, chunk: np.ndarray, arrived: float) -> np.ndarray:
        """`chunk` (n, channels) whose last frame arrived at wall-clock time `arrived`."""
        n = len(chunk)
        if n == 0:
            return chunk
        if self._start is None:
            self._start = arrived - n / self.rate
        self._raw += n
        at = arrived - self._start
        lead = self._raw / self.rate - at          # the card's lead over the wall clock (late arrival: less)
        if self._best is None or lead > self._best[1]:
            self._best = (at, lead)
        if at >= self._block_end:
            self._points.append(self._best)
            self._best = None
            self._block_end = at + BLOCK_S
            self._fit()
        want = int(round(-self._slope * at * self.rate)) - self._span_adjusted
        if want == 0:
            return chunk
        cap = max(1, int(n * STEP_PPM * 1e-6))
        k = max(-cap, min(cap, want))
        if n + k < 2:
            return chunk
        self._span_adjusted += k
        self.adjusted += k
        return stretch(chunk, n + k)

    def _fit(self) -> None:
        points = self._points
        if len(points) < 4 or points[-1][0] - points[0][0] < MIN_SPAN_S:
            return
        xs = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        ys = np.fromiter((p[1] for p in points), dtype=np.float64, count=len(points))
        try:
            slope = float(np.polyfit(xs, ys, 1)[0])
        except (np.linalg.LinAlgError, ValueError):   # never let the sound card's callback fail over it
            return
        self.drift_ppm = round(slope * 1e6, 2)
        if abs(slope) * 1e6 > MAX_PPM:
            if not self._warned:
                log.warning("the sound card runs %.0f ppm off the system clock: not followed", slope * 1e6)
                self._warned = True
            slope = 0.0
        elif abs(slope) * 1e6 < DEADBAND_PPM:
            slope = 0.0
        self._slope = slope


def stretch(chunk: np.ndarray, frames: int) -> np.ndarray:
    """`chunk` (n, channels) resampled to `frames` frames, ends kept, by cubic (Catmull-Rom) interpolation:
    a 1 kHz tone comes out within 0.0001 of full scale, where straight lines would miss by 0.002."""
    n = len(chunk)
    at = np.linspace(0.0, n - 1, frames)
    i = np.minimum(at.astype(np.int64), n - 2)
    f = (at - i)[:, None]
    x = chunk.astype(np.float64)
    p0, p1 = x[np.maximum(i - 1, 0)], x[i]
    p2, p3 = x[i + 1], x[np.minimum(i + 2, n - 1)]
    out = p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))
    return out.astype(chunk.dtype)
