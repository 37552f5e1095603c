"""Work-arounds for Whoosh(-Reloaded) behaviour that xunlu's index cannot live with, in one place."""
from __future__ import annotations

import os
from pathlib import Path

from whoosh import index as wi


def workers_die_with_parent() -> None:
    """Whoosh's writer processes would outlive a killed rebuild, idle forever and holding the rebuild
    lock they inherited. On Linux, ask the kernel to kill each of them when its parent dies."""
    from whoosh import multiproc

    task = multiproc.SubWriterTask
    if getattr(task, "_xunlu_patched", False):
        return
    original = task.run

    def run(self):  # runs in the forked child
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # the parent died before the line above
                os._exit(1)
        except (OSError, AttributeError):
            pass
        return original(self)

    task.run = run
    task._xunlu_patched = True


def missing_columns_remembered() -> None:
    """When Whoosh writes a segment's postings it asks the length of every posting's field, and for fields
    without lengths (the ID fields) looks for the column file on disk each time: a stat() per posting,
    a tenth of a rebuild. A finished segment's columns never change, so remember the ones that are not
    there."""
    from whoosh.codec import whoosh3

    cls = whoosh3.W3PerDocReader
    if getattr(cls, "_xunlu_patched", False):
        return
    original = cls._cached_reader

    def _cached_reader(self, fieldname, column):
        missing = self.__dict__.setdefault("_xunlu_missing", set())
        if fieldname in missing:
            return None
        reader = original(self, fieldname, column)
        if reader is None:
            missing.add(fieldname)
        return reader

    cls._cached_reader = _cached_reader
    cls._xunlu_patched = True


def _segment_key(segment) -> tuple:
    deleted = segment.deleted_count()
    return segment.segment_id(), deleted, frozenset(segment.deleted_docs()) if deleted else None


def open_searcher(folder: Path, reuse=None):
    """A searcher of the folder's latest generation. With `reuse` (an older searcher of the same folder),
    readers of segments that did not change, deletions included, are taken over and the others closed;
    `reuse` must not be used afterwards. (Whoosh-Reloaded's own Searcher.refresh() would also add back
    segments a merge removed, and reuses a segment's reader after new deletions in it.)"""
    from whoosh.reading import EmptyReader, MultiReader, SegmentReader
    from whoosh.searching import Searcher

    ix = wi.open_dir(str(folder))
    if reuse is None:
        return ix.searcher()
    toc = ix._read_toc()
    reusable = {}
    for reader, _offset in reuse.reader().leaf_readers():
        segment = reader.segment() if hasattr(reader, "segment") else None
        if segment is not None:
            reusable[_segment_key(segment)] = reader
    readers, opened = [], []
    try:
        for segment in toc.segments:
            reader = reusable.pop(_segment_key(segment), None)
            if reader is None:
                reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
                opened.append(reader)
            readers.append(reader)
    except BaseException:
        for reader in opened:
            reader.close()
        raise
    for reader in reusable.values():
        reader.close()
    if not readers:
        top = EmptyReader(toc.schema)
    elif len(readers) == 1:
        top = readers[0]
        top._gen = toc.generation  # a reused reader still names the generation it was opened at
    else:
        top = MultiReader(readers, generation=toc.generation)
    return Searcher(top, fromindex=ix)
