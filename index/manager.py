"""Where the index lives, how it is opened, updated, searched, rebuilt and swapped.

`<home>/index/CURRENT` names the live index folder (`ix-...`). A rebuild writes a new folder beside it and
swaps CURRENT (atomic rename) only when the new index is complete, so an interrupted rebuild (Ctrl-C,
kill -9) leaves the old one answering, and searches go on during the rebuild.

Opening a large index costs about a second (Whoosh reads its term tables and per-document offsets), so each
process keeps one open searcher per index and reuses it while the index is unchanged: a search checks the
CURRENT pointer and Whoosh's generation (a file read and a directory listing), refreshes the searcher when a
writer committed (only changed segments are reopened) and reopens it when a rebuild swapped folders.
Searches through the shared searcher are serialised by a lock, so any thread may call `search`.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from whoosh import index as wi
from whoosh import query as wq

from core.errors import XunluError
from core.transcript import Segment
from index.fastfilter import Filter
from index.fastscore import FastScorer
from index.plan import hits_of, plan
from index.postings import Unsupported
from index.search_index import FORMAT_CHANGES, INDEX_FORMAT, Hit, SessionMeta, documents, schema
from index.whoosh_fixes import missing_columns_remembered, open_searcher, workers_die_with_parent

log = logging.getLogger("xunlu.index")
# Memory each rebuild writer gathers postings in before it writes a sorted run to disk (Whoosh's limitmb; all
# runs are merged at the end). Sound-alike and number fields nearly doubled the postings of a segment: at
# 128 MB a 15-hour rebuild took 19 s of CPU instead of 12 s, most of it writing and merging runs.
REBUILD_POOL_MB = 512
SEARCH_ENV = "XUNLU_SEARCH"   # whoosh (the default) or postgresql


class IndexProblem(XunluError):
    """The index is missing, cannot be read or was built in another format; it must be rebuilt from the
    archive."""

    code = "index_unavailable"
    http_status = 503


FORMAT_FILE = "FORMAT"
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError)  # what Whoosh raises on damaged files


class _Shared:
    """The open searcher of one index root in this process, and the lock that serialises its use."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.folder: Optional[Path] = None
        self.searcher = None
        self.opened_ms = 0.0
        self._fast = None  # (searcher, FastScorer)

    def drop(self) -> None:
        if self.searcher is not None:
            with contextlib.suppress(Exception):
                self.searcher.close()
        self.searcher, self.folder, self._fast = None, None, None

    def fast_scorer(self, searcher) -> FastScorer:
        if self._fast is None or self._fast[0] is not searcher:
            self._fast = (searcher, FastScorer(searcher))
        return self._fast[1]


_SHARED: "OrderedDict[Path, _Shared]" = OrderedDict()
_SHARED_LOCK = threading.Lock()
_SHARED_MAX = 8  # index roots kept open per process (tests use many homes; a server uses one)


def _shared(root: Path) -> _Shared:
    with _SHARED_LOCK:
        entry = _SHARED.get(root)
        if entry is None:
            entry = _SHARED[root] = _Shared()
            while len(_SHARED) > _SHARED_MAX:
                _old_root, old = _SHARED.popitem(last=False)
                with old.lock:
                    old.drop()
        _SHARED.move_to_end(root)
        return entry


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 20
    case_id: Optional[str] = None
    speaker: Optional[str] = None
    since: Optional[str] = None
    until: Optional[str] = None
    sort: str = "score"          # or "time": by session date, session and time
    exact: bool = False          # only as written: no sound-alikes
    loose: tuple[str, ...] = ()  # looser sound tiers (index.sounds.TIERS), off unless named


class SearchConfigError(XunluError):
    """XUNLU_SEARCH names a backend that cannot be used."""

    code = "bad_search_backend"


def postgres_url(home: Path) -> Optional[str]:
    """The catalog's PostgreSQL URL when `XUNLU_SEARCH=postgresql` puts the search index there; None for the
    Whoosh folder in the home (the default, also `XUNLU_SEARCH=whoosh`)."""
    choice = os.environ.get(SEARCH_ENV, "").strip().lower()
    if choice in ("", "whoosh"):
        return None
    if choice != "postgresql":
        raise SearchConfigError(f"{SEARCH_ENV} must be whoosh or postgresql, not {choice!r}")
    from archive.database import is_url
    from archive.db import target

    where = target(home)
    if not is_url(where):
        raise SearchConfigError(f"{SEARCH_ENV}=postgresql keeps the search index in the catalog's database: set "
                                "XUNLU_DATABASE_URL=postgresql://... as well")
    return str(where)


