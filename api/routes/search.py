"""Search across every session: words, names, numbers, phrases, AND/OR/NOT; filters by case, speaker, date."""
from __future__ import annotations

import logging
import time
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from api.auth import policy
from api.auth.deps import client_address, require
from api.auth.types import User
from api.routes.deps import actor, get_archive
from api.routes.errors import ApiError
from archive.store import Archive

log = logging.getLogger("xunlu.web.search")
MAX_SCAN = 20000  # an officer's search looks at most this many hits of everyone's for theirs
router = APIRouter(prefix="/api", tags=["search"])


@router.get("/search", summary="Find every moment a word was said; hits carry the matched word's time")
def search(request: Request, q: str = Query(..., max_length=500, description='words, "a phrase", AND OR NOT'),
           case: Optional[str] = None, speaker: Optional[str] = None, since: Optional[str] = None,
           until: Optional[str] = None, limit: int = Query(50, ge=1, le=1000), sort: str = "score",
           archive: Archive = Depends(get_archive), who: str = Depends(actor),
           user: User = Depends(require(policy.can_search, "search"))):
    from api.indexing import ensure_index
    from index.manager import SearchIndex, SearchOptions
    from index.query import parse, parse_day

    if sort not in ("score", "time"):
        raise ApiError(400, f"sort must be score or time, not {sort!r}")
    parse(q)  # QueryError -> 400 before anything is opened
    parse_day(since, "since")
    parse_day(until, "until")
    home = request.app.state.home
    ensure_index(home, archive, lambda m: log.warning("%s", m))
    started = time.perf_counter()
    index = SearchIndex(home)
    mine = None if policy.can_read_audit(user) else {s.id for s in policy.visible(user, archive.list())}
    wanted = limit
    while True:  # officers: only the sessions they took part in; ask for more until the page is full
        found = index.search(q, SearchOptions(wanted, case or None, speaker or None, since or None,
                                              until or None, sort))
        hits = found if mine is None else [h for h in found if h.session in mine]
        if mine is None or len(hits) >= limit or len(found) < wanted or wanted >= MAX_SCAN:
            break
        wanted = min(wanted * 4, MAX_SCAN)
    hits = hits[:limit]
    took = (time.perf_counter() - started) * 1000
    archive.audit(who, "search", "*", {"query": q, "case": case, "speaker": speaker, "since": since,
                                       "until": until, "hits": len(hits),
                                       "address": client_address(request)})
    return {"query": q, "took_ms": round(took, 1),
            "hits": [{**h.to_json(), "segment": h.segment, "channel": h.channel, "case": h.case, "date": h.date}
                     for h in hits]}
