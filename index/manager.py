"""Where the index lives, how it is opened, updated, searched, rebuilt and swapped.

`<home>/index/CURRENT` names the live index folder (`ix-...`). A rebuild writes a new folder beside it and
swaps CURRENT (atomic rename) only when the new index is complete, so an interrupted rebuild (Ctrl-C,
kill -9) leaves the old one answering, and searches go on during the rebuild.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from whoosh import index as wi, query as wq

from asr.types import Segment
from index.query import QueryError, parse, parse_day
from index.search_index import Hit, SessionMeta, documents, schema, terms_of, to_hit, to_whoosh

log = logging.getLogger("xunlu.index")


def _workers_die_with_parent() -> None:
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


class IndexProblem(Exception):
    """The index is missing or cannot be read; it must be rebuilt from the archive."""


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 20
    case_id: Optional[str] = None
    speaker: Optional[str] = None
    since: Optional[str] = None
    until: Optional[str] = None
    sort: str = "score"          # or "time": by session date, session and time


class SearchIndex:
    def __init__(self, home: Path):
        self.root = Path(home) / "index"
        self.root.mkdir(parents=True, exist_ok=True)
        self.pointer = self.root / "CURRENT"

    # -- locations ------------------------------------------------------------------------------------
    def current_dir(self) -> Optional[Path]:
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return self.root / name if name else None

    def open(self, check: bool = True) -> wi.Index:
        """The live index; with `check`, also read its segments once, so damage shows here."""
        folder = self.current_dir()
        if folder is None or not folder.is_dir():
            raise IndexProblem("the search index is missing")
        try:
            ix = wi.open_dir(str(folder))
            if check:
                with ix.searcher() as s:
                    s.doc_count()
            return ix
        except Exception as exc:  # whoosh raises many kinds on a damaged folder
            raise IndexProblem(f"the search index cannot be read ({type(exc).__name__}: {exc})") from exc

    def exists(self) -> bool:
        try:
            self.open().close()
            return True
        except IndexProblem:
            return False

    def _new_dir(self) -> Path:
        folder = self.root / f"ix-{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}"
        folder.mkdir(parents=True)
        wi.create_in(str(folder), schema())
        return folder

    def _swap(self, folder: Path) -> None:
        tmp = self.root / f".CURRENT.{os.getpid()}"
        tmp.write_text(folder.name)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        old = self.current_dir()
        os.replace(tmp, self.pointer)
        if old is not None and old != folder:
            shutil.rmtree(old, ignore_errors=True)

    @contextlib.contextmanager
    def _rebuild_lock(self) -> Iterator[None]:
        with open(self.root / "rebuild.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # -- writing --------------------------------------------------------------------------------------
    def ensure(self) -> None:
        """An empty index when there is none yet."""
        if self.current_dir() is None:
            with self._rebuild_lock():
                if self.current_dir() is None:
                    self._swap(self._new_dir())

    def replace_session(self, meta: SessionMeta, segments: Iterable[Segment]) -> None:
        """Index a session's (latest) transcript, replacing whatever was indexed for it."""
        self.ensure()
        ix = self.open()
        with ix.writer(timeout=30.0) as w:
            w.delete_by_term("session", meta.id)
            for doc in documents(meta, segments):
                w.add_document(**doc)

    def add_segments(self, meta: SessionMeta, segments: Iterable[Segment]) -> None:
        """Append segments of a session being recorded (live)."""
        self.ensure()
        ix = self.open()
        with ix.writer(timeout=30.0) as w:
            for doc in documents(meta, segments):
                w.update_document(**doc)

    def rebuild(self, sessions: Iterable[tuple[SessionMeta, list[Segment]]], total: int,
                on_session: Callable[[str], None] = lambda _sid: None, procs: int = 2) -> int:
        """Build a new index from `sessions` beside the live one and swap it in when complete."""
        with self._rebuild_lock():
            for stale in self.root.glob("ix-*"):
                if stale != self.current_dir():
                    shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted rebuild
            folder = self._new_dir()
            ix = wi.open_dir(str(folder))
            procs = max(1, min(procs, os.cpu_count() or 1))
            if procs > 1:
                _workers_die_with_parent()
            writer = ix.writer(procs=procs, multisegment=True, limitmb=128) if procs > 1 else ix.writer()
            count = 0
            try:
                for meta, segments in sessions:
                    for doc in documents(meta, segments):
                        writer.add_document(**doc)
                        count += 1
                    on_session(meta.id)
                writer.commit()
            except BaseException:
                writer.cancel()
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self._swap(folder)
            return count

    # -- searching ------------------------------------------------------------------------------------
    def search(self, text: str, options: SearchOptions = SearchOptions()) -> list[Hit]:
        node = parse(text)
        since = parse_day(options.since, "--since")
        until = parse_day(options.until, "--until", end_of_day=True)
        if since and until and since > until:
            raise QueryError(f"--since {options.since} is after --until {options.until}")
        if options.limit < 1:
            raise QueryError("--limit must be at least 1")
        filters = []
        if options.case_id:
            filters.append(wq.Term("case", options.case_id))
        if options.speaker:
            filters.append(wq.Term("speaker", options.speaker))
        if since or until:
            filters.append(wq.DateRange("date", since, until))
        q = to_whoosh(node)
        terms = terms_of(node)
        ix = self.open(check=False)  # the searcher below reads the segments anyway
        started = time.perf_counter()
        try:
            with ix.searcher() as s:
                results = s.search(q, limit=options.limit, filter=wq.And(filters) if filters else None)
                hits = [to_hit(r.fields(), r.score, terms) for r in results]
        except (OSError, ValueError, EOFError, KeyError) as exc:
            raise IndexProblem(f"the search index cannot be read ({type(exc).__name__}: {exc})") from exc
        log.debug("search %r: %d hits in %.1f ms", text, len(hits), (time.perf_counter() - started) * 1000)
        if options.sort == "time":
            hits.sort(key=lambda h: (h.date or "", h.session, h.start))
        return hits
