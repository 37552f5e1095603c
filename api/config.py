"""The home folder and the user's config file (`<home>/config.toml`)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from asr.errors import XunluError


class ConfigError(XunluError):
    """The config file cannot be read or has a wrong value."""


@dataclass(frozen=True)
class Config:
    language: str = "zh"
    model: str = "base"
    device: str = "auto"
    compute_type: str = "auto"


def home_dir(home: Optional[str] = None) -> Path:
    """--home, else $XUNLU_HOME, else ~/.local/share/xunlu."""
    chosen = home or os.environ.get("XUNLU_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                                   "share", "xunlu")
    return Path(chosen).expanduser()


def load_config(home: Path) -> Config:
    path = home / "config.toml"
    if not path.is_file():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    known = {f.name for f in fields(Config)}
    section = data.get("asr", data)
    values = {k: v for k, v in section.items() if k in known}
    for key, value in values.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: '{key}' must be a string, got {value!r}")
    return Config(**values)
