"""Crash-safe file writes (temp file + fsync + rename) and hashing."""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from archive.types import ArchiveError

CHUNK = 1 << 20


def disk_full(exc: OSError, doing: str) -> ArchiveError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ArchiveError(f"disk full while {doing}: free some space and try again (nothing was lost)")
    return ArchiveError(f"cannot write while {doing}: {exc.strerror or exc}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` so that `path` holds either the old content or all of the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise disk_full(exc, f"writing {path.name}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def copy_hashed(src: Path, dst: Path, mode: int = 0o444,
                progress: Optional[Callable[[int], None]] = None) -> tuple[str, int]:
    """Copy byte for byte via a temp file, fsync, rename; return (sha256, size) of what was written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    h = hashlib.sha256()
    size = 0
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while block := fin.read(CHUNK):
                h.update(block)
                fout.write(block)
                size += len(block)
                if progress:
                    progress(len(block))
            fout.flush()
            os.fsync(fout.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dst)
        fsync_dir(dst.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise disk_full(exc, f"copying {src.name}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return h.hexdigest(), size


def remove_tree(path: Path) -> None:
    """Remove a folder that holds read-only files."""
    if not path.exists():
        return
    for p in path.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, 0o700 if p.is_dir() else 0o600)
    shutil.rmtree(path, ignore_errors=True)


def hash_stream(f: BinaryIO) -> str:
    h = hashlib.sha256()
    while block := f.read(CHUNK):
        h.update(block)
    return h.hexdigest()
