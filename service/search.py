"""Search across every session with the caller's visibility: one use case for `xunlu search` and
`GET /api/search`. The query and dates are checked before anything is opened; a missing or damaged index
is rebuilt from the archive first; every search is audited."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from accounts import policy
from accounts.types import User
from archive.store import Archive
from index.manager import SearchIndex, SearchOptions
from index.query import QueryError, parse, parse_day
from index.search_index import Hit
from index.sounds import check_tiers
from service.indexing import ensure_index

log = logging.getLogger("xunlu.search")
MAX_SCAN = 20000  # an officer's search looks at most this many hits of everyone's for theirs


@dataclass(frozen=True)
class SearchRequest:
    query: str
    case: Optional[str] = None
    speaker: Optional[str] = None
    since: Optional[str] = None
    until: Optional[str] = None
    limit: int = 20
    sort: str = "score"          # score (best first) or time (by session and time)
    exact: bool = False          # as written only: no sound-alikes
    loose: tuple[str, ...] = ()  # looser sound tiers (index.sounds.TIERS: zh, ng, ln, fh), off unless named


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    took_ms: float


def check(req: SearchRequest, since_label: str = "since", until_label: str = "until") -> None:
    """QueryError for a query or a date that cannot be searched, before anything is opened."""
    parse(req.query)
    parse_day(req.since, since_label)
    parse_day(req.until, until_label)
    try:
        check_tiers(req.loose)
    except ValueError as exc:
        raise QueryError(str(exc)) from exc
    if req.exact and req.loose:
        raise QueryError("exact matching and looser sound tiers exclude each other")


def search(home: Path, archive: Archive, req: SearchRequest, actor: str, user: Optional[User] = None,
           audit: Optional[dict[str, Any]] = None, say: Callable[[str], None] = log.warning) -> SearchResult:
    """The hits `user` may see (None: the system, which sees every session). An officer sees only the
    sessions they took part in: more hits are asked for until the page is full. IndexProblem when the
    index cannot be read even after a rebuild."""
    check(req)
    ensure_index(home, archive, say)
    started = time.perf_counter()
    index = SearchIndex(home)
    mine = None if user is None or policy.can_read_audit(user) else {s.id for s in policy.visible(user, archive.list())}
    wanted = req.limit
    while True:
        found = index.search(req.query, SearchOptions(wanted, req.case or None, req.speaker or None,
                                                      req.since or None, req.until or None, req.sort,
                                                      req.exact, tuple(req.loose)))
        hits = found if mine is None else [h for h in found if h.session in mine]
        if mine is None or len(hits) >= req.limit or len(found) < wanted or wanted >= MAX_SCAN:
            break
        wanted = min(wanted * 4, MAX_SCAN)
    hits = hits[:req.limit]
    took = (time.perf_counter() - started) * 1000
    archive.audit(actor, "search", "*", {"query": req.query, "case": req.case, "speaker": req.speaker,
                                         "since": req.since, "until": req.until, "hits": len(hits),
                                         **({"exact": True} if req.exact else {}),
                                         **({"loose": list(req.loose)} if req.loose else {}),
                                         **(audit or {})})
    return SearchResult(tuple(hits), round(took, 1))
