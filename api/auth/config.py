"""The `[auth]` section of `<home>/config.toml`: login lifetimes, lockout, Argon2 cost, cookie Secure flag."""
from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from api.auth.types import AuthError, AuthSettings


def load_settings(home: Path) -> AuthSettings:
    path = Path(home) / "config.toml"
    if not path.is_file():
        return AuthSettings()
    try:
        section = tomllib.loads(path.read_text(encoding="utf-8")).get("auth", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AuthError(f"cannot read {path}: {exc}") from exc
    if not isinstance(section, dict):
        raise AuthError(f"{path}: [auth] must be a table")
    known = {f.name: f for f in fields(AuthSettings)}
    values = {}
    for key, value in section.items():
        if key not in known:
            raise AuthError(f"{path}: unknown setting auth.{key} (known: {', '.join(sorted(known))})")
        if key == "secure_cookies":
            if not isinstance(value, bool):
                raise AuthError(f"{path}: auth.secure_cookies must be true or false")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise AuthError(f"{path}: auth.{key} must be a positive number, got {value!r}")
        values[key] = value
    return AuthSettings(**values)
