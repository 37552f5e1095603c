"""Crash-safe file writes (temp file + fsync + rename) and hashing."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional

from archive.types import ArchiveError, DiskFull

CHUNK = 1 << 20


def disk_full(exc: OSError, doing: str) -> ArchiveError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(f"disk full while {doing}: free some space and try again (nothing was lost)")
    return ArchiveError(f"cannot write while {doing}: {exc.strerror or exc}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(dst: Path, mode: int, doing: str) -> Iterator[BinaryIO]:
    """Write through a temp file beside `dst`; fsync, then rename over `dst` only if all went well."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dst)
        fsync_dir(dst.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise disk_full(exc, doing) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` so that `path` holds either the old content or all of the new, never a part."""
    with replacing(path, mode, f"writing {path.name}") as f:
        f.write(data)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hash_stream(f)


def copy_hashed(src: Path, dst: Path, mode: int = 0o444,
                progress: Optional[Callable[[int], None]] = None) -> tuple[str, int]:
    """Copy byte for byte via a temp file, fsync, rename; return (sha256, size) of what was written."""
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, replacing(dst, mode, f"copying {src.name}") as fout:
        while block := fin.read(CHUNK):
            h.update(block)
            fout.write(block)
            size += len(block)
            if progress:
                progress(len(block))
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
