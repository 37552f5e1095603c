"""The `[auth]` section of `<home>/config.toml`: login lifetimes, failed-login backoff, Argon2 cost, cookie Secure
flag, the reverse proxies whose X-Forwarded-For is believed (`trusted_proxies = ["10.0.0.5"]`, none by default)."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from accounts.addresses import parse_networks
from accounts.types import AuthError, AuthSettings
from core.config import ConfigError, read


def load_settings(home: Path) -> AuthSettings:
    try:
        settings = read(Path(home))
    except ConfigError as exc:
        raise AuthError(str(exc)) from exc
    path, section = settings.path, settings.auth
    known = {f.name: f for f in fields(AuthSettings)}
    values = {}
    for key, value in section.items():
        if key not in known:
            raise AuthError(f"{path}: unknown setting auth.{key} (known: {', '.join(sorted(known))})")
        if key == "secure_cookies":
            if not isinstance(value, bool):
                raise AuthError(f"{path}: auth.secure_cookies must be true or false")
        elif key == "trusted_proxies":
            if not isinstance(value, list):
                raise AuthError(f"{path}: auth.trusted_proxies must be a list of addresses, e.g. [\"10.0.0.5\"]")
            try:
                parse_networks(value)
            except ValueError as exc:
                raise AuthError(f"{path}: auth.trusted_proxies: {exc}") from exc
            value = tuple(v.strip() for v in value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise AuthError(f"{path}: auth.{key} must be a positive number, got {value!r}")
        values[key] = value
    return AuthSettings(**values)
