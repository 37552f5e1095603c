"""Search across every session: words, names, numbers, phrases, AND/OR/NOT; filters by case, speaker, date.
Each hit says how it matched: `match` "exact" (as written) or "sound" (said, written otherwise: `written`)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from accounts import policy
from accounts.types import User
from api.auth.deps import client_address, require
from api.routes.answers import SearchAnswer
from api.routes.deps import actor, get_archive
from api.routes.errors import ApiError
from api.routes.openapi_errors import ERROR
from archive.store import Archive
from service.search import SearchRequest
from service.search import search as search_sessions

router = APIRouter(prefix="/api", tags=["search"])


@router.get("/search", summary="Find every moment a word was said; hits carry the matched word's time",
            response_model=SearchAnswer,
            responses={503: ERROR("The search index is missing, unreadable or of another version: rebuild it")})
def search(request: Request, q: str = Query(..., max_length=500, description='words, "a phrase", AND OR NOT'),
           case: Optional[str] = None, speaker: Optional[str] = None, since: Optional[str] = None,
           until: Optional[str] = None, limit: int = Query(50, ge=1, le=1000), sort: str = "score",
           exact: bool = Query(False, description="only as written: no sound-alikes"),
           loose: Optional[str] = Query(None, max_length=40, description="looser sound tiers, comma-separated: "
                                                                         "zh, ng, ln, fh (off unless named)"),
           archive: Archive = Depends(get_archive), who: str = Depends(actor),
           user: User = Depends(require(policy.can_search, "search"))):
    if sort not in ("score", "time"):
        raise ApiError(400, f"sort must be score or time, not {sort!r}", "bad_sort")
    tiers = tuple(t.strip() for t in (loose or "").split(",") if t.strip())
    req = SearchRequest(q, case, speaker, since, until, limit, sort, exact, tiers)
    found = search_sessions(request.app.state.home, archive, req, who, user,
                            audit={"address": client_address(request)})
    return {"query": q, "took_ms": found.took_ms,
            "hits": [{**h.to_json(), "segment": h.segment, "channel": h.channel, "case": h.case, "date": h.date,
                      "written": h.written} for h in found.hits]}
