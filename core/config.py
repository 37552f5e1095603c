"""The home folder and the user's config file, `<home>/config.toml`, read in one place.

    language = "zh"                  # [asr] keys may also sit at the top level (older files)
    [asr]     language, model, device, compute_type
    [auth]    login lifetimes, lockout, Argon2 cost, secure_cookies (checked by accounts.config)
    [limits]  max_import_hours = 24, max_decoded_gb = 4 (what one import may decode to)
    [rooms."讯问室1"]  audio = "pulse", video = "/dev/video0", speakers = ["officer", "suspect"],
              rtsp_transport = "auto"  (a network camera: auto, tcp, udp or udp_multicast; capture/rtsp.py)
              or several cameras: cameras = [{ name = "全景", video = "rtsp://..." }, ...], pip = { ... }
              (core/cameras.py)
    [centre]  timezone = "Asia/Shanghai"  (the centre's clock: every rule and every time a page shows)

`read(home)` parses the file once and gives each section typed: `Config` for ASR, `Room` for each room, the
raw [auth] table for accounts.config (its types belong to accounts). A file that cannot be read or has a
wrong value is a ConfigError naming the file.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from core.cameras import PipLayout, RoomCamera, pip_layout
from core.cameras import cameras as parse_cameras
from core.errors import XunluError

CONFIG_FILE = "config.toml"


class ConfigError(XunluError):
    """The config file cannot be read or has a wrong value."""

    code = "config_error"
    http_status = 500   # the server's own file is wrong: nothing the request can change


class SettingError(XunluError):
    """A value given to change the config (from the admin pages) that cannot be used: the request is wrong,
    not the file."""

    code = "bad_setting"


class UnknownSetting(SettingError):
    """The room (or other entry) to change is not in the config."""

    http_status = 404
    code = "unknown_room"


@dataclass(frozen=True)
class Config:
    """[asr]: the defaults of transcription."""

    language: str = "zh"
    model: str = "base"
    device: str = "auto"
    compute_type: str = "auto"


@dataclass(frozen=True)
class Room:
    """[rooms."NAME"]: the microphone and camera of an interview room (a one-key start needs nothing more)."""

    audio: Optional[str] = None
    video: Optional[str] = None
    speakers: Optional[str] = None     # comma-separated channel names
    rtsp_transport: Optional[str] = None   # how to ask its network camera for RTP: auto (None), tcp, udp,
                                           # udp_multicast
    cameras: tuple[RoomCamera, ...] = ()   # several cameras (core/cameras.py); then `video` is not given
    pip: Optional[PipLayout] = None        # their picture-in-picture layout (None: the defaults)

    def devices(self) -> dict[str, str]:
        """The room's sources for a one-key start; with several cameras, `video` is the first (the others
        join it: service/multicam.py)."""
        video = self.video or (self.cameras[0].video if self.cameras else None)
        return {k: v for k, v in (("audio", self.audio), ("video", video), ("speakers", self.speakers),
                                  ("rtsp_transport", self.rtsp_transport)) if v}


@dataclass(frozen=True)
class Limits:
    """[limits]: what an import may decode to, checked from the file's header before any decoding (a small
    compressed file can hold hours of audio)."""

    max_import_hours: float = 24.0
    max_decoded_gb: float = 4.0       # channels x hours of 16 kHz float32 audio (17 h mono, 8.7 h stereo)

    def decoded_bytes(self, seconds: float, channels: int) -> int:
        return int(seconds * 16000 * 4 * max(1, channels))


@dataclass(frozen=True)
class Centre:
    """[centre]: the law-enforcement centre's own clock. Night questioning, the day of a summary and every
    time a page shows are read on it, whatever the offset a session was stored with (an interview imported
    on a machine set to UTC started at 00:32+00:00 is 08:32 in Beijing). Left out: Asia/Shanghai when the
    language is Chinese (the default), else this machine's zone."""

    timezone: Optional[str] = None


@dataclass(frozen=True)
class Settings:
    path: Path
    asr: Config = field(default_factory=Config)
    limits: Limits = field(default_factory=Limits)
    rooms: dict[str, Room] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)
    centre: Centre = field(default_factory=Centre)

    @property
    def timezone(self) -> str:
        """The IANA name of the centre's time zone (see Centre)."""
        if self.centre.timezone:
            return self.centre.timezone
        return CHINA_ZONE if self.asr.language in ("zh", "auto") else machine_zone()


CHINA_ZONE = "Asia/Shanghai"


def machine_zone() -> str:
    """This machine's IANA zone name ($TZ, /etc/timezone, the /etc/localtime link), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    except OSError:
        pass
    for name in candidates:
        if name and check_zone(name, quiet=True):
            return name
    return "UTC"


def check_zone(name: str, quiet: bool = False) -> Optional[str]:
    """`name` when it is an IANA time zone this machine knows; else None (quiet) or a ConfigError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise ValueError(name)
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        if quiet:
            return None
        raise SettingError(f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai",
                           code="unknown_timezone") from None


