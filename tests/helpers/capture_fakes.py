"""A stand-in for asr.stream.LiveTranscriber in capture tests that need no model: every burst of sound
(a beep) becomes one final segment with its true start and end, so times can be checked exactly."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.transcript import Segment, Word

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
                 delay_per_feed=0.0, hold_gil_s=0.0, hang_once=None):
        self.channels = channels
        self.speakers = tuple(speakers)
        self.on_partial, self.on_final = on_partial, on_final
        self.threshold, self.gap = threshold, int(gap_s * RATE / HOP)
        self.delay = delay_per_feed
        self.hold_gil = hold_gil_s   # each final "decodes" this long without letting another thread run
        self.hang_once = hang_once   # a path: after the second final, hang for good, once (the path marks it)
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

    @property
    def settled(self) -> float:
        """As LiveTranscriber.settled: no final still to come starts before this."""
        return (self.open[0] if self.open is not None else self.hops) * HOP / RATE

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
        if self.hold_gil:   # a C call that keeps the GIL (ctypes.PyDLL does not release it), as a decode may
            import ctypes

            ctypes.PyDLL(None).usleep(int(self.hold_gil * 1e6))
        start_h, last_h, energy = self.open
        ch = int(np.argmax(energy))
        start, end = start_h * HOP / RATE, (last_h + 1) * HOP / RATE
        self.on_final(Segment(id=self.next_id, start=start, end=end, text="嘀", speaker=self._speaker(ch),
                              channel=ch, words=(Word(start, end, "嘀", 0.9),)))
        self.next_id += 1
        self.open = None
        if self.hang_once and self.next_id == 2 and not os.path.exists(self.hang_once):
            open(self.hang_once, "w").close()
            time.sleep(3600)

    def finish(self) -> None:
        if self.open is not None:
            self._emit()
        self.finished = True


def beep_stream(**kwargs):
    def make(language, channels, speakers, on_partial, on_final, hotwords=()):
        make.hotwords = tuple(hotwords)
        make.instance = BeepStream(language, channels, speakers, on_partial, on_final, **kwargs)
        return make.instance
    return make


# -- PulseAudio: a null sink whose monitor stands in for a microphone ------------------------------------
SINK = "xunlu_test"


def ensure_pulse(sink: str = SINK) -> Optional[str]:
    """Make sure a PulseAudio daemon runs with a null sink called `sink`; returns None when ready, else why
    not. A daemon is started when none answers (as root too: a per-user daemon, not --system)."""
    import shutil
    import subprocess

    if not shutil.which("pulseaudio") or not shutil.which("pactl") or not shutil.which("paplay"):
        return "pulseaudio and pulseaudio-utils are not installed (apt-get install pulseaudio pulseaudio-utils)"

    def pactl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=20)

    if pactl("info").returncode != 0:
        started = subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit", "-n",
                                  "--load=module-native-protocol-unix", "--load=module-always-sink"],
                                 capture_output=True, text=True, timeout=30)
        for _ in range(50):
            if pactl("info").returncode == 0:
                break
            time.sleep(0.1)
        else:
            return f"could not start a pulseaudio daemon: {started.stderr.strip()[-300:]}"
    sinks = pactl("list", "short", "sinks").stdout
    if sink not in sinks.split():
        loaded = pactl("load-module", "module-null-sink", f"sink_name={sink}", "rate=48000", "channels=2")
        if loaded.returncode != 0:
            return f"could not load a null sink: {loaded.stderr.strip()}"
    return None


def remove_sink(sink: str) -> None:
    import subprocess

    modules = subprocess.run(["pactl", "list", "short", "modules"], capture_output=True, text=True).stdout
    for line in modules.splitlines():
        if f"sink_name={sink}" in line:
            subprocess.run(["pactl", "unload-module", line.split()[0]], capture_output=True)


def play(path, sink: str = SINK):
    """paplay a WAV into the null sink (in the background); returns the process."""
    import subprocess

    return subprocess.Popen(["paplay", f"--device={sink}", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


# -- a synthetic source that beeps and flashes at known times ----------------------------------------
def beep_flash_file(path, seconds: float = 8.0, period: float = 2.0, first: float = 1.0, rate: int = 48000,
                    size: str = "320x240", fps: int = 25):
    """Black video that flashes white for 2 frames and a 1 kHz beep for 60 ms at first, first+period, ...
    Returns the true event times."""
    import subprocess

    off = first % period
    cond = f"between(mod(t-{off}\\,{period})\\,0\\,0.079)"
    acond = f"between(mod(t-{off}\\,{period})\\,0\\,0.06)"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"color=c=black:s={size}:r={fps},drawbox=t=fill:c=white:enable='{cond}'",
                    "-f", "lavfi", "-i", f"aevalsrc='if({acond}\\,0.5*sin(2*PI*1000*t)\\,0)':s={rate}:c=stereo",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps),
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    times, t = [], first
    while t < seconds - 0.1:
        times.append(round(t, 3))
        t += period
    return times


def onsets(path):
    """(flash times, beep times) found in a media file, by decoding it (PyAV)."""
    import av

    flashes, prev = [], 0.0
    with av.open(str(path)) as c:
        if c.streams.video:
            for f in c.decode(video=0):
                m = float(f.to_ndarray(format="gray").mean())
                if m > 128 >= prev:
                    flashes.append(float(f.time))
                prev = m
    chunks, t0, sr = [], None, None
    with av.open(str(path)) as c:
        for f in c.decode(audio=0):
            a = f.to_ndarray()
            a = a[0] if f.format.is_planar else a.reshape(-1, len(f.layout.channels))[:, 0]
            if t0 is None:
                t0, sr = float(f.time), f.sample_rate
            chunks.append(a.astype(np.float32))
    sig = np.concatenate(chunks)
    loud = np.abs(sig) > 0.1
    beeps, last = [], -10.0
    for i in np.flatnonzero(loud[1:] & ~loud[:-1]) + 1:
        t = t0 + i / sr
        if t - last > 0.5:
            beeps.append(t)
        last = t
    return flashes, beeps


class BeepTranscriber:
    """An offline stand-in for asr.engine.Transcriber (recovery transcribes the tail of a recording)."""

    model_label = "beep-detector"

    def __init__(self):
        self.calls = []

    def transcribe_array(self, samples, options):
        out = []
        channels = samples.shape[0]
        self.calls.append(samples.shape)
        stream = BeepStream("zh", channels, tuple(options.speakers), lambda p: None, out.append)
        stream.feed(np.ascontiguousarray(samples.T, dtype=np.float32))
        stream.finish()
        return iter(out), None
