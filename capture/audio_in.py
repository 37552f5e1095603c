"""Audio that reaches Python before the recorder: microphones through PyAudio, or an ffmpeg decoder for an
audio source recorded beside a separate video source.

A pump never blocks its producer: PortAudio's callback only appends to a bounded queue (two minutes), and
the recorder's writer thread drains it. Frames are counted, and so are driver overflows (frames the sound
card lost before we saw them) and frames dropped because the queue was full: both should stay 0.

The pump's sample count is the recording's clock, so a source that drops must not stop it: a network audio
source is read again with backoff (capture/reconnect.py), and the time it was away is filled with silence
when it is back, so that the sound after the gap stays where the wall clock (and the picture) put it. A
sound card's own crystal is held on the wall clock as well, once the recording has its start
(`lock_clock`, capture/clock_lock.py), so that a long recording's sound does not slide off the picture.
"""
from __future__ import annotations

import logging
import queue
import subprocess
import threading
import time
from itertools import chain
from typing import Callable, Optional

import numpy as np

from capture.clock_lock import ClockLock
from capture.procs import popen
from capture.sources import MediaInput, MicInput, SourceError

log = logging.getLogger("xunlu.capture.audio")
QUEUE_SECONDS = 120.0
MIC_STALL_S = 2.0        # a microphone that gives nothing this long has dropped


