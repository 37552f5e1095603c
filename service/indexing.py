"""Glue between the archive and the search index: what to index for a session, rebuilds, self-repair."""
from __future__ import annotations

import logging
from datetime import tzinfo
from pathlib import Path
from typing import Callable, Iterator, Optional

from archive.store import Archive
from archive.transcripts import read_version
from archive.types import ArchiveError, Session
from core.config import on_clock
from core.config import zone as centre_zone
from core.transcript import Segment
from index.manager import IndexProblem, SearchIndex
from index.search_index import SessionMeta

log = logging.getLogger("xunlu.indexing")


def meta_of(session: Session, zone: Optional[tzinfo] = None) -> SessionMeta:
    """What the index keeps of a session; with the centre's `zone`, its start on the centre's clock, so that
    the day a search's since/until names is the centre's day, whatever the offset the session was stored with
    (00:32+00:00 is 08:32 the same day in Beijing; 18:00+00:00 is 02:00 the next day). A live session's own
    index, made without the zone, is replaced when it finishes (index_session)."""
    return SessionMeta(id=session.id, case_id=session.case_id, room=session.room, officers=session.officers,
                       started_at=on_clock(session.started_at, zone),
                       version=session.latest.version if session.latest else 0, language=session.language)


def index_session(home: Path, archive: Archive, sid: str) -> None:
    """(Re)index the latest transcript of one session."""
    session = archive.get(sid)
    if not session.transcripts:
        return
    SearchIndex(home).replace_session(meta_of(session, centre_zone(home)),
                                      list(read_version(archive, sid).segments))


def _sessions(archive: Archive, ids: Optional[list[str]]) -> list[Session]:
    chosen = [archive.get(i) for i in ids] if ids else archive.list()
    return [s for s in chosen if s.transcripts and s.status != "failed"]


def _load(archive: Archive, sessions: list[Session]) -> Iterator[tuple[SessionMeta, list[Segment]]]:
    zone = centre_zone(archive.home)
    for s in sessions:
        try:
            yield meta_of(s, zone), list(read_version(archive, s.id).segments)
        except ArchiveError as exc:
            log.warning("session %s not indexed: %s", s.id, exc)


def rebuild(home: Path, archive: Archive, ids: Optional[list[str]] = None,
            on_session: Callable[[str], None] = lambda _sid: None, procs: int = 2) -> tuple[int, int]:
    """Rebuild from the archive alone (latest version of each session). With ids, only those sessions are
    re-indexed in place; without, a whole new index is built and swapped in. Returns (sessions, segments)."""
    index = SearchIndex(home)
    sessions = _sessions(archive, ids)
    if ids and index.exists():
        count = 0
        for meta, segments in _load(archive, sessions):
            index.replace_session(meta, segments)
            count += len(segments)
            on_session(meta.id)
        return len(sessions), count
    return len(sessions), index.rebuild(_load(archive, sessions), len(sessions), on_session, procs)


def ensure_index(home: Path, archive: Archive, say: Callable[[str], None]) -> None:
    """Detect a missing or damaged index at start and rebuild it from the archive, saying so."""
    index = SearchIndex(home)
    try:
        index.check()  # opens this process's shared searcher, which the search then reuses
        return
    except IndexProblem as problem:
        if index.never_built() and not any(s.transcripts for s in archive.list()):
            index.ensure()
            return
        say(f"{problem}; rebuilding it from the archive")
    rebuild(home, archive)


def stale_sessions(home: Path, archive: Archive) -> list[str]:
    """Sessions whose latest transcript version is not the one indexed: a crash (kill -9, power cut) came
    between saving a version and indexing it. None when there is no index yet (the next search builds it)."""
    try:
        sessions = [s for s in archive.list() if s.status != "failed" and s.transcripts]
        indexed = SearchIndex(home).indexed_versions([s.id for s in sessions])
        found = []
        for session in sessions:
            version = indexed.get(session.id)
            if version == session.latest.version:
                continue
            if version is None and not read_version(archive, session.id).segments:
                continue  # an empty transcript has nothing to index
            found.append(session.id)
        return found
    except (IndexProblem, ArchiveError) as exc:
        log.warning("could not compare the index with the archive: %s", exc)
        return []


def repair_index(home: Path, archive: Archive, say: Callable[[str], None]) -> list[str]:
    """Index the latest transcript of every stale session (see stale_sessions); returns their ids."""
    stale = stale_sessions(home, archive)
    for sid in stale:
        say(f"session {sid}: its latest transcript was not yet searchable (interrupted); indexing it now")
        try:
            index_session(home, archive, sid)
        except Exception as exc:  # the next start, or xunlu reindex, tries again
            say(f"session {sid} could not be indexed: {exc}; run xunlu reindex")
    return stale
