"""A network source that comes back: a camera that reboots or loses its cable mid-interview is read again,
with backoff, while the recording goes on; each gap is reported with its times.

A `Feed` runs one ffmpeg child ("the reader") that opens the source and writes what it reads to a pipe
(stream-copied MPEG-TS for the recorder, or decoded PCM for an audio pump). When no data comes for
`stall_s`, or the reader ends, the source has dropped: the reader is stopped, the listener hears of the gap
(`Gap` with `back_at` None), and new readers are started after 0.5, 1, 2, 4, 8, 8, ... s until one gets
data; the listener then hears the gap's end. RTSP cameras are tried with each transport of their setting in
turn (capture/rtsp.py). With `shift_timestamps`, each new reader's output starts at the time since the first
reader was started, so a recorder reading the pipe sees the gap as a jump in time (filled with silence and
the last picture), not as a cut; the picture and the sound of one reader keep their own timing. With
`wallclock_origin`, the reader stamps what it reads with the wall clock as it arrives (a camera's picture
put on a microphone's clock), which runs on across a gap by itself.

The recorder never sees the source itself, only the pipe: it goes on while the source is away.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Callable, Iterator, Optional

from capture.procs import popen
from capture.rtsp import Failure, explain, order
from capture.sources import MediaInput, SourceError
from capture.stand_in import StandIn

log = logging.getLogger("xunlu.capture.reconnect")
READ_BYTES = 1 << 16


@dataclass(frozen=True)
class Backoff:
    """Waits before each new try: `first`, then doubled up to `most`."""

    first: float = 0.5
    factor: float = 2.0
    most: float = 8.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(self.most, delay * self.factor)


@dataclass(frozen=True)
class FeedOptions:
    output: tuple[str, ...]             # ffmpeg's output options, ending with the output (pipe:1)
    what: str = "camera"                # in messages: "camera", "audio source"
    shift_timestamps: bool = False      # each new reader's output starts at the time since the first began
    wallclock_origin: Optional[float] = None   # else: what the reader reads is stamped with the wall clock
                                               # as it arrives, less this (seconds since the epoch)
    backoff: Backoff = field(default_factory=Backoff)
    stall_s: float = 3.0                # no data for this long: the source has dropped
    connect_s: Optional[float] = None   # a reader must bring data within this (default: NET_TIMEOUT_S + 2)
    fallback: Optional[tuple[str, ...]] = None   # output used when `output` cannot carry the source's
                                                 # streams (G.711 sound cannot be copied into MPEG-TS)


@dataclass(frozen=True)
class Gap:
    """A time when a source sent nothing. Wall-clock times (time.time())."""

    source: str                         # the source as people may see it (password masked)
    lost_at: float                      # the last data before the drop
    back_at: Optional[float] = None     # the first data after it; None: not back (yet)
    attempts: int = 0                   # readers started to get it back
    reason: str = ""                    # why the last try failed, or why it dropped
    transport: Optional[str] = None     # RTSP: the transport it came back on
    resumed_ts: Optional[float] = None  # shift_timestamps: the timestamp the data after the gap starts at

    @property
    def seconds(self) -> Optional[float]:
        return None if self.back_at is None else max(0.0, self.back_at - self.lost_at)


GapListener = Callable[[Gap], None]


class Feed:
    """One live source read by restartable ffmpeg readers; `open()` first, then iterate `chunks()`."""

    def __init__(self, source: MediaInput, options: FeedOptions, on_gap: Optional[GapListener] = None):
        self.source = source
        self.options = options
        self.on_gap = on_gap
        self.name = source.describe()
        self.transport: Optional[str] = None      # RTSP: the transport that worked last
        self.first_data_at: Optional[float] = None   # wall clock of the first data (its timestamp 0)
        self.gaps: list[Gap] = []
        self._proc: Optional[subprocess.Popen] = None
        self._errors: collections.deque[str] = collections.deque(maxlen=20)
        self._first_launch: Optional[float] = None
        self._output = options.output
        self._offset: Optional[float] = None      # the running reader's -output_ts_offset
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------------
    @property
    def lost(self) -> bool:
        return bool(self.gaps) and self.gaps[-1].back_at is None

    def open(self) -> bytes:
        """Connect and return the first data; SourceError naming the source (password masked) and what went
        wrong with each transport tried, when it cannot be reached."""
        data, failures = self._connect()
        self.first_data_at = time.time()
        if data is None:
            tried = "; ".join(f"{t}: {f.reason}" if t else f.reason for t, f in failures) or "stopped"
            raise SourceError(f"cannot reach the {self.options.what} {self.name}: {tried}", code="source_unreachable")
        return data

    def chunks(self, on_away: Optional[Callable[[bool], None]] = None) -> Iterator[bytes]:
        """Data as it comes, across drops, until `close()`. `on_away(True)` is called (from the iterating
        thread) when the source drops, `on_away(False)` when it is back, before its data, or closed."""
        last = time.time()
        while not self._stop.is_set():
            data, why = self._read(last)
            if data:
                last = time.time()
                yield data
                continue
            if self._stop.is_set():
                return
            if on_away is not None:
                on_away(True)
            data = self._come_back(last, why)
            if on_away is not None:
                on_away(False)
            if data is None:
                return
            last = time.time()
            yield data

    def close(self) -> None:
        self._stop.set()
        self._end_reader()

    # -- readers ------------------------------------------------------------------------------------
    def _launch(self, transport: Optional[str]) -> subprocess.Popen:
        from capture import sources

        now = time.time()
        if self._first_launch is None:
            self._first_launch = now
        output = list(self._output)
        stamps: list[str] = []
        self._offset = None
        if self.options.wallclock_origin is not None:   # input options: stamped on arrival, then moved
            stamps = ["-use_wallclock_as_timestamps", "1", "-itsoffset", f"{-self.options.wallclock_origin:.6f}"]
            output[-1:-1] = ["-copyts"]
        elif self.options.shift_timestamps and now > self._first_launch:
            self._offset = round(now - self._first_launch, 3)
            output[-1:-1] = ["-output_ts_offset", f"{self._offset:.3f}"]
        args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                *stamps, *self.source.input_args(transport), *output]
        self._errors.clear()
        proc = popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        threading.Thread(target=self._drain_errors, args=(proc,), name="reader-errors", daemon=True).start()
        log.debug("reader for %s started (%s, timeout %.0f s)", self.name, transport or "-", sources.NET_TIMEOUT_S)
        return proc

    def _drain_errors(self, proc: subprocess.Popen) -> None:
        from core.urls import redact

        for raw in iter(proc.stderr.readline, b""):
            line = redact(raw.decode("utf-8", "replace").strip())
            if line:
                self._errors.append(line)

    def _end_reader(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            with contextlib.suppress(OSError, ValueError):
                proc.stdout.close()

    def _connect(self) -> tuple[Optional[bytes], list[tuple[Optional[str], Failure]]]:
        """Each transport in turn until one brings data: (first data, failures before it)."""
        from capture import sources

        transports: tuple[Optional[str], ...] = order(self.source.transport, self.transport) \
            if self.source.rtsp else (None,)
        connect_s = self.options.connect_s or sources.NET_TIMEOUT_S + 2.0
        failures: list[tuple[Optional[str], Failure]] = []
        for transport in transports:
            if self._stop.is_set():
                break
            proc = self._launch(transport)
            with self._lock:
                self._proc = proc
            data = self._first_data(proc, connect_s)
            if data:
                self.transport = transport
                return data, failures
            silent = proc.poll() is None      # still waiting: nothing came in time
            self._end_reader()
            time.sleep(0.05)   # the reader's last error lines
            if self._cannot_carry() and self.options.fallback and self._output != self.options.fallback:
                self._output = self.options.fallback
                log.info("%s: its streams cannot be copied as they are; converting its sound", self.name)
                return self._connect()
            if silent and not self._errors:
                failure = Failure(f"no data within {connect_s:.0f} s", other_transport=transport is not None)
            else:
                failure = explain(list(self._errors), transport)
            failures.append((transport, failure))
            if failure.final or not failure.other_transport:
                break
        return None, failures

    def _cannot_carry(self) -> bool:
        text = " ".join(self._errors).lower()
        return "not currently supported in container" in text or "could not write header" in text

    def _first_data(self, proc: subprocess.Popen, within: float) -> Optional[bytes]:
        deadline = time.monotonic() + within
        fd = proc.stdout.fileno()
        while not self._stop.is_set() and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                data = os.read(fd, READ_BYTES)
                return data or None   # b"": the reader ended
        return None

    def _read(self, last: float) -> tuple[Optional[bytes], str]:
        """The next data; (None, why) when the source has dropped (or the feed is closed)."""
        with self._lock:
            proc = self._proc
        if proc is None:
            return None, "closed"
        fd = proc.stdout.fileno()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.25)
            except (OSError, ValueError):
                return None, "closed"
            if ready:
                try:
                    data = os.read(fd, READ_BYTES)
                except OSError:
                    data = b""
                if data:
                    return data, ""
                proc.wait()
                return None, explain(list(self._errors)).reason if self._errors else "the stream ended"
            if time.time() - last > self.options.stall_s:
                return None, f"no data for {self.options.stall_s:g} s"
        return None, "closed"

    def _come_back(self, last: float, why: str) -> Optional[bytes]:
        """After a drop: new readers, with backoff, until one brings data (None when closed first)."""
        self._end_reader()
        gap = Gap(self.name, last, reason=why)
        self._report(gap, new=True)
        log.warning("%s %s dropped (%s); reconnecting", self.options.what, self.name, why)
        for attempt, delay in enumerate(self.options.backoff.delays(), 1):
            if self._stop.wait(delay):
                return None
            data, failures = self._connect()
            if data is not None:
                gap = replace(gap, back_at=time.time(), attempts=attempt, transport=self.transport,
                              resumed_ts=self._offset)
                self._report(gap)
                log.warning("%s %s is back after %.1f s (%d tries)", self.options.what, self.name, gap.seconds,
                            attempt)
                return data
            gap = replace(gap, attempts=attempt, reason=failures[-1][1].reason if failures else gap.reason)
            self._report(gap, quiet=True)
        return None

    def _report(self, gap: Gap, new: bool = False, quiet: bool = False) -> None:
        if new:
            self.gaps.append(gap)
        else:
            self.gaps[-1] = gap
        if self.on_gap is not None and not quiet:
            try:
                self.on_gap(gap)
            except Exception:  # a listener's failure never stops the recording
                log.exception("gap listener failed")


def relay(feed: Feed, first: bytes, out: BinaryIO, stand_in: Optional[StandIn] = None) -> threading.Thread:
    """A thread copying the feed into `out` (the recorder's input pipe) until the feed is closed or the
    recorder stops reading; `out` is closed at the end (the recorder then sees the end of its input). While
    the feed is away, `stand_in` writes its picture into `out` instead (capture/stand_in.py)."""
    def away(lost: bool) -> None:
        if stand_in is not None and lost:
            stand_in.start(out)
        elif stand_in is not None:
            stand_in.stop()

    def run() -> None:
        try:
            out.write(first)
            out.flush()
            for data in feed.chunks(away):
                out.write(data)
                out.flush()
        except (OSError, ValueError):   # the recorder stopped (broken pipe) or the pipe was closed
            pass
        finally:
            if stand_in is not None:
                stand_in.stop()
            with contextlib.suppress(OSError, ValueError):
                out.close()

    thread = threading.Thread(target=run, name=f"relay-{feed.options.what}", daemon=True)
    thread.start()
    return thread

