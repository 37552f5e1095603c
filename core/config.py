"""The home folder and the user's config file, `<home>/config.toml`, read in one place.

    language = "zh"                  # [asr] keys may also sit at the top level (older files)
    [asr]     language, model, device, compute_type
    [auth]    login lifetimes, lockout, Argon2 cost, secure_cookies (checked by accounts.config)
    [limits]  max_import_hours = 24, max_decoded_gb = 4 (what one import may decode to)
    [rooms."讯问室1"]  audio = "pulse", video = "/dev/video0", speakers = ["officer", "suspect"]

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

from core.errors import XunluError

CONFIG_FILE = "config.toml"


class ConfigError(XunluError):
    """The config file cannot be read or has a wrong value."""

    http_status = 500   # the server's own file is wrong: nothing the request can change


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

    def devices(self) -> dict[str, str]:
        return {k: v for k, v in (("audio", self.audio), ("video", self.video), ("speakers", self.speakers)) if v}


@dataclass(frozen=True)
class Limits:
    """[limits]: what an import may decode to, checked from the file's header before any decoding (a small
    compressed file can hold hours of audio)."""

    max_import_hours: float = 24.0
    max_decoded_gb: float = 4.0       # channels x hours of 16 kHz float32 audio (17 h mono, 8.7 h stereo)

    def decoded_bytes(self, seconds: float, channels: int) -> int:
        return int(seconds * 16000 * 4 * max(1, channels))


@dataclass(frozen=True)
class Settings:
    path: Path
    asr: Config = field(default_factory=Config)
    limits: Limits = field(default_factory=Limits)
    rooms: dict[str, Room] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)


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
    auth = data.get("auth", {})
    if not isinstance(auth, dict):
        raise ConfigError(f"{path}: [auth] must be a table")
    return Settings(path, _asr(path, data), _limits(path, data.get("limits", {})), _rooms(data.get("rooms", {})), auth)


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


def _rooms(table: Any) -> dict[str, Room]:
    if not isinstance(table, dict):
        return {}

    def text(value: Any) -> Optional[str]:
        if isinstance(value, list):
            value = ",".join(map(str, value))
        return str(value) if value else None

    return {str(name): Room(text(spec.get("audio")), text(spec.get("video")), text(spec.get("speakers")))
            for name, spec in table.items() if isinstance(spec, dict)}
