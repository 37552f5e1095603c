"""What to record from: parse the user's --audio / --video strings into a capture plan.

Audio comes either from microphones (PyAudio, one or two devices) or from anything ffmpeg opens itself (a
file played in real time, a network stream, an ffmpeg device such as `alsa:hw:1`, a `lavfi:` test source).
Video always comes through ffmpeg: a camera (v4l2 / avfoundation / dshow), a URL, a file or `lavfi:`.

    plain path            a file, played at real speed ("file as live") unless realtime is off
    rtsp:// udp:// ...    a network camera or encoder
    /dev/video0           a V4L2 camera (Linux); `avfoundation:0` (macOS); `dshow:video=Name` (Windows)
    lavfi:testsrc2        an ffmpeg test source (for drills)
    pulse, 3, "USB Mic"   a microphone by PyAudio name (exact, then part of the name) or index
    "Mic A+Mic B"         two microphones, one channel each (each a speaker)
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import Optional

from core.errors import OptionError
from core.urls import redact

URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "tcp", "rtp", "srt", "http", "https")
NET_TIMEOUT_S = 10.0
MEDIA_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".mp4", ".mkv", ".mov", ".ts", ".webm",
                  ".avi", ".wma", ".amr")
DEVICE_FORMATS = ("v4l2", "avfoundation", "dshow", "alsa", "pulse", "gdigrab", "x11grab", "lavfi")


class SourceError(OptionError):
    """A source that cannot be used: no such device or file, nothing to record, channel mismatch."""

    code = "bad_source"


@dataclass(frozen=True)
class MediaInput:
    """Something ffmpeg opens itself."""

    kind: str                 # "file", "url", or an ffmpeg input format (v4l2, lavfi, alsa, ...)
    target: str
    realtime: bool = True     # for files: read at native speed (-re)
    transport: Optional[str] = None   # RTSP: auto (None), tcp, udp, udp_multicast (capture/rtsp.py)

    @property
    def live(self) -> bool:
        return self.kind != "file"

    @property
    def rtsp(self) -> bool:
        return self.kind == "url" and self.target.split(":", 1)[0].lower() in ("rtsp", "rtsps")

    def input_args(self, transport: Optional[str] = None) -> list[str]:
        """ffmpeg's input options; `transport` (RTSP) overrides the setting (auto: the first to try)."""
        args: list[str] = []
        if self.kind == "file":
            return (["-re"] if self.realtime else []) + ["-i", self.target]
        if self.kind == "url":  # a silent camera stops its reader after NET_TIMEOUT_S, never hangs it
            from capture.rtsp import order

            scheme = self.target.split(":", 1)[0].lower()
            timeout = str(int(NET_TIMEOUT_S * 1_000_000))
            target = self.target
            if scheme in ("rtsp", "rtsps"):
                args += ["-rtsp_transport", transport or order(self.transport)[0], "-timeout", timeout]
            elif scheme == "udp":  # MPEG-TS says which streams it carries: a short probe starts sooner
                args += ["-fflags", "+genpts+discardcorrupt", "-analyzeduration", "1500000"]
                if "timeout=" not in target:
                    target += ("&" if "?" in target else "?") + f"timeout={timeout}"
            else:
                args += ["-rw_timeout", timeout]
            return args + ["-thread_queue_size", "1024", "-i", target]
        if self.kind == "lavfi":
            return ["-re", "-f", "lavfi", "-i", self.target]
        return ["-thread_queue_size", "1024", "-f", self.kind, "-i", self.target]

    def describe(self) -> str:
        """For people, logs and the audit trail: a URL's password masked (core/urls.py)."""
        return redact(self.target) if self.kind in ("file", "url") else f"{self.kind}:{self.target}"


@dataclass(frozen=True)
class MicInput:
    """One or two PyAudio input devices; `channels` in total (two devices: one channel each)."""

    devices: tuple[int, ...]
    names: tuple[str, ...]
    channels: int
    rate: int

    def describe(self) -> str:
        return "+".join(self.names)


