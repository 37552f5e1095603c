"""The recorder: one ffmpeg writes H.264 + AAC into ~1 s HLS segments (MPEG-TS) with a live playlist, and
a 16 kHz PCM tap of the same audio into a file that ASR reads at its own pace.

Two shapes, chosen by the capture plan:
- shared: audio and video are streams of one input (a file played live, a network camera). ffmpeg keeps
  them in sync by their timestamps; `aresample=async=1:first_pts=0` pads the audio to start at 0 and fills
  gaps, so the audio sample count is the clock.
- pumped: audio reaches Python first (microphones through PyAudio, or a separate audio source) and is
  written to ffmpeg's stdin; its sample count is the clock, and t0 = the wall-clock time of its first
  sample. A sound card's (or a network encoder's) own crystal is then held on the wall clock
  (capture/clock_lock.py), so the sample count keeps time with the pictures over hours. A live video
  source (camera, URL) has its frames stamped with the wall clock as they are read, minus t0; a file or
  test source has its first frame placed that way, then keeps its own timing.

Python never sits between ffmpeg and its outputs: the tap is a file ffmpeg flushes packet by packet, and
ASR falling behind cannot slow the recording down.

A network source (a camera URL) is not opened by the recorder's ffmpeg: a reader (capture/reconnect.py)
copies its streams into a pipe the recorder reads, and is restarted with backoff when the camera drops. The
recorder goes on meanwhile: in the pumped shape the sound never stops and a plain black picture stands in
for the camera until it is back (capture/stand_in.py: an input that sends nothing would hold up all of
ffmpeg's outputs, the sound included); in the shared shape each new reader's timestamps continue from the time since the first began, so the
gap is filled with silence and the last frame, and picture and sound stay in step on either side of it.
`on_gap(SourceGap)` hears when a source drops and when it is back, with the gap's times in the recording.

A room's other cameras (the plan's `extra_cameras`) are recorded beside this ffmpeg, each by its own, on this
recording's clock (capture/cameras.py).
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

from capture.audio_in import AudioPump, DecoderPump, MicPump
from capture.cameras import CameraRecorder
from capture.procs import interrupt, popen
from capture.reconnect import Feed, FeedOptions, Gap, relay
from capture.sources import CapturePlan, MediaInput, MicInput, SourceError
from capture.stand_in import StandIn
from core.urls import redact

log = logging.getLogger("xunlu.capture.recorder")
TAP_RATE = 16000
TAP_NAME = "tap.s16"
PLAYLIST = "index.m3u8"
FIRST_AUDIO_S = 15.0
SETTLE_S = 0.6
DISK_FULL_BYTES = 1 << 20      # less free than this when ffmpeg fails: the disk is full


@dataclass(frozen=True)
class RecorderOptions:
    live_dir: Path
    clock: bool = False                 # burn the date and time into the video
    duration: Optional[float] = None    # seconds of audio, then stop by itself
    segment_seconds: float = 1.0        # HLS segment and keyframe interval: a live viewer is about this much
                                        # plus 0.5 s behind (bench/web.py, video); 2 s made it 3 s
    preset: str = "ultrafast"
    max_height: int = 720
    audio_bitrate: str = "128k"
    mic_rate: int = 48000               # rate for a decoded separate audio source
    video_delay: float = 0.0            # seconds a separate camera's picture lags the microphone: frames
                                        # are moved this much earlier (a calibration, see README)
    stall_s: float = 3.0                # a network source that sends nothing this long has dropped


@dataclass(frozen=True)
class SourceGap:
    """A network source that dropped, with the gap's place in the recording (seconds on the audio clock)."""

    role: str                   # "camera" (picture and sound from one source), "video" (a separate camera),
                                # "audio" (a separate sound source)
    gap: Gap                    # wall-clock times, attempts, reason (capture/reconnect.py)
    start: float                # the recording's last data from the source before the drop
    end: Optional[float] = None  # where its data starts again; None while it is away

    @property
    def back(self) -> bool:
        return self.gap.back_at is not None


