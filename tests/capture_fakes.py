"""A stand-in for asr.stream.LiveTranscriber in capture tests that need no model: every burst of sound
(a beep) becomes one final segment with its true start and end, so times can be checked exactly."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from asr.types import Segment, Word

RATE = 16000
HOP = 160  # 10 ms


@dataclass(frozen=True)
class FakePartial:
    channel: int
    speaker: Optional[str]
    start: float
    end: float
    text: str


class BeepStream:
    def __init__(self, language, channels, speakers, on_partial, on_final, threshold=0.05, gap_s=0.3,
                 delay_per_feed=0.0):
        self.channels = channels
        self.speakers = tuple(speakers)
        self.on_partial, self.on_final = on_partial, on_final
        self.threshold, self.gap = threshold, int(gap_s * RATE / HOP)
        self.delay = delay_per_feed
        self.fed = 0            # frames
        self.hops = 0
        self.carry = np.zeros((0, channels), dtype=np.float32)
        self.open: Optional[list] = None   # [start_hop, last_loud_hop, channel energies]
        self.next_id = 0
        self.feeds = []         # sizes of feed() calls, to check they are consecutive
        self.finished = False

    @property
    def processed(self) -> float:
        return self.fed / RATE

    def feed(self, pcm: np.ndarray) -> None:
        assert pcm.dtype == np.float32 and pcm.ndim == 2 and pcm.shape[1] == self.channels
        assert not self.finished
        self.feeds.append(len(pcm))
        if self.delay:
            time.sleep(self.delay)
        data = np.concatenate([self.carry, pcm])
        n = len(data) // HOP
        for k in range(n):
            frame = data[k * HOP:(k + 1) * HOP]
            rms = np.sqrt((frame ** 2).mean(axis=0))
            h = self.hops + k
            if rms.max() > self.threshold:
                if self.open is None:
                    self.open = [h, h, np.zeros(self.channels)]
                self.open[1] = h
                self.open[2] += rms
                ch = int(np.argmax(self.open[2]))
                self.on_partial(FakePartial(ch, self._speaker(ch), self.open[0] * HOP / RATE,
                                            (h + 1) * HOP / RATE, "嘀…"))
            elif self.open is not None and h - self.open[1] > self.gap:
                self._emit()
        self.hops += n
        self.carry = data[n * HOP:]
        self.fed += len(pcm)

    def _speaker(self, ch: int) -> Optional[str]:
        return self.speakers[ch] if ch < len(self.speakers) else None

    def _emit(self) -> None:
        start_h, last_h, energy = self.open
        ch = int(np.argmax(energy))
        start, end = start_h * HOP / RATE, (last_h + 1) * HOP / RATE
        self.on_final(Segment(id=self.next_id, start=start, end=end, text="嘀", speaker=self._speaker(ch),
                              channel=ch, words=(Word(start, end, "嘀", 0.9),)))
        self.next_id += 1
        self.open = None

    def finish(self) -> None:
        if self.open is not None:
            self._emit()
        self.finished = True


def beep_stream(**kwargs):
    def make(language, channels, speakers, on_partial, on_final):
        make.instance = BeepStream(language, channels, speakers, on_partial, on_final, **kwargs)
        return make.instance
    return make
