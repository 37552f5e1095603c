"""The interview rooms an administrator sets up over the web: each room's microphone, camera and channel
speakers, kept in `<home>/config.toml` [rooms."NAME"] (core/config_edit.py), which officers then pick for a
one-key start.

A room set up over the web records only from what this server offers a web request anyway (a microphone or
camera of this machine, the server's own sources, the test signal) or from a network camera or encoder
(rtsp://, rtmp://, srt://, udp://, http(s)://); never from a file or an ffmpeg filter, which only the
operator on the server may put into the file. A value the room already has is kept as it is.

A camera URL's password never leaves the server: rooms are listed with it masked (rtsp://admin:***@...), and
that masked form sent back means "keep the URL as it is". A room's `rtsp_transport` (auto, tcp, udp,
udp_multicast) is kept when a change does not name it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from core.config import Room, SettingError, Settings, read
from core.config_edit import clean_device, clean_transport, set_room
from core.urls import redact
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


def record(name: str, room: Room) -> dict[str, Any]:
    """A room as the admin pages and the audit trail see it: passwords masked."""
    shown = {"name": name, "audio": redact(room.audio) if room.audio else None,
             "video": redact(room.video) if room.video else None, "speakers": room.speakers,
             "rtsp_transport": room.rtsp_transport}
    if room.cameras:   # several cameras (set in config.toml)
        shown["cameras"] = [{"name": c.name, "video": redact(c.video)} for c in room.cameras]
    return shown


def rooms(home: Path) -> list[dict[str, Any]]:
    return [record(name, r) for name, r in read(home).rooms.items()]


def _check(kind: str, value: Optional[str], found: Any, kept: Optional[str]) -> Optional[str]:
    value = clean_device(value)
    if kept and value == redact(kept):
        return kept                  # the masked form shown: the URL as it is
    if value is None or value == kept or value == TEST:
        return value
    parts = [p.strip() for p in value.split("+")] if kind == "audio" else [value]
    if any(p in found.secrets for p in parts):   # another source's masked URL: the URL it stands for
        parts = [found.real(p) for p in parts]
        value = "+".join(parts)
    allowed = found.ids(kind)
    if all(p in allowed or p.lower().startswith(NETWORK) for p in parts):
        return value
    raise SettingError(f"{kind} source {value!r} is not a device of this server nor a network camera URL",
                       code="bad_device")


def save(home: Path, defaults: Mapping[str, Any], change: RoomChange,
         sources: Optional[Any] = None) -> Settings:
    """Add or change a room; `sources`: what this server offers (service.sources.available), listed when
    not given."""
    current = read(home).rooms.get((change.name or "").strip(), Room())
    found = sources if sources is not None else available(home, defaults)
    transport = current.rtsp_transport if change.rtsp_transport is None else clean_transport(change.rtsp_transport)
    room = Room(_check("audio", change.audio, found, current.audio),
                _check("video", change.video, found, current.video),
                clean_device(",".join(s.strip() for s in (change.speakers or "").replace("，", ",").split(",")
                                      if s.strip())), transport, current.cameras, current.pip)
    return set_room(home, change.name, room, rename=change.rename)


def remove(home: Path, name: str) -> Settings:
    return set_room(home, name, None)