@dataclass(frozen=True)
class Camera:
    """One camera of a recording with several (capture/cameras.py): the name people see, its source, the
    catalog role of its original ("original" for the first, which carries the sound in the recorder's own
    output; "video2", "video3", ... for the others) and how much its picture lags the sound."""

    name: str
    source: MediaInput
    role: str
    delay: float = 0.0


@dataclass(frozen=True)
class CapturePlan:
    """Where audio and video come from. `shared` = audio and video are streams of the same media input,
    so ffmpeg keeps them in sync by their own timestamps; otherwise audio is pumped into the recorder and
    the video is placed on the audio clock by wall-clock time."""

    audio: "MediaInput | MicInput"
    video: Optional[MediaInput]
    channels: int
    shared: bool
    has_video: bool
    cameras: tuple[Camera, ...] = ()   # several cameras: all of them, the first being `video`; else empty

    @property
    def extra_cameras(self) -> tuple[Camera, ...]:
        """The cameras recorded beside the recorder's own (capture/cameras.py)."""
        return self.cameras[1:]

    def describe(self) -> str:
        if self.shared or self.video is None:
            first = self.audio.describe()
        else:
            first = f"{self.audio.describe()} + {self.video.describe()}"
        return " + ".join([first, *(c.source.describe() for c in self.extra_cameras)])


@dataclass(frozen=True)
class CameraSpec:
    """A camera as the request names it (`xunlu record --video ... --video ...`, a room's `cameras`)."""

    name: str
    video: str
    transport: Optional[str] = None
    delay: Optional[float] = None


def with_cameras(found: CapturePlan, specs: tuple[CameraSpec, ...], realtime: bool = True,
                 transport: Optional[str] = None, delay: float = 0.0) -> CapturePlan:
    """The plan with several cameras: `specs[0]` is the plan's own video source; the others are resolved
    here (a camera, URL, file or lavfi source; its sound is not used). One spec or none: the plan as it is."""
    from capture.rtsp import check_transport

    if len(specs) < 2:
        return found
    if not found.has_video or found.video is None:
        raise SourceError("several cameras need the first to be a video source")
    cameras = [Camera(specs[0].name, found.video, "original", specs[0].delay if specs[0].delay is not None else delay)]
    for i, spec in enumerate(specs[1:], 2):
        source = video_input(spec.video.strip(), realtime)
        chosen = check_transport(spec.transport) or transport
        if source.rtsp and chosen:
            source = replace(source, transport=chosen)
        cameras.append(Camera(spec.name, source, f"video{i}", spec.delay if spec.delay is not None else delay))
    return replace(found, cameras=tuple(cameras))


def is_url(spec: str) -> bool:
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def _prefixed(spec: str) -> Optional[MediaInput]:
    fmt, sep, target = spec.partition(":")
    if sep and fmt in DEVICE_FORMATS and target:
        return MediaInput(fmt, target)
    return None


def media_input(spec: str, realtime: bool = True) -> Optional[MediaInput]:
    """A MediaInput when `spec` is something ffmpeg opens (file, URL, device, lavfi), else None."""
    spec = spec.strip()
    if is_url(spec):
        return MediaInput("url", spec)
    prefixed = _prefixed(spec)
    if prefixed:
        return prefixed
    if spec.startswith("/dev/video"):
        if not os.path.exists(spec):
            raise SourceError(f"no camera at {spec} (`xunlu devices` lists the cameras)")
        return MediaInput("v4l2", spec)
    if os.path.exists(spec):
        if os.path.isdir(spec):
            raise SourceError(f"is a directory, not a media file: {spec}")
        if os.path.getsize(spec) == 0:
            raise SourceError(f"file is empty (0 bytes): {spec}")
        return MediaInput("file", spec, realtime)
    return None


