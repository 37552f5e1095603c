"""The cameras of a room with several, beside the recorder's own: each in its own ffmpeg, writing ~1 s HLS
segments of its picture alone into `live/<role>/` (role video2, video3, ...), so that a camera that drops
holds up neither the sound nor the other cameras.

One clock: every camera's frames are placed on the recording's audio clock (t0, the wall-clock time of its
first audio sample) exactly as the recorder places its own camera's: a network camera's frames are stamped
with the wall clock as they arrive (capture/reconnect.py, `wallclock_origin`), a local camera's by ffmpeg as
it reads them, a file's or test source's first frame by the wall clock, less t0 and the camera's own delay.
Two cameras that see the same flash thus carry it at the same time, give or take their own latencies.

A network camera is connected before the recording starts (one that cannot be reached fails the session,
naming it) and reconnected with backoff when it drops, as the recorder's own; while it is away a plain
black picture stands in for it (capture/stand_in.py, stamped on the same clock), so that its original shows
the gap as the first camera's does, for as long as it lasted, rather than its last frame held; until t0 is
known what it sends is kept in memory. Segments are joined with the recording's sound into the camera's original when the
session is closed (capture/segments.py `join_camera`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from capture.procs import interrupt, popen
from capture.reconnect import Feed, Gap
from capture.sources import Camera
from capture.stand_in import StandIn, StandInOptions

log = logging.getLogger("xunlu.capture.cameras")
PLAYLIST = "index.m3u8"
BUFFER_BYTES = 64 << 20       # what a camera may send before the recording's clock starts
# each frame keeps the time it arrived at, to the millisecond: in the encoder's default time base (1/frame
# rate) two cameras' frames would be moved onto a 40 ms grid, each its own
FINE_TIME = ("-enc_time_base:v", "1:1000")
# a camera that comes back: its new reader's first frames carry the times they arrived at while it probed the
# stream, up to about this long before its first data comes out and the stand-in stops; the stand-in's frames
# are stamped this much earlier so that they end before the camera's first frame rather than covering it
REPROBE_S = 1.0


def camera_dir(live_dir: Path, role: str) -> Path:
    """Where a camera's live segments are written (`live/video2/`)."""
    return Path(live_dir) / role


def camera_args(camera: Camera, opts, t0: float, out_dir: Path, relay_fd: Optional[int] = None,
                relay_origin: float = 0.0) -> list[str]:
    """The camera's ffmpeg command line (pure): its picture alone, on the audio clock, H.264 in HLS segments
    cut where the recorder cuts its own (`opts`: capture.recorder.RecorderOptions)."""
    from capture.recorder import relayed_input, video_filter

    live = camera.source.kind not in ("file", "lavfi")
    args = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning", "-y"]
    origin = t0
    if relay_fd is not None:      # stamped by the reader on arrival, less relay_origin
        args += relayed_input(relay_fd)
        origin = t0 - relay_origin
    else:
        if live:
            args += ["-use_wallclock_as_timestamps", "1"]
        args += camera.source.input_args()
    if live:
        args += ["-copyts"]
    vf = video_filter(replace(opts, video_delay=camera.delay, clock=False), 0.0, origin, live)
    vf = vf.replace(",", r",select=gte(t\,0),", 1)   # frames from before the recording's first sample
    gop = opts.segment_seconds
    return args + ["-map", "0:v:0", "-an", "-vf", vf,
                   "-c:v", "libx264", "-preset", opts.preset, "-tune", "zerolatency", "-crf", "23",
                   "-force_key_frames", f"expr:gte(t,n_forced*{gop:g})", "-sc_threshold", "0", "-fps_mode", "vfr",
                   *FINE_TIME, "-f", "hls", "-hls_time", f"{gop:g}", "-hls_playlist_type", "event",
                   "-hls_flags", "independent_segments+append_list+temp_file", "-hls_segment_type", "mpegts",
                   "-hls_segment_filename", str(out_dir / "seg%05d.ts"), str(out_dir / PLAYLIST)]


