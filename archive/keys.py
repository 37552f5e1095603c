"""The audit key: an HMAC-SHA256 secret, kept apart from the archive, that keys every audit entry's hash and
signs the chain's head. Without it nobody can recompute the chain after deleting or editing an entry.

Where it is, first found wins: `$XUNLU_AUDIT_KEY` (a path), `[archive] audit_key = "PATH"` in
`<home>/config.toml` (relative paths are relative to the home), else `<home>/keys/audit.key`. The default is
only a place to start: a site keeps the key where the people who can edit the archive cannot (another disk,
another account, a sealed copy with the examiner), and writes anchors (`xunlu anchor`) elsewhere.

A key is made (32 random bytes, mode 0600, folder 0700) only for an archive whose chain was never keyed:
once a chain is keyed a missing key is an error, never a reason to make a new one.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from archive.types import ArchiveError
from core.config import ConfigError

KEY_ENV = "XUNLU_AUDIT_KEY"
KEY_BYTES = 32
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class AuditKey:
    path: Path
    secret: bytes = field(repr=False)

    @property
    def id(self) -> str:
        """A short name of the key (not the key): says which key signed a chain without giving it away."""
        return hmac.new(self.secret, b"xunlu audit key id", hashlib.sha256).hexdigest()[:16]

    def mac(self, data: bytes) -> str:
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def check(self, data: bytes, mac: object) -> bool:
        return isinstance(mac, str) and hmac.compare_digest(self.mac(data), mac)


def key_path(home: Path) -> Path:
    """Where this home's audit key is (it may not exist yet)."""
    home = Path(home)
    chosen = os.environ.get(KEY_ENV, "").strip()
    if not chosen:
        chosen = _configured(home) or ""
    if not chosen:
        return home / "keys" / "audit.key"
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else home / path


def _configured(home: Path) -> Optional[str]:
    path = home / "config.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path} (it may name the audit key): {exc}") from exc
    section = data.get("archive")
    value = section.get("audit_key") if isinstance(section, dict) else None
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: [archive] audit_key must be a path (a string)")
    return value


def load_key(path: Path) -> Optional[AuditKey]:
    """The key at `path`; None when there is no file. A file that is not a key is an error."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"the audit key {path} cannot be read: {exc}") from exc
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < KEY_BYTES:
        raise ArchiveError(f"the audit key {path} is not a key ({KEY_BYTES * 2} or more hex digits)")
    return AuditKey(Path(path), secret)


def create_key(path: Path) -> AuditKey:
    """Make a new key at `path` (0600 in a 0700 folder); never replaces a key that is there (two processes
    that start at once end up with the same key)."""
    path = Path(path)
    if not path.parent.is_dir():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            path.parent.chmod(DIR_MODE)
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(KEY_BYTES) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        try:
            os.link(tmp, path)          # no clobber: an existing key always wins
        except FileExistsError:
            pass
    except OSError as exc:
        raise ArchiveError(f"cannot create the audit key {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    key = load_key(path)
    if key is None:  # pragma: no cover  (removed between link and read)
        raise ArchiveError(f"the audit key {path} disappeared while it was being made")
    return key


def head_message(seq: int, digest: str, at: str) -> bytes:
    """What a signed head (and an anchor) signs: the newest entry's number, hash and time."""
    return f"xunlu-audit-head\n{seq}\n{digest}\n{at}".encode("utf-8")