GapCallback = Callable[[SourceGap], None]   # called when a source drops (end None) and when it is back
# the reader's output: the camera's streams as they are, in MPEG-TS (made to be joined and cut anywhere)
RELAY_OUTPUT = ("-c", "copy", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1", "-f", "mpegts", "pipe:1")
RELAY_FALLBACK = ("-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-muxdelay", "0", "-muxpreload", "0",
                  "-flush_packets", "1", "-f", "mpegts", "pipe:1")


def relayed_input(fd: int) -> list[str]:
    """The recorder's input options for a relayed network source (see capture/reconnect.py). The relay starts
    at a key frame with the codecs' parameters in line: a short probe finds them (the default 5 s of stream
    would hold the recording back by as much)."""
    return ["-thread_queue_size", "1024", "-analyzeduration", "500000", "-f", "mpegts", "-i", f"pipe:{fd}"]


def network_feed(source: MediaInput, maps: tuple[str, ...], stall_s: float, on_gap: Callable[[Gap], None],
                 shift_timestamps: bool = False, wallclock_origin: Optional[float] = None) -> Feed:
    """A restartable reader of a network camera's streams `maps`, copied as they are into MPEG-TS: with the
    camera's own timestamps continued across reconnections (`shift_timestamps`), or stamped with the wall
    clock as they arrive, less `wallclock_origin` (a picture put on a separate audio clock)."""
    mapped = tuple(x for m in maps for x in ("-map", m))
    return Feed(source, FeedOptions(output=mapped + RELAY_OUTPUT, fallback=mapped + RELAY_FALLBACK,
                                    shift_timestamps=shift_timestamps, wallclock_origin=wallclock_origin,
                                    stall_s=stall_s), on_gap)


FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
         "/System/Library/Fonts/Supplemental/Arial.ttf", "C:/Windows/Fonts/arial.ttf")


def _clock_filter(epoch: float) -> str:
    """Date and time of each frame (from its time on the audio clock), top left."""
    fmt = r"%Y-%m-%d %H\\\:%M\\\:%S"
    font = next((f for f in FONTS if Path(f).is_file()), None)  # else fontconfig's default
    font_opt = f"fontfile='{font.replace(':', chr(92) + ':')}':" if font else ""
    return (f"drawtext={font_opt}text='%{{pts\\:localtime\\:{epoch:.3f}\\:{fmt}}}':x=12:y=12:fontsize=h/22:"
            "fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=6")


def video_filter(opts: RecorderOptions, clock_epoch: float, t0: Optional[float], live: bool = True) -> str:
    chain = []
    origin = None if t0 is None else t0 + opts.video_delay   # a separate video source, less the camera's delay
    if origin is not None and live:  # frames stamped with the wall clock when read, moved onto the audio clock
        chain.append(f"setpts=PTS-{origin:.6f}/TB")
    elif origin is not None:  # a file or test source: its first frame placed by the wall clock, then its own timing
        chain.append(f"setpts=PTS-STARTPTS+(RTCSTART/1000000-{origin:.6f})/TB")
    chain.append(f"scale=-2:'min(ih,{opts.max_height})'")
    chain.append("format=yuv420p")
    if opts.clock:
        chain.append(_clock_filter(clock_epoch))
    return ",".join(chain)


def recorder_args(plan: CapturePlan, opts: RecorderOptions, clock_epoch: float,
                  pump_rate: Optional[int] = None, t0: Optional[float] = None,
                  relay_fd: Optional[int] = None, relay_origin: float = 0.0) -> list[str]:
    """The ffmpeg command line (pure; `pump_rate`/`t0` for the pumped shape; `relay_fd`: the network
    source is read from that pipe, written by a reader that reconnects it; in the pumped shape that reader
    stamps the frames with the wall clock less `relay_origin` as they arrive)."""
    live = opts.live_dir
    channels = plan.channels
    layout = "mono" if channels == 1 else "stereo"
    args = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning", "-y"]
    video_map: Optional[str] = None
    live_video = plan.video is not None and plan.video.kind not in ("file", "lavfi")
    if pump_rate is None:
        # a relayed source's timestamps run on across a reconnection: kept as they are (-copyts), the jump
        # is filled with silence by aresample and the last picture, never closed up
        args += ["-copyts", *relayed_input(relay_fd)] if relay_fd is not None else plan.audio.input_args()
        audio_chain = f"[0:a:0]aresample=async=1:first_pts=0,aformat=channel_layouts={layout},"
        if plan.has_video:
            video_map = "0:v:0?" if plan.audio.kind == "url" else "0:v:0"
    else:
        args += ["-thread_queue_size", "4096", "-f", "f32le", "-ar", str(pump_rate), "-ac", str(channels),
                 "-i", "pipe:0"]
        audio_chain = "[0:a:0]"
        if plan.video is not None:
            if relay_fd is not None:   # stamped by the reader on arrival (see network_feed), across gaps too
                args += relayed_input(relay_fd)
                t0 = None if t0 is None else t0 - relay_origin
            else:
                if live_video:
                    args += ["-use_wallclock_as_timestamps", "1"]
                args += plan.video.input_args()
            if live_video:
                args += ["-copyts"]
            video_map = "1:v:0"
    args += ["-filter_complex",
             f"{audio_chain}asplit=2[arec][t];[t]aresample={TAP_RATE},aformat=sample_fmts=s16[tap]"]
    if opts.duration:
        args += ["-t", f"{opts.duration:.3f}"]
    if video_map:
        gop = opts.segment_seconds
        vf = video_filter(opts, clock_epoch, t0 if pump_rate else None, live_video)
        if relay_fd is not None and pump_rate is not None:   # a frame the reader could not stamp (the first
            vf = vf.replace(",", r",select=gte(t\,0),", 1)  # of an RTSP stream) comes out before 0: dropped
        args += ["-map", video_map, "-vf", vf,
                 "-c:v", "libx264", "-preset", opts.preset, "-tune", "zerolatency", "-crf", "23",
                 "-force_key_frames", f"expr:gte(t,n_forced*{gop:g})", "-sc_threshold", "0",
                 "-fps_mode", "vfr"]
        if plan.cameras:   # several cameras: this one's frames as precisely on the clock as the others'
            from capture.cameras import FINE_TIME

            args += FINE_TIME
    args += ["-map", "[arec]", "-c:a", "aac", "-b:a", opts.audio_bitrate,
             "-f", "hls", "-hls_time", f"{opts.segment_seconds:g}", "-hls_playlist_type", "event",
             "-hls_flags", "independent_segments+append_list+temp_file", "-hls_segment_type", "mpegts",
             "-hls_segment_filename", str(live / "seg%05d.ts"), str(live / PLAYLIST)]
    if opts.duration:
        args += ["-t", f"{opts.duration:.3f}"]
    args += ["-map", "[tap]", "-f", "s16le", "-flush_packets", "1", str(live / TAP_NAME)]
    return args


