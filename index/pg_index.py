"""The search index in PostgreSQL (`XUNLU_SEARCH=postgresql`, with the catalog's `XUNLU_DATABASE_URL`): every node
of a centre reads and writes the same rows, so every node sees the same hits, a live session's segments
included, whatever home folder it runs with. The Whoosh folder (index.manager) stays the embedded default.

`PgSearchIndex` answers what `SearchIndex` answers (index.manager picks it): replace a session, add a live
session's segments, rebuild from the archive, search. The rows and their tokens are index.pg_store's, the
ranking index.pg_score's; what a query means and how its hits are made (index.plan) is shared with Whoosh.
A rebuild runs in one transaction: searches see the old rows until the new ones are all written.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from typing import Callable, Iterable, Iterator, Optional

from archive.database import Connection, migrate, open_database
from core.transcript import Segment
from index import pg_store
from index.manager import IndexProblem, SearchOptions
from index.pg_score import Filters, PgScorer, candidates, frequencies
from index.plan import hits_of, plan
from index.postings import Unsupported
from index.search_index import FORMAT_CHANGES, INDEX_FORMAT, Hit, SessionMeta, documents

log = logging.getLogger("xunlu.index.postgres")
BATCH = 500   # rows written per statement batch by a rebuild
_MIGRATED: set[str] = set()   # databases whose search schema this process brought up to date


class PgSearchIndex:
    """The search index in the PostgreSQL database at `url` (the home folder holds nothing of it)."""

    backend = "postgresql"

    def __init__(self, url: str):
        self.url = url

    # -- connections ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _conn(self) -> Iterator[Connection]:
        conn = open_database(self.url, pg_store.STORE, IndexProblem)
        try:
            if self.url not in _MIGRATED:
                migrate(conn, pg_store.MIGRATIONS, IndexProblem, "the search index")
                _MIGRATED.add(self.url)
            yield conn
        except conn.errors as exc:
            raise IndexProblem(f"the search index in PostgreSQL cannot be used ({type(exc).__name__}: "
                               f"{exc})") from exc
        finally:
            conn.close()

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """One read-only snapshot: the totals, candidates and stored fields of a search agree."""
        with self._conn() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                with contextlib.suppress(*conn.errors):   # a lost connection is not kept (archive.postgres)
                    conn.execute("ROLLBACK")

    @staticmethod
    def _usable(totals: Optional[pg_store.Totals]) -> pg_store.Totals:
        if totals is None:
            raise IndexProblem("the search index in PostgreSQL was never built")
        if totals.format != INDEX_FORMAT:
            new = f": this version adds {FORMAT_CHANGES[totals.format]}" if totals.format in FORMAT_CHANGES else ""
            raise IndexProblem(f"the search index was built by another version of xunlu ({totals.format!r}, this "
                               f"version reads {INDEX_FORMAT!r}{new})")
        return totals

    # -- the state ------------------------------------------------------------------------------------
    def never_built(self) -> bool:
        with self._conn() as conn:
            return pg_store.totals(conn) is None

    def check(self) -> int:
        """The number of indexed segments; IndexProblem when the index cannot be used."""
        with self._conn() as conn:
            return self._usable(pg_store.totals(conn)).docs

    def exists(self) -> bool:
        try:
            self.check()
            return True
        except IndexProblem:
            return False

    def indexed_versions(self, sessions: list[str]) -> dict[str, int]:
        with self._conn() as conn:
            return pg_store.versions(conn, sessions)

    def close(self) -> None:
        """Nothing is held between searches (connections go back to archive.postgres's idle pool)."""

    # -- writing --------------------------------------------------------------------------------------
    def ensure(self) -> None:
        """An empty index when there is none yet."""
        with self._conn() as conn, conn.write():
            pg_store.start_totals(conn, INDEX_FORMAT)

    def replace_session(self, meta: SessionMeta, segments: Iterable[Segment]) -> None:
        rows = [pg_store.row_of(doc) for doc in documents(meta, segments)]
        with self._conn() as conn, conn.write():
            pg_store.start_totals(conn, INDEX_FORMAT)
            pg_store.delete(conn, "session = ?", (meta.id,))
            pg_store.insert(conn, rows)

    def add_segments(self, meta: SessionMeta, segments: Iterable[Segment], context: Iterable[Segment] = ()) -> None:
        rows = [pg_store.row_of(doc) for doc in documents(meta, segments, tuple(context))]
        with self._conn() as conn, conn.write():
            pg_store.start_totals(conn, INDEX_FORMAT)
            pg_store.delete(conn, "id = ANY(?::text[])", ([r[0] for r in rows],))
            pg_store.insert(conn, rows)

    def rebuild(self, sessions: Iterable[tuple[SessionMeta, list[Segment]]], total: int,
                on_session: Callable[[str], None] = lambda _sid: None, procs: int = 2) -> int:
        """Fill the index again from `sessions`, in one transaction (searches see the old rows meanwhile; an
        interrupted rebuild leaves them as they were). `procs` is not used: the analysis runs here."""
        count = 0
        with self._conn() as conn, conn.write():
            pg_store.restart(conn, INDEX_FORMAT)
            batch: list[tuple] = []
            terms: Counter = Counter()
            for meta, segments in sessions:
                batch += [pg_store.row_of(doc) for doc in documents(meta, segments)]
                if len(batch) >= BATCH:
                    count += pg_store.insert(conn, batch, terms)
                    batch = []
                on_session(meta.id)
            count += pg_store.insert(conn, batch, terms)
            pg_store.flush_terms(conn, terms)
        with self._conn() as conn:
            pg_store.tidy(conn)
        return count

    # -- searching ------------------------------------------------------------------------------------
    def search(self, text: str, options: SearchOptions = SearchOptions()) -> list[Hit]:
        """As index.manager.SearchIndex.search: as written first, then by sound, each ranked by score."""
        p = plan(text, options)
        started = time.perf_counter()
        filters = Filters(p.case_id, p.speaker, p.since, p.until)
        with self._snapshot() as conn:
            totals = self._usable(pg_store.totals(conn))
            top = [(d, sc, "exact") for d, sc in self._top(conn, totals, p.written, p.limit, filters)]
            if p.said is not None and len(top) < p.limit:
                seen = {d for d, _, _ in top}
                more = self._top(conn, totals, p.said, p.limit + len(top), filters, lazy_or=True)
                top += [(d, sc, "sound") for d, sc in more if d not in seen][:p.limit - len(top)]
            stored = pg_store.stored(conn, [d for d, _, _ in top])
        hits = hits_of([(stored[d], score, match) for d, score, match in top], p)
        log.debug("search %r: %d hits in %.1f ms", text, len(hits), (time.perf_counter() - started) * 1000)
        return hits

    @staticmethod
    def _top(conn: Connection, totals: pg_store.Totals, q, limit: int, filters: Filters,
             lazy_or: bool = False) -> list[tuple[int, float]]:
        if q is None:
            return []
        try:
            scorer = PgScorer(candidates(conn, q, filters), totals, frequencies(conn, q))
            return scorer.top(q, limit, lazy_or=lazy_or)
        except Unsupported as why:   # index.whoosh_query builds nothing else
            raise IndexProblem(f"the PostgreSQL search cannot run this query ({why})") from None

