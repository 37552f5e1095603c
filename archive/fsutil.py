"""Crash-safe file writes (temp file + fsync + rename), hashing, and the archive's file modes: folders 0700,
files 0600, evidence (originals, copies, transcript versions) 0400: only the account that runs xunlu (the CLI
and the web server alike) can read them."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional

from archive.types import ArchiveError, DiskFull

CHUNK = 1 << 20
DIR_MODE = 0o700
FILE_MODE = 0o600
READ_ONLY = 0o400


def make_dirs(path: Path, mode: int = DIR_MODE) -> None:
    """mkdir -p where each folder it makes gets `mode` (Path.mkdir gives parents the default mode)."""
    path = Path(path)
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):
            os.chmod(folder, mode)


def private(mode: int) -> int:
    """The owner's part of a mode, read-only where it was read-only."""
    return READ_ONLY if not mode & 0o200 else FILE_MODE


def secure_tree(root: Path) -> int:
    """Folders 0700, files 0600 (0400 where read-only) under `root`: an archive made before files were
    private. Symbolic links are left alone. Returns how many modes changed."""
    changed = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            want = DIR_MODE if stat.S_ISDIR(st.st_mode) else private(st.st_mode)
            if stat.S_IMODE(st.st_mode) != want:
                with contextlib.suppress(OSError):
                    os.chmod(path, want)
                    changed += 1
    return changed


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
    make_dirs(dst.parent)
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


def copy_hashed(src: Path, dst: Path, mode: int = READ_ONLY,
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


def settle(pending: Path, final: Path, sha256: str) -> bool:
    """Finish a write committed to the catalog before its file was renamed into place (a crash between the
    two): move `pending` to `final` when it holds the catalogued bytes. True when `final` is there."""
    if final.exists():
        return True
    try:
        if sha256_file(pending) != sha256:
            return False
        os.replace(pending, final)
        fsync_dir(final.parent)
    except FileNotFoundError:      # settled meanwhile by another reader, or never written
        return final.exists()
    except OSError:
        return False
    return True


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