class Recorder:
    """Runs the capture in its own thread; `stop()` asks it to finish, `done` is set when it has."""

    def __init__(self, plan: CapturePlan, opts: RecorderOptions, on_gap: Optional[GapCallback] = None):
        self.plan = plan
        self.opts = opts
        self.on_gap = on_gap
        self.feeds: list[tuple[str, Feed]] = []    # (role, reader) of each network source
        self.source_gaps: list[SourceGap] = []     # every drop of a network source so far, in order
        self.tap_path = opts.live_dir / TAP_NAME
        self.pump: Optional[AudioPump] = None
        self.t0: Optional[float] = None          # wall clock of the first audio sample
        self.error: Optional[str] = None
        self.started = threading.Event()
        self.done = threading.Event()
        self._stop = threading.Event()
        self._proc: Optional[subprocess.Popen] = None
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self.frames_written = 0
        self.disk_full = False                   # ffmpeg stopped because the disk is full
        self.ended_at: Optional[float] = None    # wall clock when the recording ended
        # a room's other cameras, each in its own ffmpeg on this recording's clock (capture/cameras.py)
        self.cameras = [CameraRecorder(c, opts, self._gap("video")) for c in plan.extra_cameras]

    # -- control ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.opts.live_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.done.wait(timeout)

    # -- figures ------------------------------------------------------------------------------------
    @property
    def tap_frames(self) -> int:
        try:
            return self.tap_path.stat().st_size // (2 * self.plan.channels)
        except OSError:
            return 0

    @property
    def captured_seconds(self) -> float:
        return self.tap_frames / TAP_RATE

    def recording_time(self, wall: float) -> float:
        """Seconds in the recording of a wall-clock time (the audio clock; 0 before it started)."""
        return max(0.0, wall - self.t0) if self.t0 is not None else 0.0

    def _gap(self, role: str, carries_clock: bool = False) -> Callable[[Gap], None]:
        """The listener of one source's drops. Where the source carries the audio clock (a camera with its
        sound, relayed), the recording's own length says where the drop is, and the new reader's timestamp
        offset where it ends; elsewhere the wall clock places both (picture stamped as read, sound padded)."""
        def heard(gap: Gap) -> None:
            if gap.back_at is None:
                start = self._settled_seconds() if carries_clock else self.recording_time(gap.lost_at)
                found = SourceGap(role, gap, round(start, 3))
                self.source_gaps.append(found)
            else:
                index = next((i for i in range(len(self.source_gaps) - 1, -1, -1)
                              if self.source_gaps[i].gap.lost_at == gap.lost_at), None)
                start = self.source_gaps[index].start if index is not None else self.recording_time(gap.lost_at)
                end = gap.resumed_ts if carries_clock and gap.resumed_ts is not None \
                    else self.recording_time(gap.back_at)
                found = SourceGap(role, gap, start, round(max(start, end), 3))
                if index is None:
                    self.source_gaps.append(found)
                else:
                    self.source_gaps[index] = found
            if self.on_gap is not None:
                self.on_gap(found)
        return heard

    def _settled_seconds(self, quiet_s: float = 0.3, most_s: float = 2.0) -> float:
        """The recording's length once ffmpeg has taken in what it was given (it stops growing)."""
        deadline = time.monotonic() + most_s
        last, since = self.tap_frames, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet_s:
            time.sleep(0.05)
            now = self.tap_frames
            if now != last:
                last, since = now, time.monotonic()
        return self.captured_seconds

    def stats(self) -> dict:
        pump = self.pump
        return {"tap_frames": self.tap_frames,
                "frames": pump.frames if pump else None, "rate": pump.rate if pump else None,
                "overflows": pump.overflows if pump else 0, "dropped": pump.dropped if pump else 0,
                "queued_seconds": round(pump.queued_seconds, 3) if pump else 0.0,
                "frames_written": self.frames_written if pump else None,
                "source_gaps": len(self.source_gaps),
                "audio_clock_ppm": pump.clock.drift_ppm if pump and pump.clock else None,
                "audio_clock_adjusted": pump.clock.adjusted if pump and pump.clock else None,
                "rtsp_transport": next((f.transport for _role, f in self.feeds if f.transport), None)}

    # -- the thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        log_file = open(self.opts.live_dir / "ffmpeg.log", "ab")
        try:
            self._connect_cameras()
            if isinstance(self.plan.audio, MicInput) or not self.plan.shared and self.plan.video is not None:
                self._run_pumped(log_file)
            else:
                self._run_shared(log_file)
        except SourceError as exc:
            self.error = str(exc)
        except Exception as exc:  # never leave the session hanging without a reason
            log.exception("recorder failed")
            self.error = f"recorder failed: {exc}"
        finally:
            self._end_feeds()
            for camera in self.cameras:
                camera.stop()
            log_file.close()
            if self.error is None and self._proc is not None and self._proc.returncode not in (0, 255, -2):
                self.error = self._ffmpeg_error()
            self.ended_at = time.time()
            self.started.set()
            self.done.set()

    def _connect_cameras(self) -> None:
        """Connect the other cameras (SourceError naming the first that cannot be reached), from this thread,
        which outlives their readers (capture/procs.py); then let each start recording as soon as this
        recording's clock is known."""
        for camera in self.cameras:
            camera.connect()
        for camera in self.cameras:
            camera.start(lambda: self.t0, self.done)

    def _ffmpeg_error(self) -> str:
        try:
            lines = (self.opts.live_dir / "ffmpeg.log").read_text("utf-8", "replace").strip().splitlines()
        except OSError:
            lines = []
        try:  # a full disk may also have kept ffmpeg from writing its own log
            free = shutil.disk_usage(self.opts.live_dir).free
        except OSError:
            free = None
        if any("No space left" in line for line in lines[-8:]) or (free is not None and free < DISK_FULL_BYTES):
            self.disk_full = True
            return (f"磁盘已满 disk full: the recording stopped at {self.captured_seconds:.1f} s "
                    f"({free if free is not None else '?'} bytes free in {self.opts.live_dir}); "
                    "what was recorded before is kept")
        return redact(f"ffmpeg stopped (exit {self._proc.returncode}): {(lines or ['no message'])[-1]}")

    def _run_shared(self, log_file) -> None:
        feed, first = None, b""
        if self.plan.audio.kind == "url":   # a network camera or encoder: read through a reconnecting relay
            role = "camera" if self.plan.has_video else "audio"   # a camera carries picture and sound
            feed = network_feed(self.plan.audio, ("0:v:0?", "0:a:0?"), self.opts.stall_s,
                                self._gap(role, carries_clock=True), shift_timestamps=True)
            self.feeds.append((role, feed))
            first = feed.open()
        launched = time.time()
        self._proc = popen(recorder_args(self.plan, self.opts, launched, relay_fd=0 if feed else None),
                           stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=log_file)
        if feed is not None:
            relay(feed, first, self._proc.stdin)
        self.started.set()
        if feed is not None:   # the relay's timestamp 0 is its first data: the wall clock of the first sample
            self.t0 = feed.first_data_at
        while self._proc.poll() is None:
            if self.t0 is None and self.tap_frames > 0:
                self.t0 = time.time() - self.captured_seconds
            if self._stop.wait(0.1) or self._lost_past_duration(feed):
                self._end_feeds()
                interrupt(self._proc)
        if self.t0 is None and self.tap_frames > 0:
            self.t0 = launched

    def _lost_past_duration(self, feed: Optional[Feed]) -> bool:
        """A camera that carries the sound and is still away when the duration is up: the audio clock has
        stopped with it, so the wall clock ends the recording."""
        opts = self.opts
        return bool(feed is not None and opts.duration and feed.lost and self.t0 is not None
                    and time.time() - self.t0 > opts.duration)

    def _run_pumped(self, log_file) -> None:
        plan = self.plan
        if isinstance(plan.audio, MicInput):
            self.pump = MicPump(plan.audio, on_gap=self._gap("audio"))
        else:
            self.pump = DecoderPump(plan.audio, plan.channels, self.opts.mic_rate, on_gap=self._gap("audio"))
        pump = self.pump
        pump.start()
        deadline = time.monotonic() + FIRST_AUDIO_S
        while not pump.first.wait(0.2):
            if self._stop.is_set():
                pump.stop()
                return
            if time.monotonic() > deadline:
                pump.stop()
                raise SourceError(f"no audio came from {plan.audio.describe()} in {FIRST_AUDIO_S:.0f} s")
        if pump.t0 is None:
            raise SourceError(pump.error or f"no audio came from {plan.audio.describe()}")
        feed, first, relay_fd, origin = None, b"", None, 0.0
        if plan.video is not None and plan.video.kind == "url":   # a network camera: through a relay
            origin = float(int(pump.t0) - 60)   # before any frame: the stamps stay small and positive
            feed = network_feed(plan.video, ("0:v:0",), self.opts.stall_s, self._gap("video"),
                                wallclock_origin=origin)
            self.feeds.append(("video", feed))
            try:
                first = feed.open()
            except SourceError:
                pump.stop()
                raise
        if plan.video is not None:  # let a first burst of audio arrive: it moves t0 back (see AudioPump)
            self._stop.wait(SETTLE_S)
        self.t0 = pump.t0
        if isinstance(pump, MicPump) or plan.audio.kind not in ("file", "lavfi"):   # its own crystal: held on the wall clock
            pump.lock_clock()
        limit = int(self.opts.duration * pump.rate) if self.opts.duration else None
        write_end = None
        if feed is not None:
            relay_fd, write_end = os.pipe()
        # the pump's sample count ends the recording, not ffmpeg's clock
        args = recorder_args(plan, replace(self.opts, duration=None), self.t0, pump.rate, self.t0, relay_fd, origin)
        try:
            self._proc = popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log_file,
                               pass_fds=(relay_fd,) if relay_fd is not None else ())
        finally:
            if relay_fd is not None:
                os.close(relay_fd)
        if feed is not None:   # while the camera is away a plain picture keeps its place: else ffmpeg would
            relay(feed, first, os.fdopen(write_end, "wb", buffering=0), StandIn(origin))  # hold the sound for it
        self.started.set()
        stopping = False
        try:
            while True:
                chunk = pump.read(0.2)
                if chunk is None:
                    break
                if chunk is not False:
                    if limit is not None and self.frames_written + len(chunk) >= limit:
                        chunk = chunk[: limit - self.frames_written]
                        self._stop.set()
                    self._proc.stdin.write(chunk.astype("<f4", copy=False).tobytes())
                    self.frames_written += len(chunk)
                if self._stop.is_set() and not stopping:
                    stopping = True
                    threading.Thread(target=pump.stop, name="pump-stop", daemon=True).start()
                if self._proc.poll() is not None:
                    raise SourceError(self._ffmpeg_error())
        except BrokenPipeError:
            raise SourceError(self._ffmpeg_error()) from None
        finally:
            if not stopping:
                pump.stop()
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        self._drain_then_stop()

    def _drain_then_stop(self) -> None:
        """Let ffmpeg take in all the audio it was given before asking it to stop (video never ends)."""
        expected = self.frames_written * TAP_RATE // self.pump.rate - 16   # all but the resampler's last 1 ms
        deadline = time.monotonic() + 20
        last, still_since = -1, time.monotonic()
        while self._proc.poll() is None and self.tap_frames < expected and time.monotonic() < deadline:
            now_frames = self.tap_frames
            if now_frames != last:
                last, still_since = now_frames, time.monotonic()
            elif time.monotonic() - still_since > 3.0:
                log.warning("the recorder took in %d of %d tap frames", now_frames, expected)
                break
            time.sleep(0.05)
        if self.plan.video is not None:
            time.sleep(0.3)  # the video frames of the last audio
        self._end_feeds()
        interrupt(self._proc)

    def _end_feeds(self) -> None:
        """Stop the network readers: their pipes end, so ffmpeg never waits on a source that is away."""
        for _role, feed in self.feeds:
            feed.close()