class AudioPump:
    """float32 interleaved frames at `rate` with `channels`; `t0` = wall-clock time of the first frame."""

    def __init__(self, rate: int, channels: int, block: int):
        self.rate = rate
        self.channels = channels
        self.block = block
        self.frames = 0
        self.overflows = 0
        self.dropped = 0
        self.t0: Optional[float] = None
        self.error: Optional[str] = None
        self.gaps: list = []                 # capture.reconnect.Gap of each drop of the source
        self.padded = 0                      # frames of silence put in for the time the source was away
        self.clock: Optional[ClockLock] = None   # holds the sound on the wall clock once locked
        self.first = threading.Event()
        self._queue: "queue.Queue[Optional[np.ndarray]]" = queue.Queue(maxsize=max(8, int(QUEUE_SECONDS * rate
                                                                                         / block)))

    def lock_clock(self) -> None:
        """From now on `t0` stays as it is and the sound is held on the wall clock (capture/clock_lock.py):
        for a source on its own crystal (a sound card, a network encoder), over a long recording."""
        self.clock = ClockLock(self.rate)

    def _push(self, chunk: np.ndarray, latency: float = 0.0) -> None:
        arrived = time.time() - latency
        if self.clock is not None:
            chunk = self.clock.adjust(chunk, arrived)
        else:
            # The first sample's wall-clock time: a source that starts with a burst (a decoder that probed a
            # stream, a sound server's buffer) delivers old audio at once, so take the earliest the samples
            # received so far can have started, not just the first chunk's.
            start = arrived - (self.frames + self.dropped + len(chunk)) / self.rate
            if self.t0 is None or start < self.t0:
                self.t0 = start
        self.first.set()
        try:
            self._queue.put_nowait(chunk)
            self.frames += len(chunk)
        except queue.Full:
            self.dropped += len(chunk)
            log.error("the recorder is %.0f s behind; %d audio frames dropped", QUEUE_SECONDS, len(chunk))

    def _pad_to_clock(self, incoming: int, latency: float = 0.0) -> None:
        """Silence for the time the source was away: so many frames that the `incoming` ones start where
        the wall clock says (a reader's first burst holds audio from just before it arrived). Never blocks."""
        if self.t0 is None:
            return
        missing = int(round((time.time() - latency - self.t0) * self.rate)) - (self.frames + self.dropped) - incoming
        while missing > 0:
            n = min(missing, self.block)
            try:
                self._queue.put_nowait(np.zeros((n, self.channels), dtype=np.float32))
                self.frames += n
            except queue.Full:
                self.dropped += n
            self.padded += n
            missing -= n
        if self.clock is not None:   # the padding put the sound back on the wall clock: measure afresh
            self.clock.restart()

    def _end(self) -> None:
        self.first.set()
        for _ in range(10):
            try:
                self._queue.put(None, timeout=0.5)
                return
            except queue.Full:  # nobody is reading any more (the recorder died): make room for the end mark
                try:
                    dropped = self._queue.get_nowait()
                    self.dropped += 0 if dropped is None else len(dropped)
                except queue.Empty:
                    pass

    def read(self, timeout: float = 0.5) -> "np.ndarray | None | bool":
        """The next chunk (n, channels); None at the end; False when nothing came within `timeout`."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return False

    @property
    def queued_seconds(self) -> float:
        return self._queue.qsize() * self.block / self.rate

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class MicPump(AudioPump):
    """One PyAudio stream per device; two devices are merged sample by sample (one channel each)."""

    def __init__(self, mic: MicInput, block: int = 2048, stall_s: float = MIC_STALL_S,
                 on_gap: Optional[Callable] = None):
        super().__init__(mic.rate, mic.channels, block)
        self.mic = mic
        self.stall_s = stall_s
        self.on_gap = on_gap
        self._pa = None
        self._streams: list = []
        self._pending: list[list[np.ndarray]] = [[] for _ in mic.devices]
        self._lock = threading.Lock()
        self._stopped = False
        self._halt = threading.Event()
        self._last = time.monotonic()          # the latest callback
        self._resumed = False                  # reopened after a drop: pad the gap before the next chunk

    def start(self) -> None:
        self._open()
        threading.Thread(target=self._watch, name="mic-watch", daemon=True).start()

    def _open(self) -> None:
        import pyaudio

        from capture.devices import pyaudio_instance, quiet_stderr

        self._pa = pyaudio_instance()
        per_device = 1 if len(self.mic.devices) == 2 else self.mic.channels
        try:
            for k, index in enumerate(self.mic.devices):
                with quiet_stderr():
                    stream = self._pa.open(format=pyaudio.paFloat32, channels=per_device, rate=self.rate,
                                           input=True, input_device_index=index, frames_per_buffer=self.block,
                                           stream_callback=self._callback(k), start=False)
                self._streams.append(stream)
            self._last = time.monotonic()
            for stream in self._streams:
                stream.start_stream()
        except (OSError, IOError, ValueError) as exc:
            self._close()
            raise SourceError(f"cannot open microphone {self.mic.describe()}: {exc}") from exc

    def _watch(self) -> None:
        """A microphone that sends nothing for `stall_s` (unplugged, its driver stopped) is opened again with
        backoff, found again by name (its index may change); the time it was away becomes silence."""
        from dataclasses import replace as changed

        from capture.devices import resolve_mics
        from capture.reconnect import Backoff, Gap

        while not self._halt.wait(0.25):
            quiet = time.monotonic() - self._last
            if quiet < self.stall_s:
                continue
            gap = Gap(self.mic.describe(), time.time() - quiet, reason=f"no sound for {self.stall_s:g} s")
            self.gaps.append(gap)
            self._tell(gap)
            log.warning("microphone %s stopped sending; opening it again", self.mic.describe())
            self._close()
            for attempt, delay in enumerate(Backoff().delays(), 1):
                if self._halt.wait(delay):
                    return
                try:
                    found = resolve_mics("+".join(self.mic.names), channels=self.channels)
                    if found.rate != self.rate:
                        raise SourceError(f"it now runs at {found.rate} Hz, not {self.rate} Hz")
                    self.mic = found
                    self._pending = [[] for _ in found.devices]
                    self._resumed = True
                    self._open()
                except SourceError as exc:
                    self._resumed = False
                    gap = changed(gap, attempts=attempt, reason=str(exc))
                    self.gaps[-1] = gap
                    continue
                came = time.monotonic() + 2.0
                while time.monotonic() < came and self._resumed and not self._halt.is_set():
                    time.sleep(0.05)
                if not self._resumed:     # its first sound came (the callback padded the gap)
                    gap = changed(gap, back_at=time.time(), attempts=attempt)
                    self.gaps[-1] = gap
                    self._tell(gap)
                    log.warning("microphone %s is back", self.mic.describe())
                    break
                self._close()

    def _tell(self, gap) -> None:
        if self.on_gap is not None:
            try:
                self.on_gap(gap)
            except Exception:
                log.exception("gap listener failed")

    def _callback(self, k: int):
        import pyaudio

        def callback(data, frame_count, time_info, status):
            if status & pyaudio.paInputOverflow:
                self.overflows += 1
            chunk = np.frombuffer(data, dtype=np.float32).reshape(frame_count, -1)
            latency = 0.0
            try:
                latency = float(time_info["current_time"] - time_info["input_buffer_adc_time"])
            except (KeyError, TypeError):
                pass
            if not 0.0 <= latency < 1.0:
                latency = 0.0
            self._last = time.monotonic()
            if self._resumed:              # the first sound after a drop: the gap as silence first
                self._pad_to_clock(len(chunk), latency)
                self._resumed = False
            if len(self._pending) == 1:
                self._push(chunk, latency)
            else:
                self._merge(k, chunk, latency)
            return (None, pyaudio.paComplete if self._stopped else pyaudio.paContinue)

        return callback

    def _merge(self, k: int, chunk: np.ndarray, latency: float) -> None:
        with self._lock:
            self._pending[k].append(chunk[:, :1])
            have = [sum(len(c) for c in p) for p in self._pending]
            n = min(have)
            if n == 0:
                return
            cols = []
            for p in self._pending:
                joined = np.concatenate(p)
                cols.append(joined[:n])
                p[:] = [joined[n:]] if len(joined) > n else []
            self._push(np.hstack(cols), latency)

    def _close(self) -> None:
        streams, self._streams = self._streams, []
        for stream in streams:
            try:
                stream.stop_stream()
                stream.close()
            except (OSError, IOError):
                pass
        if self._pa is not None:
            self._pa.terminate()
            self._pa = None

    def stop(self) -> None:
        self._stopped = True
        self._halt.set()
        self._close()
        self._end()


class DecoderPump(AudioPump):
    """ffmpeg decodes an audio source (file at real speed, URL, ffmpeg device) to raw float32 on a pipe."""

    def __init__(self, source: MediaInput, channels: int, rate: int = 48000, block: int = 2048,
                 duration: Optional[float] = None, on_gap: Optional[Callable] = None):
        super().__init__(rate, channels, block)
        self.source = source
        self.duration = duration
        self.on_gap = on_gap
        self._feed = None
        self._resumed = False
        self._proc: Optional[subprocess.Popen] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audio-decoder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.source.kind == "url":
            self._run_network()
            return
        args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *self.source.input_args()]
        if self.duration:
            args += ["-t", f"{self.duration:.3f}"]
        args += ["-map", "0:a:0", "-ac", str(self.channels), "-ar", str(self.rate), "-f", "f32le",
                 "-flush_packets", "1", "pipe:1"]
        try:
            if self._stopping.is_set():
                return
            self._proc = popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            frame_bytes = 4 * self.channels
            leftover = b""
            while True:
                data = self._proc.stdout.read1(self.block * frame_bytes) if hasattr(self._proc.stdout, "read1") \
                    else self._proc.stdout.read(self.block * frame_bytes)
                if not data:
                    break
                data = leftover + data
                usable = len(data) - len(data) % frame_bytes
                leftover = data[usable:]
                if usable:
                    self._push(np.frombuffer(data[:usable], dtype=np.float32).reshape(-1, self.channels))
            rc = self._proc.wait()
            if rc not in (0, 255) and self.frames == 0:
                err = self._proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
                self.error = f"cannot read audio from {self.source.describe()}: {(err or ['ffmpeg failed'])[-1]}"
                log.error("%s", self.error)
        except OSError as exc:
            self.error = f"cannot start ffmpeg: {exc}"
        finally:
            self._end()

    def _run_network(self) -> None:
        """A network source through a reader that reconnects it; the time it was away becomes silence."""
        from capture.reconnect import Feed, FeedOptions

        output = ("-map", "0:a:0", "-ac", str(self.channels), "-ar", str(self.rate), "-f", "f32le",
                  "-flush_packets", "1", "pipe:1")
        feed = Feed(self.source, FeedOptions(output=output, what="audio source"), self._heard)
        self._feed = feed
        frame_bytes = 4 * self.channels
        leftover = b""
        try:
            if self._stopping.is_set():
                return
            first = feed.open()
            for data in chain([first], feed.chunks()):
                if self._resumed:          # the first data after a gap
                    self._resumed = False
                    leftover = b""
                    self._pad_to_clock(len(data) // frame_bytes)
                data = leftover + data
                usable = len(data) - len(data) % frame_bytes
                leftover = data[usable:]
                if usable:
                    self._push(np.frombuffer(data[:usable], dtype=np.float32).reshape(-1, self.channels))
        except SourceError as exc:
            self.error = str(exc)
            log.error("%s", self.error)
        except OSError as exc:
            self.error = f"cannot start ffmpeg: {exc}"
        finally:
            feed.close()
            self._end()

    def _heard(self, gap) -> None:
        if gap.back_at is None:
            self.gaps.append(gap)
        else:
            self.gaps[-1] = gap
            self._resumed = True
        if self.on_gap is not None:
            self.on_gap(gap)

    def stop(self) -> None:
        from capture.procs import interrupt

        self._stopping.set()
        if self._feed is not None:
            self._feed.close()
        if self._proc is not None:
            interrupt(self._proc, timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=10)
