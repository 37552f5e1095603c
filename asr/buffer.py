"""Decoded audio kept in a temporary file instead of process memory, and gone through a chunk at a time.

A recording decodes to 230 MB an hour a channel (16 kHz float32). The decoder appends its frames to an
unnamed temporary file (`Spool`), and what it returns is a np.memmap of that file, shape (channels, n), that
the rest of the pipeline slices like any array (`Channel.samples` is a row of it). The file has no name from
the moment it is made (O_TMPFILE, or unlinked at once where that is missing), so nothing is ever left behind:
its disk space goes back when the last array over it is dropped, after an error too, and after a kill -9.
It lives in `tempfile`'s folder ($TMPDIR, else /tmp): where /tmp is a RAM disk, point TMPDIR at a real one.

A pass over a whole file-backed array (the crosstalk gate, the VAD) takes `chunks` in turn and `release`s
each one's pages when done: they stay in the kernel's page cache (written back, or dropped when memory is
short), not in the process's resident memory.
"""
from __future__ import annotations

import mmap
import tempfile
from typing import Iterator, Optional

import numpy as np

PREFIX = "xunlu-audio-"


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive pieces of 0..n, each `size` long but the last."""
    for a in range(0, n, size):
        yield a, min(n, a + size)


def file_backed(array: np.ndarray) -> bool:
    """Whether `array` (or the array it is a view of) lives in a mapped file."""
    return getattr(array, "_mmap", None) is not None


def release(view: np.ndarray) -> None:
    """Give back the resident pages under `view`, a piece of a file-backed array: the data stays in the file
    (and in the page cache), and is read again if the piece is used again. Nothing for an in-memory array,
    nor for a copy-on-write one (mode "c": its changes live only in those pages)."""
    mm = getattr(view, "_mmap", None)
    if mm is None or view.size == 0 or not hasattr(mm, "madvise") or getattr(view, "mode", "c") == "c":
        return
    try:
        from numpy.lib.array_utils import byte_bounds
    except ImportError:  # numpy < 2
        byte_bounds = np.byte_bounds
    lo, hi = byte_bounds(view)
    base = np.frombuffer(mm, dtype=np.uint8, count=1).ctypes.data
    start = (lo - base) // mmap.PAGESIZE * mmap.PAGESIZE
    if 0 <= start < len(mm):
        mm.madvise(mmap.MADV_DONTNEED, start, min(len(mm), hi - base) - start)


def empty(shape: tuple[int, int], on_disk: bool, folder: Optional[str] = None) -> np.ndarray:
    """A new float32 array: in a temporary file when `on_disk`, else in memory."""
    size = shape[0] * shape[1] * 4
    if not on_disk or size == 0:
        return np.empty(shape, dtype=np.float32)
    with tempfile.TemporaryFile(prefix=PREFIX, dir=folder) as f:
        f.truncate(size)   # sparse until written
        return np.memmap(f, dtype=np.float32, mode="r+", shape=shape)


class Spool:
    """Decoded frames appended to a temporary file as they come; `samples()` maps what was written.

    Use as a context manager: leaving the block closes the file (the mapping, if made, keeps its data)."""

    def __init__(self, channels: int, folder: Optional[str] = None):
        self.channels = channels
        self.frames = 0            # samples per channel written so far
        self._file = tempfile.TemporaryFile(prefix=PREFIX, dir=folder)

    def append(self, interleaved: np.ndarray) -> None:
        """float32 samples, channel after channel for each instant (packed), a whole number of frames."""
        data = np.ascontiguousarray(interleaved, dtype=np.float32)
        self._file.write(memoryview(data).cast("B"))
        self.frames += data.size // self.channels

    def samples(self) -> np.ndarray:
        """What was written, shape (channels, frames): a read-write memmap of the file (a view of it whose
        rows are the channels, `channels` samples apart)."""
        self._file.flush()
        frames = np.memmap(self._file, dtype=np.float32, mode="r+", shape=(self.frames, self.channels))
        return frames.T

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
