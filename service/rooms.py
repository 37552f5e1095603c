"""The interview rooms an administrator sets up over the web: each room's microphone, camera and channel
speakers, kept in `<home>/config.toml` [rooms."NAME"] (core/config_edit.py), which officers then pick for a
one-key start.

A room set up over the web records only from what this server offers a web request anyway (a microphone or
camera of this machine, the server's own sources, the test signal) or from a network camera or encoder
(rtsp://, rtmp://, srt://, udp://, http(s)://); never from a file or an ffmpeg filter, which only the
operator on the server may put into the file. A value the room already has is kept as it is.

A room has one camera (`video`) or several (`cameras`, each a name, a source, its own RTSP transport and
picture delay; core/cameras.py), with the layout of their picture-in-picture copy (`pip`). A change names
`cameras` to replace the list (an empty list: back to one camera or none) or leaves it out to keep it; one
camera is given as `video`, never as a list of one, and never beside a list (400 cameras_or_video). The
layout (`pip`) is kept when a change leaves it out, checked against the cameras' names (400 bad_pip), and
dropped when the room is left with fewer than two cameras.

A camera URL's password never leaves the server: rooms are listed with it masked (rtsp://admin:***@...), and
that masked form sent back means "keep the URL as it is", for any camera of the room (a camera moved in the
list, or the one camera of a room that gets a second one). A masked URL that is not one the room has (its
address changed) is refused (400 masked_password): the password must be typed again. A room's
`rtsp_transport` (auto, tcp, udp, udp_multicast) is kept when a change does not name it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from core.cameras import PipLayout, RoomCamera, arrange, pip_layout
from core.cameras import cameras as camera_list
from core.config import Room, SettingError, Settings, read
from core.config_edit import clean_device, clean_transport, set_room
from core.urls import is_redacted, redact
from service.sources import TEST, available

NETWORK = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "srt://", "udp://", "http://", "https://")


@dataclass(frozen=True)
class RoomChange:
    name: str
    audio: Optional[str] = None
    video: Optional[str] = None
    speakers: Optional[str] = None    # comma-separated channel names, e.g. "officer,suspect"
    rename: Optional[str] = None
    rtsp_transport: Optional[str] = None   # auto, tcp, udp, udp_multicast; None: as it is
    # several cameras, each {name, video, rtsp_transport, video_delay}; (): none; None: as they are
    cameras: Optional[tuple[Mapping[str, Any], ...]] = None
    pip: Optional[Mapping[str, Any]] = None   # {main, inset, position, size, margin}; None: as it is


def record(name: str, room: Room) -> dict[str, Any]:
    """A room as the admin pages and the audit trail see it: passwords masked."""
    shown = {"name": name, "audio": redact(room.audio) if room.audio else None,
             "video": redact(room.video) if room.video else None, "speakers": room.speakers,
             "rtsp_transport": room.rtsp_transport}
    if room.cameras:   # several cameras
        shown["cameras"] = [{"name": c.name, "video": redact(c.video), "rtsp_transport": c.rtsp_transport,
                             "video_delay": c.video_delay} for c in room.cameras]
    if room.pip is not None:
        shown["pip"] = asdict(room.pip)
    return shown


def rooms(home: Path) -> list[dict[str, Any]]:
    return [record(name, r) for name, r in read(home).rooms.items()]


def _check(kind: str, value: Optional[str], found: Any, kept: tuple[str, ...]) -> Optional[str]:
    """A source a change names: one of `kept` (what the room has) as it is, masked or not; a device or source of
    this server; a network URL. `found`: what this server offers."""
    value = clean_device(value)
    for old in kept:
        if value is not None and value in (old, redact(old)):
            return old               # the masked form shown: the URL as it is
    if value is None or value == TEST:
        return value
    parts = [p.strip() for p in value.split("+")] if kind == "audio" else [value]
    if any(p in found.secrets for p in parts):   # another source's masked URL: the URL it stands for
        parts = [found.real(p) for p in parts]
        value = "+".join(parts)
    if any(is_redacted(p) for p in parts):
        raise SettingError(f"{kind} source {value!r} has a masked password (***) that stands for none of this "
                           "room's: give the password again", code="masked_password")
    allowed = found.ids(kind)
    if all(p in allowed or p.lower().startswith(NETWORK) for p in parts):
        return value
    raise SettingError(f"{kind} source {value!r} is not a device of this server nor a network camera URL",
                       code="bad_device")


def _videos(current: Room) -> tuple[str, ...]:
    return tuple(v for v in (current.video, *(c.video for c in current.cameras)) if v)


def _cameras(specs: tuple[Mapping[str, Any], ...], found: Any, current: Room) -> tuple[RoomCamera, ...]:
    """The cameras a change lists, each source checked like a room's video (a masked URL: the camera's own)."""
    if len(specs) == 1:
        raise SettingError("one camera is the room's video, not a list of one", code="cameras_or_video")
    checked = []
    for i, spec in enumerate(specs):
        name = str(spec.get("name") or "").strip()
        own = tuple(c.video for c in current.cameras if c.name == name)   # a masked URL: this camera's first
        video = _check("video", spec.get("video"), found, own + _videos(current))
        if video is None:
            raise SettingError(f"camera {i + 1} has no video source", code="bad_camera")
        checked.append({"name": name or None, "video": video, "video_delay": spec.get("video_delay"),
                        "rtsp_transport": clean_transport(spec.get("rtsp_transport"))})
    try:
        return camera_list(checked, lambda transport: transport)
    except ValueError as exc:
        raise SettingError(f"cameras: {exc}", code="bad_camera") from None


def _layout(given: Optional[Mapping[str, Any]], kept: Optional[PipLayout],
            cams: tuple[RoomCamera, ...]) -> Optional[PipLayout]:
    """The picture-in-picture layout: the one given (keys left out: the defaults), else the room's; checked
    against the cameras' names; none with fewer than two cameras."""
    given = {k: v for k, v in (given or {}).items() if v is not None} if given is not None else None
    if len(cams) < 2:
        if given:
            raise SettingError("a picture-in-picture needs two cameras", code="bad_pip")
        return None
    try:
        layout = pip_layout(given) if given is not None else kept
        if layout is not None:
            arrange(tuple(c.name for c in cams), layout)
    except ValueError as exc:
        raise SettingError(str(exc), code="bad_pip") from None
    return layout


def save(home: Path, defaults: Mapping[str, Any], change: RoomChange,
         sources: Optional[Any] = None) -> Settings:
    """Add or change a room; `sources`: what this server offers (service.sources.available), listed when
    not given."""
    current = read(home).rooms.get((change.name or "").strip(), Room())
    found = sources if sources is not None else available(home, defaults)
    transport = current.rtsp_transport if change.rtsp_transport is None else clean_transport(change.rtsp_transport)
    video = _check("video", change.video, found, _videos(current))
    cams = current.cameras if change.cameras is None else _cameras(tuple(change.cameras), found, current)
    if video and cams:
        raise SettingError("give the room either one camera (video) or several (cameras), not both"
                           + (": it has several, send them as cameras" if change.cameras is None else ""),
                           code="cameras_or_video")
    room = Room(_check("audio", change.audio, found, (current.audio,) if current.audio else ()), video,
                clean_device(",".join(s.strip() for s in (change.speakers or "").replace("，", ",").split(",")
                                      if s.strip())), transport, cams, _layout(change.pip, current.pip, cams))
    return set_room(home, change.name, room, rename=change.rename)


def remove(home: Path, name: str) -> Settings:
    return set_room(home, name, None)
