"""Writing `<home>/config.toml` from the admin pages: the [rooms."NAME"] tables and the [centre] table are
rewritten, everything else in the file (comments, [auth], [asr], [limits]) is kept line for line.

The new text is parsed again before it replaces the file (atomically): if the sections do not read back as
written (a room given as a dotted key at the top of the file, say), nothing is written and a ConfigError
says so.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import Mapping, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from core.config import (
    CONFIG_FILE,
    Centre,
    ConfigError,
    Room,
    SettingError,
    Settings,
    UnknownSetting,
    check_zone,
    read,
    rtsp_transport,
    settings_of,
)

_HEADER = re.compile(r"^\s*\[(?!\[)(.+?)\]\s*(#.*)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_lock = threading.Lock()
MAX_NAME = 64


def quote(value: str) -> str:
    """A TOML basic string."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", out) + '"'


def clean_room_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or _CONTROL.search(name) or '"' in name or "\\" in name:
        raise SettingError(f"room name {name!r} cannot be used: 1-{MAX_NAME} characters, no quotes, backslashes "
                           "or line breaks", code="bad_room")
    return name


def clean_device(value: Optional[str]) -> Optional[str]:
    value = (value or "").strip()
    if len(value) > 500 or _CONTROL.search(value):
        raise SettingError(f"device {value[:60]!r} cannot be used: no line breaks, at most 500 characters",
                           code="bad_device")
    return value or None


def clean_transport(value: Optional[str]) -> Optional[str]:
    """A room camera's RTSP transport (auto, tcp, udp, udp_multicast); None: auto."""
    try:
        return rtsp_transport(value)
    except ValueError as exc:
        raise SettingError(str(exc), code="bad_rtsp_transport") from None


def _first_key(header: str) -> str:
    """`rooms."讯问室1"` -> rooms; `centre` -> centre."""
    head = header.strip()
    if head[:1] in "\"'":
        end = head.find(head[0], 1)
        return head[1:end] if end > 0 else head
    return head.split(".", 1)[0].strip()


def _without(text: str, section: str) -> str:
    """The text without the tables whose key starts with `section` (each up to the next table header)."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        m = _HEADER.match(line)
        if m or line.lstrip().startswith("[["):
            dropping = bool(m) and _first_key(m.group(1)) == section
        if not dropping:
            kept.append(line)
    return "".join(kept).rstrip("\n")


def _inline(table: Mapping[str, object]) -> str:
    """A TOML inline table of strings and numbers (a room camera, a picture-in-picture layout)."""
    def value(v: object) -> str:
        return quote(v) if isinstance(v, str) else repr(float(v)) if isinstance(v, float) else str(v)
    return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in table.items()) + " }"


def _room_tables(rooms: Mapping[str, Room]) -> str:
    blocks = []
    for name, room in rooms.items():
        lines = [f"[rooms.{quote(name)}]"]
        for key in ("audio", "video"):
            value = getattr(room, key)
            if value:
                lines.append(f"{key} = {quote(value)}")
        if room.speakers:
            names = [s.strip() for s in room.speakers.split(",") if s.strip()]
            lines.append("speakers = [" + ", ".join(quote(s) for s in names) + "]")
        if room.rtsp_transport:
            lines.append(f"rtsp_transport = {quote(room.rtsp_transport)}")
        if room.cameras:
            lines.append("cameras = [" + ", ".join(_inline(c.to_toml()) for c in room.cameras) + "]")
        if room.pip is not None:
            lines.append(f"pip = {_inline(room.pip.to_toml())}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _write(home: Path, section: str, tables: str) -> Settings:
    path = Path(home) / CONFIG_FILE
    with _lock:
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        rest = _without(old, section)
        new = "\n\n".join(part for part in (rest, tables) if part.strip()) + "\n"
        try:
            tomllib.loads(new)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: cannot rewrite [{section}]: {exc}") from exc
        tmp = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
        tmp.write_text(new, encoding="utf-8")
        try:
            written = _read_back(tmp, home)
        except ConfigError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
    return written


def _read_back(tmp: Path, home: Path) -> Settings:
    """The settings the new text gives (read from the temporary file as if it were config.toml)."""
    return settings_of(Path(home) / CONFIG_FILE, tomllib.loads(tmp.read_text(encoding="utf-8")))


def set_rooms(home: Path, rooms: Mapping[str, Room]) -> Settings:
    """Replace every [rooms."NAME"] table with these rooms (in this order)."""
    wanted = {clean_room_name(n): Room(clean_device(r.audio), clean_device(r.video), clean_device(r.speakers),
                                       clean_transport(r.rtsp_transport), r.cameras, r.pip)
              for n, r in rooms.items()}
    settings = _write(home, "rooms", _room_tables(wanted))
    if settings.rooms != wanted:
        raise ConfigError(f"{settings.path}: the rooms do not read back as written; edit the file by hand")
    return settings


def set_room(home: Path, name: str, room: Optional[Room], rename: Optional[str] = None) -> Settings:
    """Add or change one room (`rename` gives it a new name in its place), or remove it (`room` None)."""
    rooms = dict(read(home).rooms)
    name = clean_room_name(name)
    if room is None or rename:
        if name not in rooms:
            raise UnknownSetting(f"no room {name!r} in {CONFIG_FILE}")
    if room is None:
        rooms.pop(name)
    elif rename and clean_room_name(rename) != name:
        if clean_room_name(rename) in rooms:
            raise SettingError(f"there is already a room {rename!r}", code="room_exists")
        rooms = {(clean_room_name(rename) if k == name else k): (room if k == name else v) for k, v in rooms.items()}
    else:
        rooms[name] = room
    return set_rooms(home, rooms)


def set_centre(home: Path, timezone: Optional[str]) -> Settings:
    """Set (or, with None, clear back to the default) the centre's time zone."""
    if timezone is not None:
        check_zone(timezone)
    table = f"[centre]\ntimezone = {quote(timezone)}" if timezone else ""
    settings = _write(home, "centre", table)
    if settings.centre != Centre(timezone or None):
        raise ConfigError(f"{settings.path}: [centre] does not read back as written; edit the file by hand")
    return settings
