"""Which sources a web request may record from. A request never names a path, a URL or an ffmpeg filter:
it names a room configured in `<home>/config.toml`, a device this machine has (`xunlu devices`), one of the
sources the operator gave `xunlu serve` (--audio/--video), or the built-in test signal. Anything else is
refused with one message, whatever it names, so a refusal tells nothing about the server's files. The CLI on
the recording machine is the operator's: `xunlu record` still takes a file, URL or device.

A room's camera URL may carry its password: it is offered (and named by requests) in its masked form,
rtsp://admin:***@10.0.0.7/..., and turned back into the real URL only here, on the server's side.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from core.config import read
from core.errors import OptionError
from core.urls import redact

log = logging.getLogger("xunlu.sources")
TEST = "test"                                       # the built-in test signal, in place of audio or video
TEST_AUDIO = "lavfi:sine=frequency=440:sample_rate=48000"
TEST_VIDEO = "lavfi:testsrc2=size=1280x720:rate=25"


class SourceRefused(OptionError):
    """A web request named a source that is not one of this server's configured sources."""

    code = "source_refused"


@dataclass(frozen=True)
class Source:
    id: str          # what a request names
    kind: str        # "audio" or "video"
    label: str       # for people: the device's or the room's name
    origin: str      # "room", "server", "device" or "test"


@dataclass(frozen=True)
class Sources:
    """The sources a web request may name, and each room's devices."""

    audio: tuple[Source, ...]
    video: tuple[Source, ...]
    rooms: Mapping[str, Mapping[str, str]]          # as people may see them: passwords masked
    secrets: Mapping[str, str] = field(default_factory=dict)   # masked id -> the real URL

    def ids(self, kind: str) -> set[str]:
        return {s.id for s in (self.audio if kind == "audio" else self.video)}

    def real(self, value: str) -> str:
        """The source a (possibly masked) id stands for."""
        return self.secrets.get(value, value)


def _devices() -> tuple[list[Any], list[Any]]:
    from capture.devices import cameras, microphones
    from capture.sources import SourceError

    try:
        mics = microphones()
    except (SourceError, OSError) as exc:  # no PyAudio or no sound system: no microphones to offer
        log.info("no microphones listed: %s", exc)
        mics = []
    try:
        cams = cameras()
    except (OSError, ValueError) as exc:
        log.info("no cameras listed: %s", exc)
        cams = []
    return mics, cams


def available(home: Path, defaults: Mapping[str, Any],
              devices: Callable[[], tuple[list[Any], list[Any]]] = _devices) -> Sources:
    """Everything a web request may record from on this server."""
    secrets: dict[str, str] = {}

    def shown(value: str) -> str:
        masked = redact(value)
        if masked != value:
            secrets[masked] = value
        return masked

    rooms = {name: {k: shown(v) if k in ("audio", "video") else v for k, v in room.devices().items()}
             for name, room in read(home).rooms.items()}
    audio: dict[str, Source] = {TEST: Source(TEST, "audio", "测试信号 test tone", "test")}
    video: dict[str, Source] = {TEST: Source(TEST, "video", "测试画面 test picture", "test")}
    for name, spec in rooms.items():
        if spec.get("audio"):
            audio.setdefault(spec["audio"], Source(spec["audio"], "audio", name, "room"))
        if spec.get("video"):
            video.setdefault(spec["video"], Source(spec["video"], "video", name, "room"))
    for kind, chosen in (("audio", audio), ("video", video)):
        value = defaults.get(kind)
        if isinstance(value, str) and value:
            value = shown(value)
            chosen.setdefault(value, Source(value, kind, "服务器默认 server default", "server"))
    mics, cams = devices()
    for mic in mics:
        audio.setdefault(mic.id, Source(mic.id, "audio", mic.name, "device"))
        audio.setdefault(mic.name, Source(mic.name, "audio", mic.name, "device"))
    for cam in cams:
        video.setdefault(cam.id, Source(cam.id, "video", cam.name, "device"))
    return Sources(tuple(audio.values()), tuple(video.values()), rooms, secrets)


def refused(kind: str) -> SourceRefused:
    what = "音频源 audio source" if kind == "audio" else "视频源 video source"
    return SourceRefused(f"不是本机配置的{what}: choose a room, a device listed by GET /api/devices, or "
                         f"'{TEST}'")


def resolve(sources: Sources, defaults: Mapping[str, Any], room: Optional[str], audio: Optional[str],
            video: Optional[str]) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(audio, video, speakers) to record for a web request: the room's devices when it names a configured
    room and no source; else what it names, the server's default for what it leaves out. Each is checked
    against `sources`; the test signal becomes its ffmpeg source here, on the server's side."""
    speakers = None
    if not audio and not video and room and room in sources.rooms:
        spec = sources.rooms[room]
        audio, video, speakers = spec.get("audio"), spec.get("video"), spec.get("speakers")
    else:
        audio = audio or defaults.get("audio")
        video = video or defaults.get("video")
    out = []
    for kind, value in (("audio", audio), ("video", video)):
        if not isinstance(value, str) or not value.strip():
            out.append(None)
            continue
        value = value.strip()
        parts = [redact(p.strip()) for p in (value.split("+") if kind == "audio" and "+" in value else [value])]
        if any(p not in sources.ids(kind) for p in parts):    # a URL is offered, and named, masked
            raise refused(kind)
        if value == TEST:
            value = TEST_AUDIO if kind == "audio" else TEST_VIDEO
        else:
            value = "+".join(sources.real(p) for p in parts)
        out.append(value)
    return out[0], out[1], speakers


def choose(home: Path, defaults: Mapping[str, Any], room: Optional[str], audio: Optional[str],
           video: Optional[str]) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """`resolve` against this server's sources; the machine's devices are listed only when the request
    names something that is not a room's, the server's or the test signal (listing takes a moment)."""
    try:
        return resolve(available(home, defaults, devices=lambda: ([], [])), defaults, room, audio, video)
    except SourceRefused:
        return resolve(available(home, defaults), defaults, room, audio, video)
