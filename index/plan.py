"""What a search asks for, worked out once for either backend (the Whoosh folder, or PostgreSQL): the parsed
query, its filters, the query tree as written and by sound; and the hits made from the best documents found,
the same way whichever backend found them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

from whoosh import query as wq

from index.query import QueryError, Term, parse, parse_day
from index.search_index import Hit, terms_of, to_hit
from index.sounds import check_tiers, other_word_for
from index.whoosh_query import by_sound, to_whoosh


@dataclass(frozen=True)
class Plan:
    text: str
    limit: int
    case_id: Optional[str]
    speaker: Optional[str]
    since: Optional[datetime]
    until: Optional[datetime]
    loose: tuple[str, ...]
    written: Optional[wq.Query]   # the documents where the query matches as written
    said: Optional[wq.Query]      # those where it matches by sound (None: exact only, or nothing to sound)
    terms: tuple[Term, ...]       # the terms whose matches are shown
    sort: str = "score"


def plan(text: str, options: Any) -> Plan:
    """`options`: index.manager.SearchOptions. QueryError for what cannot be searched."""
    node = parse(text)
    since = parse_day(options.since, "--since")
    until = parse_day(options.until, "--until", end_of_day=True)
    if since and until and since > until:
        raise QueryError(f"--since {options.since} is after --until {options.until}", code="since_after_until")
    if options.limit < 1:
        raise QueryError("--limit must be at least 1")
    try:
        loose = check_tiers(options.loose)
    except ValueError as exc:
        raise QueryError(str(exc)) from exc
    written = to_whoosh(node)
    # the documents found only by sound: the terms' sounds (an AND's terms either way), less `written`'s
    said = to_whoosh(node, loose, sound_only=True) if not options.exact and by_sound(node) else None
    return Plan(text, options.limit, options.case_id or None, options.speaker or None, since, until, loose,
                written, said, tuple(terms_of(node)), options.sort)


def hits_of(page: Sequence[tuple[dict[str, Any], float, str]], p: Plan) -> list[Hit]:
    """Hits from the best documents ((stored fields, score, "exact" | "sound"), best first): a sound-alike that
    is another everyday word is dropped, a moment found twice (a number joined over two segments and also
    found in the second) is given once; by time when asked."""
    hits, moments = [], set()
    said_as = [t.raw for t in p.terms if t.pinyin]
    for stored, score, match in page:
        hit = to_hit(stored, score, p.terms, match, p.loose)
        if match == "sound" and hit.written and other_word_for(said_as, hit.written):
            continue   # another everyday word that sounds the same (智能 for 只能): not what was said
        if (hit.session, hit.start, hit.end) not in moments:
            moments.add((hit.session, hit.start, hit.end))
            hits.append(hit)
    if p.sort == "time":
        hits.sort(key=lambda h: (h.date or "", h.session, h.start))
    return hits