class _Buffered:
    """Copies a feed into a pipe, keeping what comes in memory until the pipe is given (`attach`). While the
    camera is away, `stand_in` writes its plain picture in the camera's place (capture/stand_in.py), on the
    same clock: the camera's original shows that it was away, not its last frame held for the gap."""

    def __init__(self, feed: Feed, first: bytes, stand_in: Optional[StandIn] = None):
        self.feed = feed
        self.stand_in = stand_in
        self._held = [first]
        self._size = len(first)
        self._out: Optional[BinaryIO] = None
        self._lock = threading.Lock()
        self.overflowed = False
        threading.Thread(target=self._run, name=f"camera-relay-{feed.name[:20]}", daemon=True).start()

    def attach(self, out: BinaryIO) -> None:
        with self._lock:
            self._out = out

    def write(self, data: bytes) -> None:
        """The camera's data or the stand-in's, into the pipe once given, else kept (up to BUFFER_BYTES)."""
        with self._lock:     # one writer at a time: the stand-in's packets never cut into the camera's
            if self._out is None:
                if self._size + len(data) <= BUFFER_BYTES:
                    self._held.append(data)
                    self._size += len(data)
                else:
                    self.overflowed = True
                return
            for chunk in self._held:
                self._out.write(chunk)
            self._held = []
            self._out.write(data)

    def _away(self, lost: bool) -> None:
        if self.stand_in is not None and lost:
            self.stand_in.start(self)
        elif self.stand_in is not None:
            self.stand_in.stop()

    def _run(self) -> None:
        try:
            for data in self.feed.chunks(self._away):
                self.write(data)
        except (OSError, ValueError):   # the camera's ffmpeg stopped reading
            pass
        finally:
            if self.stand_in is not None:
                self.stand_in.stop()
            with self._lock:
                out = self._out
            if out is not None:
                with contextlib.suppress(OSError, ValueError):
                    out.close()


@dataclass
class CameraStats:
    role: str
    name: str
    transport: Optional[str]
    gaps: int
    error: Optional[str]


class CameraRecorder:
    """One camera beside the recorder's: `connect()` (from the recorder's thread), `start(t0_of, done)` runs
    its ffmpeg in its own thread once the clock is known, `stop()` ends it."""

    def __init__(self, camera: Camera, opts, on_gap: Callable[[Gap], None]):
        self.camera = camera
        self.opts = opts
        self.on_gap = on_gap
        self.out_dir = camera_dir(opts.live_dir, camera.role)
        self.feed: Optional[Feed] = None
        self.error: Optional[str] = None
        self._relay: Optional[_Buffered] = None
        self._origin = 0.0
        self._proc: Optional[subprocess.Popen] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.stopped = threading.Event()

    def connect(self) -> None:
        """A network camera: connect now (SourceError naming it when it cannot be reached)."""
        from capture.recorder import network_feed

        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.camera.source.kind != "url":
            return
        self._origin = float(int(time.time()) - 60)   # before any frame: the stamps stay small and positive
        self.feed = network_feed(self.camera.source, ("0:v:0",), self.opts.stall_s, self.on_gap,
                                 wallclock_origin=self._origin)
        first = self.feed.open()
        self._relay = _Buffered(self.feed, first, StandIn(self._origin, StandInOptions(behind_s=REPROBE_S)))

    def start(self, t0_of: Callable[[], Optional[float]], done: threading.Event) -> None:
        self._thread = threading.Thread(target=self._run, args=(t0_of, done), daemon=True,
                                        name=f"camera-{self.camera.role}")
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        if self.feed is not None:
            self.feed.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def stats(self) -> CameraStats:
        feed = self.feed
        return CameraStats(self.camera.role, self.camera.name, feed.transport if feed else None,
                           len(feed.gaps) if feed else 0, self.error)

    def _run(self, t0_of: Callable[[], Optional[float]], done: threading.Event) -> None:
        """Launch the camera's ffmpeg once t0 is known and keep this thread alive as long as it runs (its
        death signal follows the thread that started it: capture/procs.py)."""
        try:
            t0 = None
            while t0 is None and not self._stop.wait(0.02) and not done.is_set():
                t0 = t0_of()
            if t0 is None:
                return
            read_fd = write_end = None
            if self._relay is not None:
                read_fd, write_end = os.pipe()
            args = camera_args(self.camera, self.opts, t0, self.out_dir, read_fd, self._origin)
            with open(self.out_dir / "ffmpeg.log", "ab") as log_file:
                try:
                    self._proc = popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                                       pass_fds=(read_fd,) if read_fd is not None else ())
                finally:
                    if read_fd is not None:
                        os.close(read_fd)
                if write_end is not None:
                    self._relay.attach(os.fdopen(write_end, "wb", buffering=0))
                while self._proc.poll() is None and not self._stop.wait(0.2):
                    pass
                if self._proc.poll() is not None and not self._stop.is_set():
                    self.error = f"the camera's recorder stopped (exit {self._proc.returncode})"
                    log.error("%s %s: %s", self.camera.role, self.camera.source.describe(), self.error)
                if self.feed is not None:
                    self.feed.close()       # its pipe ends: ffmpeg never waits on a camera that is away
                interrupt(self._proc)
        except Exception as exc:  # a camera's failure never stops the recording
            log.exception("camera %s failed", self.camera.role)
            self.error = f"camera recorder failed: {exc}"
        finally:
            self.stopped.set()
