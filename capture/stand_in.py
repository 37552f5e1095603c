"""The picture while a camera is away: a plain frame a few times a second, in real time, written into the
recorder's input pipe in the camera's place until the camera is back.

Why: ffmpeg 5.1 runs its outputs in time order. It always reads next for the output stream that is furthest
behind, and when that stream's input has nothing it waits for it, so one input that sends nothing holds up
every output of that ffmpeg, the sound and its PCM tap included (no muxer or input option changes that:
`-max_interleave_delta` acts after it, the readers' `-timeout` before it). A network camera recorded by the
same ffmpeg as a separate sound source (a microphone, a sound file or stream: the recorder's pumped shape)
is therefore never left silent: from the moment its reader notices the drop (capture/reconnect.py) to the
first data of the camera's new reader, this stand-in's frames come through the same pipe, stamped on the
camera's clock (the wall clock less the reader's `wallclock_origin`). The recording shows a black picture
for the gap, the sound goes on, and the gap is recorded as before.

A room's other cameras, each recorded by its own ffmpeg (capture/cameras.py), get the same stand-in while
they are away: nothing waits on them, but their originals must show that the camera was away (a plain
picture, for as long as it was), not its last frame held through the gap.
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Optional, Protocol

from capture.procs import popen

log = logging.getLogger("xunlu.capture.stand_in")
TS_PACKET = 188
READ_BYTES = 1 << 16


class Sink(Protocol):
    """Where the stand-in's MPEG-TS goes: the recorder's input pipe, or a camera's relay (capture/cameras.py)."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class StandInOptions:
    size: str = "320x240"    # the recorder scales it to its own picture's size (its encoder keeps its size)
    rate: int = 5            # frames a second: the sound waits at most one frame for the picture
    color: str = "black"
    behind_s: float = 0.0    # its frames stamped this much before the wall clock (capture/cameras.py REPROBE_S)


def stand_in_args(start: float, opts: StandInOptions = StandInOptions()) -> list[str]:
    """ffmpeg's command line (pure): `opts.color` frames in real time, the first stamped `start` (seconds on
    the camera reader's clock), H.264 in MPEG-TS on stdout, as a camera's reader writes it."""
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-itsoffset", f"{start:.3f}", "-f", "lavfi", "-i",
            f"color=c={opts.color}:s={opts.size}:r={opts.rate},realtime",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
            "-copyts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1", "-f", "mpegts", "pipe:1"]


class StandIn:
    """`start(out)` when the camera drops, `stop()` when its data comes again (before it is written): from one
    thread that outlives the stand-in's ffmpeg (capture/procs.py), the relay's. `origin`: the wall clock the
    camera's reader counts its timestamps from."""

    def __init__(self, origin: float, opts: StandInOptions = StandInOptions()):
        self.origin = origin
        self.opts = opts
        self.runs = 0                     # times it stood in
        self._proc: Optional[subprocess.Popen] = None
        self._writer: Optional[threading.Thread] = None

    @property
    def running(self) -> bool:
        return self._proc is not None

    def start(self, out: Sink) -> None:
        if self._proc is not None:
            return
        try:
            self._proc = popen(stand_in_args(time.time() - self.origin - self.opts.behind_s, self.opts),
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        except OSError as exc:
            log.warning("no stand-in picture while the camera is away: %s", exc)
            return
        self.runs += 1
        self._writer = threading.Thread(target=self._copy, args=(self._proc, out), name="stand-in", daemon=True)
        self._writer.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End it; once this returns nothing more of it is written (whole TS packets only were)."""
        proc, writer, self._proc, self._writer = self._proc, self._writer, None, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if writer is not None:
            writer.join(timeout)
        with contextlib.suppress(OSError, ValueError):
            proc.stdout.close()

    @staticmethod
    def _copy(proc: subprocess.Popen, out: Sink) -> None:
        """Its output into `out`, in whole MPEG-TS packets: the camera's data after it starts on a clean one."""
        held = b""
        try:
            while True:
                data = os.read(proc.stdout.fileno(), READ_BYTES)
                if not data:
                    return
                held += data
                whole = len(held) - len(held) % TS_PACKET
                if whole:
                    out.write(held[:whole])
                    held = held[whole:]
        except (OSError, ValueError):   # the recorder stopped reading, or the stand-in was ended
            return