class SearchIndex:
    """The Whoosh index in the home folder; `SearchIndex(home)` gives index.pg_index.PgSearchIndex instead when
    `XUNLU_SEARCH=postgresql` (postgres_url)."""

    backend = "whoosh"

    def __new__(cls, home: Path):
        if cls is SearchIndex:
            url = postgres_url(Path(home))
            if url is not None:
                from index.pg_index import PgSearchIndex

                return PgSearchIndex(url)
        return super().__new__(cls)

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

    def _live_folder(self) -> Path:
        folder = self.current_dir()
        if folder is None or not folder.is_dir():
            raise IndexProblem("the search index is missing")
        try:
            stamp = (folder / FORMAT_FILE).read_text().strip()
        except OSError:
            stamp = "xunlu-index 1"  # the first format had no stamp
        if stamp != INDEX_FORMAT:
            new = f": this version adds {FORMAT_CHANGES[stamp]}" if stamp in FORMAT_CHANGES else ""
            raise IndexProblem(f"the search index was built by another version of xunlu ({stamp!r}, this "
                               f"version reads {INDEX_FORMAT!r}{new})")
        return folder

    def open(self, check: bool = True) -> wi.Index:
        """The live index (for writing); with `check`, also read its segments once, so damage shows here."""
        folder = self._live_folder()
        try:
            ix = wi.open_dir(str(folder))
            if check:
                with ix.searcher() as s:
                    s.doc_count()
            return ix
        except Exception as exc:  # whoosh raises many kinds on a damaged folder
            raise IndexProblem(f"the search index cannot be read ({type(exc).__name__}: {exc})") from exc

    @contextlib.contextmanager
    def searcher(self) -> Iterator:
        """This process's shared searcher of the live index, up to date, held under its lock."""
        shared = _shared(self.root)
        with shared.lock:
            try:
                folder = self._live_folder()
                if shared.searcher is None or shared.folder != folder:
                    shared.drop()
                    started = time.perf_counter()
                    shared.searcher = open_searcher(folder)
                    shared.folder = folder
                    shared.opened_ms = (time.perf_counter() - started) * 1000.0
                    log.debug("opened %s in %.0f ms", folder.name, shared.opened_ms)
                elif not shared.searcher.up_to_date():
                    shared.searcher = open_searcher(folder, reuse=shared.searcher)
            except IndexProblem:
                shared.drop()
                raise
            except Exception as exc:  # whoosh raises many kinds on a damaged folder
                shared.drop()
                raise IndexProblem(f"the search index cannot be read ({type(exc).__name__}: {exc})") from exc
            yield shared.searcher

    def close(self) -> None:
        """Close this process's shared searcher of this index (the next search opens it again)."""
        shared = _shared(self.root)
        with shared.lock:
            shared.drop()

    def opened_ms(self) -> float:
        """How long the last opening of the shared searcher took (ms; 0 before any)."""
        return _shared(self.root).opened_ms

    def never_built(self) -> bool:
        return self.current_dir() is None

    def indexed_versions(self, sessions: list[str]) -> dict[str, int]:
        """The transcript version indexed for each of these sessions that has documents."""
        with self.searcher() as s:
            docs = {sid: s.document(session=sid) for sid in sessions}
        return {sid: doc.get("version") for sid, doc in docs.items() if doc is not None}

    def exists(self) -> bool:
        try:
            self.check()
            return True
        except IndexProblem:
            return False

    def check(self) -> int:
        """Open (or reuse) the live index and read its segments once, so damage shows here; the documents."""
        with self.searcher() as s:
            try:
                return s.doc_count()
            except _READ_ERRORS as exc:
                _shared(self.root).drop()
                raise IndexProblem(f"the search index cannot be read ({type(exc).__name__}: {exc})") from exc

    def _new_dir(self) -> Path:
        folder = self.root / f"ix-{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}-{os.urandom(3).hex()}"
        folder.mkdir(parents=True)
        wi.create_in(str(folder), schema())
        (folder / FORMAT_FILE).write_text(INDEX_FORMAT + "\n")
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

    @contextlib.contextmanager
    def _writer(self) -> Iterator[tuple]:
        """A writer on the live index (committed on success), and its folder."""
        self.ensure()
        folder = self._live_folder()
        missing_columns_remembered()
        ix = self.open(check=False)  # the writer reads the folder's table of contents; damage shows there
        with ix.writer(timeout=30.0) as w:
            yield w, folder

    def _delete(self, w, folder: Path, fieldname: str, values: Iterable[str]) -> None:
        """Delete documents by term. Whoosh would open a reader of the whole index for that (a second at
        1,000 hours); this process's shared searcher serves when it reads the writer's generation."""
        values = list(values)
        shared = _shared(self.root)
        try:
            with self.searcher() as s:
                if shared.folder == folder and s.reader().generation() == w.generation - 1:
                    for value in values:
                        w.delete_by_term(fieldname, value, searcher=s)
                    return
        except IndexProblem:
            pass
        for value in values:
            w.delete_by_term(fieldname, value)

    def replace_session(self, meta: SessionMeta, segments: Iterable[Segment]) -> None:
        """Index a session's (latest) transcript, replacing whatever was indexed for it."""
        docs = list(documents(meta, segments))
        with self._writer() as (w, folder):
            self._delete(w, folder, "session", [meta.id])
            for doc in docs:
                w.add_document(**doc)

    def add_segments(self, meta: SessionMeta, segments: Iterable[Segment], context: Iterable[Segment] = ()) -> None:
        """Append segments of a session being recorded (live); a segment indexed before is replaced.
        `context`: the session's last segments indexed before, so that a number going on from one of them
        into `segments` is indexed joined (that segment is indexed again)."""
        docs = list(documents(meta, segments, tuple(context)))
        with self._writer() as (w, folder):
            self._delete(w, folder, "id", [doc["id"] for doc in docs])
            for doc in docs:
                w.add_document(**doc)

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
            missing_columns_remembered()
            if procs > 1:
                workers_die_with_parent()
            writer = (ix.writer(procs=procs, multisegment=True, limitmb=REBUILD_POOL_MB) if procs > 1
                      else ix.writer(limitmb=REBUILD_POOL_MB))
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
        """The best `options.limit` hits: documents where the query matches as written first, then (unless
        `options.exact`) those where it matches only by sound (index.sounds), each part ranked by score. A
        moment found twice (a number joined over two segments and also found in the second) is given once."""
        p = plan(text, options)
        filters = []
        if p.case_id:
            filters.append(wq.Term("case", p.case_id))
        if p.speaker:
            filters.append(wq.Term("speaker", p.speaker))
        if p.since or p.until:
            filters.append(wq.DateRange("date", p.since, p.until))
        started = time.perf_counter()
        fq = wq.And(filters) if filters else None
        keep = Filter(tuple((f, v) for f, v in (("case", p.case_id), ("speaker", p.speaker)) if v),
                      "date", p.since, p.until)
        shared = _shared(self.root)
        with self.searcher() as s:
            try:
                top = [(d, sc, "exact") for d, sc in self._top(s, shared, p.written, p.limit, keep, fq, text)]
                if p.said is not None and len(top) < p.limit:
                    seen = {d for d, _, _ in top}
                    more = self._top(s, shared, p.said, p.limit + len(top), keep, fq, text, lazy_or=True)
                    top += [(d, sc, "sound") for d, sc in more if d not in seen][:p.limit - len(top)]
                # stored fields, hit times and snippets only for the returned page
                page = [(s.stored_fields(docnum), score, match) for docnum, score, match in top]
            except _READ_ERRORS as exc:
                _shared(self.root).drop()
                raise IndexProblem(f"the search index cannot be read ({type(exc).__name__}: {exc})") from exc
        hits = hits_of(page, p)
        log.debug("search %r: %d hits in %.1f ms", text, len(hits), (time.perf_counter() - started) * 1000)
        return hits

    @staticmethod
    def _top(s, shared: _Shared, q: Optional[wq.Query], limit: int, keep: Filter, fq, text: str,
             lazy_or: bool = False) -> list[tuple[int, float]]:
        """The best `limit` (docnum, score) of `q`: numpy scoring (index.fastscore), else Whoosh's own."""
        if q is None:
            return []
        try:
            return shared.fast_scorer(s).top(q, limit, keep=keep, lazy_or=lazy_or)
        except Unsupported as why:
            log.debug("search %r left to Whoosh: %s", text, why)
            return [(r.docnum, r.score) for r in s.search(q, limit=limit, filter=fq)]