def video_input(spec: str, realtime: bool = True) -> MediaInput:
    found = media_input(spec, realtime)
    if found:
        return found
    if sys.platform == "darwin" and spec.isdigit():
        return MediaInput("avfoundation", spec)
    if sys.platform == "win32":
        return MediaInput("dshow", spec if spec.startswith("video=") else f"video={spec}")
    if "/" in spec or "." in spec:
        raise SourceError(f"no such file: {spec}")
    raise SourceError(f"no camera or file called '{spec}': give /dev/videoN, a URL (rtsp://, udp://, http://), "
                      "a file, or lavfi:testsrc2 (`xunlu devices` lists the cameras)")


def _probe_file(path: str) -> tuple[int, bool]:
    """(audio channels, has video) of a file; SourceError when it has no audio or is not media."""
    from pathlib import Path

    from archive import media as media_io
    from archive.types import ArchiveError

    if not os.access(path, os.R_OK) or os.path.getsize(path) == 0:
        raise SourceError(f"cannot read file, or it is empty: {path}")
    try:
        found = media_io.streams(Path(path))
    except ArchiveError as exc:
        raise SourceError(f"not a media file ffmpeg can read: {path} ({exc.__cause__ or exc})") from exc
    if not found.audio_channels:
        raise SourceError(f"no audio stream in {path}")
    return found.audio_channels, found.video is not None


def plan(audio: Optional[str], video: Optional[str], speakers: tuple[str, ...] = (),
         realtime: bool = True, rtsp_transport: Optional[str] = None) -> CapturePlan:
    """Resolve the sources (microphones are looked up through PyAudio); `rtsp_transport` applies to the
    RTSP cameras among them. Raises SourceError."""
    from capture.rtsp import check_transport

    transport = check_transport(rtsp_transport)
    found = _plan(audio, video, speakers, realtime)
    if transport is None:
        return found

    def with_transport(source):
        return replace(source, transport=transport) if isinstance(source, MediaInput) and source.rtsp else source

    return replace(found, audio=with_transport(found.audio), video=with_transport(found.video))


def _plan(audio: Optional[str], video: Optional[str], speakers: tuple[str, ...], realtime: bool) -> CapturePlan:
    if len(speakers) > 2:
        raise SourceError(f"--speakers names {len(speakers)} speakers; a recording has 1 or 2 channels",
                          code="speakers_mismatch")
    v = video_input(video.strip(), realtime) if video and video.strip() else None
    a: "MediaInput | MicInput | None" = None
    if audio and audio.strip():
        a = media_input(audio, realtime)
        if a is None and ("/" in audio or os.sep in audio or os.path.splitext(audio)[1].lower() in MEDIA_SUFFIXES):
            raise SourceError(f"no such file: {audio}")
        if a is None:
            from capture.devices import resolve_mics

            a = resolve_mics(audio, channels=len(speakers) or None)
    elif v is not None and v.kind in ("url", "file"):
        a = v  # audio from the video source (a network camera, a file)
    else:  # nothing said, or a camera that has no sound: the default microphone
        from capture.devices import resolve_mics

        a = resolve_mics("default", channels=len(speakers) or None)
    if isinstance(a, MicInput):
        return CapturePlan(a, v, a.channels, shared=False, has_video=v is not None)
    channels, file_video = (0, False)
    if a.kind == "file":
        channels, file_video = _probe_file(a.target)
        channels = min(channels, 2)
    if speakers and channels and len(speakers) != channels:
        raise SourceError(f"--speakers names {len(speakers)} speaker(s) but {a.describe()} has {channels} audio "
                          "channel(s)", code="speakers_mismatch")
    channels = len(speakers) or channels or 1
    if v is None and a.kind in ("url", "file"):
        shared = a.kind == "url" or file_video   # a camera URL may carry video; files say whether they do
        return CapturePlan(a, a if shared else None, channels, shared=shared,
                           has_video=shared and (a.kind == "url" or file_video))
    if v is not None and v == a:
        return CapturePlan(a, v, channels, shared=True, has_video=True)
    return CapturePlan(a, v, channels, shared=False, has_video=v is not None)