def zone(home: Path):
    """The centre's time zone as a tzinfo (`read(home).timezone`)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(read(home).timezone)


def on_clock(iso: Optional[str], zone: Any) -> Optional[str]:
    """The same moment as ISO 8601 on the clock of `zone` (a tzinfo, e.g. `zone(home)`):
    "2026-11-21T00:32:00+00:00" -> "2026-11-21T08:32:00+08:00" in Asia/Shanghai. A time without an offset
    (already the centre's: it was read on it when typed), a text that is not a time, or no zone: unchanged."""
    if not iso or zone is None:
        return iso
    from datetime import datetime

    try:
        when = datetime.fromisoformat(iso.strip())
    except ValueError:
        return iso
    return iso if when.tzinfo is None else when.astimezone(zone).isoformat(timespec="seconds")


def home_dir(home: Optional[str] = None) -> Path:
    """--home, else $XUNLU_HOME, else ~/.local/share/xunlu."""
    chosen = home or os.environ.get("XUNLU_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                                   "share", "xunlu")
    return Path(chosen).expanduser()


def read(home: Path) -> Settings:
    """Every section of `<home>/config.toml`; the defaults when there is no file."""
    path = Path(home) / CONFIG_FILE
    if not path.is_file():
        return Settings(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return settings_of(path, data)


def settings_of(path: Path, data: dict[str, Any]) -> Settings:
    """The typed sections of a parsed config file (ConfigError for a wrong value, naming `path`)."""
    auth = data.get("auth", {})
    if not isinstance(auth, dict):
        raise ConfigError(f"{path}: [auth] must be a table")
    return Settings(path, _asr(path, data), _limits(path, data.get("limits", {})),
                    _rooms(path, data.get("rooms", {})), auth, _centre(path, data.get("centre", {})))


def load_config(home: Path) -> Config:
    """The [asr] section (the part most commands need)."""
    return read(home).asr


def _asr(path: Path, data: dict[str, Any]) -> Config:
    known = {f.name for f in fields(Config)}
    section = data.get("asr", data)
    values = {k: v for k, v in section.items() if k in known}
    for key, value in values.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: '{key}' must be a string, got {value!r}")
    return Config(**values)


def _limits(path: Path, table: Any) -> Limits:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [limits] must be a table")
    known = {f.name for f in fields(Limits)}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown setting limits.{key} (known: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{path}: limits.{key} must be a positive number, got {value!r}")
    return Limits(**{k: float(v) for k, v in table.items()})


def _centre(path: Path, table: Any) -> Centre:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [centre] must be a table")
    unknown = set(table) - {f.name for f in fields(Centre)}
    if unknown:
        raise ConfigError(f"{path}: unknown setting centre.{sorted(unknown)[0]} (known: timezone)")
    name = table.get("timezone")
    if name is not None and (not isinstance(name, str) or not check_zone(name, quiet=True)):
        raise ConfigError(f"{path}: centre.timezone {name!r} is not a time zone (use an IANA name such as "
                          "Asia/Shanghai)")
    return Centre(name or None)


RTSP_TRANSPORTS = ("auto", "tcp", "udp", "udp_multicast")   # capture/rtsp.py says what each does


def rtsp_transport(value: Any) -> Optional[str]:
    """A room's `rtsp_transport` in its canonical form; None when not given; ValueError when not one of
    RTSP_TRANSPORTS."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    canonical = str(value).strip().lower().replace("-", "_")
    if canonical not in RTSP_TRANSPORTS:
        raise ValueError(f"rtsp_transport {value!r} is not one of {', '.join(RTSP_TRANSPORTS)}")
    return canonical


def _rooms(path: Path, table: Any) -> dict[str, Room]:
    if not isinstance(table, dict):
        return {}

    def text(value: Any) -> Optional[str]:
        if isinstance(value, list):
            value = ",".join(map(str, value))
        return str(value) if value else None

    rooms = {}
    for name, spec in table.items():
        if not isinstance(spec, dict):
            continue
        try:
            transport = rtsp_transport(spec.get("rtsp_transport"))
            several = parse_cameras(spec.get("cameras"), rtsp_transport)
            layout = pip_layout(spec["pip"]) if "pip" in spec else None
            if several and spec.get("video"):
                raise ValueError("give either video (one camera) or cameras (several), not both")
        except ValueError as exc:
            raise ConfigError(f"{path}: rooms.{name}: {exc}") from None
        rooms[str(name)] = Room(text(spec.get("audio")), text(spec.get("video")), text(spec.get("speakers")),
                                transport, several, layout)
    return rooms
