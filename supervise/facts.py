"""SessionFacts from the archive: catalog rows, the latest transcript, the media files and the live playlist.

Transcript versions never change once written, so what the rules need from one (segments without word
times) is kept in a cache keyed by the version's SHA-256 (`<home>/supervise-cache.sqlite`, derived data that
may be deleted at any time). With a warm cache 10,000 sessions are read in seconds.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from archive.layout import SessionPaths
from archive.store import Archive
from supervise.types import MediaGap, Seg, SessionFacts, Visit

log = logging.getLogger("xunlu.supervise.facts")

CACHE_FILE = "supervise-cache.sqlite"
EARLIER_WINDOW = timedelta(hours=72)   # earlier sessions of the same person looked at
EARLIER_MAX = 20
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def parse_time(value: Optional[str]) -> Optional[datetime]:
    """ISO 8601 -> aware datetime (a value without zone is in the machine's zone); None when absent or bad."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        log.warning("not a date and time: %r", value)
        return None
    return when if when.tzinfo is not None else when.astimezone()


# -- the live playlist ----------------------------------------------------------------------------------
def playlist_gaps(live_dir: Path) -> tuple[MediaGap, ...]:
    """Where the HLS recording in `live_dir/index.m3u8` is not continuous: #EXT-X-DISCONTINUITY (stopped
    and restarted), segment files missing on disk, and jumps in the segments' numbers. When no segment file
    is left at all the segments were cleaned up after joining, which is not a gap."""
    try:
        text = (live_dir / "index.m3u8").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    entries: list[tuple[float, str, bool]] = []   # (time, uri, discontinuity before it)
    t, duration, disc = 0.0, 0.0, False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line[8:].split(",", 1)[0])
            except ValueError:
                duration = 0.0
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line and not line.startswith("#"):
            entries.append((t, line, disc))
            t += duration
            duration, disc = 0.0, False
    gaps: list[MediaGap] = []
    try:
        on_disk = set(os.listdir(live_dir))
    except OSError:
        on_disk = set()
    present = [(uri in on_disk) if "/" not in uri else os.path.isfile(live_dir / uri) for _, uri, _ in entries]
    check_files = any(present)
    prev_number: Optional[int] = None
    for (at, uri, discontinuity), exists in zip(entries, present):
        if discontinuity and entries[0][1] != uri:
            gaps.append(MediaGap(at, "discontinuity", uri))
        m = _NUMBER.search(uri)
        number = int(m.group(1)) if m else None
        if number is not None and prev_number is not None and number != prev_number + 1:
            lost = f"{prev_number + 1}-{number - 1}" if number > prev_number + 1 else f"{number}"
            gaps.append(MediaGap(at, "sequence", f"分段 {lost}"))
        prev_number = number if number is not None else prev_number
        if check_files and not exists:
            gaps.append(MediaGap(at, "missing", uri))
    return tuple(gaps)


SOURCE_GAP = "record.gap"     # written by the live session when a network camera or sound source was away
_ROLE = {"camera": "摄像头", "video": "摄像头", "audio": "音频源"}


def source_gaps(archive: Archive) -> dict[str, list[MediaGap]]:
    """Each session's `record.gap` entries of the audit chain as gaps, in seconds of the recording: a
    network camera or sound source that dropped and was reconnected (or never came back)."""
    found: dict[str, list[MediaGap]] = defaultdict(list)
    for target, details in archive.conn.execute(
            "SELECT target, details FROM audit WHERE action = ? ORDER BY seq", (SOURCE_GAP,)):
        try:
            d = json.loads(details)
            start, end = float(d["from"]), float(d["to"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s: a record.gap entry without times", target)
            continue
        who = f"{_ROLE.get(d.get('role'), '信号源')} {d.get('source') or ''}".strip()
        detail = f"{who} 中断 {end - start:.1f} 秒（至 {end:.1f} 秒）" + ("" if d.get("back", True) else "，直至录制结束未恢复")
        found[target].append(MediaGap(start, "source_lost", detail))
    return found


# -- the cache -----------------------------------------------------------------------------------------
class FactsCache:
    """Transcript digests (segments without words) keyed by session and version hash."""

    def __init__(self, home: Path):
        self.path = Path(home) / CACHE_FILE
        self.conn: Optional[sqlite3.Connection] = None
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("CREATE TABLE IF NOT EXISTS transcripts (session TEXT PRIMARY KEY, sha256 TEXT NOT "
                              "NULL, data TEXT NOT NULL)")
        except sqlite3.Error as exc:  # the cache is an optimisation: work without it
            log.warning("supervision cache %s unusable (%s); reading transcripts directly", self.path, exc)
            self.conn = None
        self.pending: list[tuple[str, str, str]] = []

    def get(self, sid: str, sha: str) -> Optional[str]:
        if self.conn is None:
            return None
        row = self.conn.execute("SELECT sha256, data FROM transcripts WHERE session = ?", (sid,)).fetchone()
        return row[1] if row and row[0] == sha else None

    def put(self, sid: str, sha: str, data: str) -> None:
        self.pending.append((sid, sha, data))
        if len(self.pending) >= 500:
            self.flush()

    def flush(self) -> None:
        if self.conn is None or not self.pending:
            self.pending = []
            return
        try:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR REPLACE INTO transcripts (session, sha256, data) VALUES (?,?,?)",
                                  self.pending)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("supervision cache not written: %s", exc)
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        self.pending = []

    def close(self) -> None:
        self.flush()
        if self.conn is not None:
            self.conn.close()


_WORDS = re.compile(r'"words":\s*\[[^\]]*\]')


def load_without_words(text: str) -> dict[str, Any]:
    """A transcript file parsed with its word lists cut out first: five times faster, and the rules need no
    word times. A "]" inside a word's text ends the cut inside a string, which can never parse; then the
    whole file is parsed as it is."""
    try:
        return json.loads(_WORDS.sub('"words":[]', text))
    except ValueError:
        return json.loads(text)


def digest_transcript(data: dict[str, Any]) -> str:
    """The cached form: duration and [start, end, channel, speaker, text] per segment."""
    segs = [[float(s["start"]), float(s["end"]), int(s.get("channel") or 0), s.get("speaker"),
             str(s.get("text", ""))] for s in data.get("segments", ())]
    return json.dumps({"d": data.get("duration"), "s": segs}, ensure_ascii=False, separators=(",", ":"))


def _segments(digest: str) -> tuple[Optional[float], tuple[Seg, ...]]:
    data = json.loads(digest)
    return data.get("d"), tuple(map(Seg._make, data["s"]))   # written by digest_transcript: types are right


# -- building ------------------------------------------------------------------------------------------
def _rows(archive: Archive, only: Optional[set[str]]):
    conn = archive.conn
    sessions = conn.execute(
        "SELECT id, status, created_at, started_at, duration, case_id, room, unit, suspect, officers, speakers,"
        " check_in_at, signed_at, night_reason FROM sessions ORDER BY id").fetchall()
    media: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute("SELECT session_id, path FROM media ORDER BY session_id, role"):
        media[row[0]].append(row[1])    # "original" sorts before "playable"
    latest = {row[0]: (row[1], row[2], row[3]) for row in conn.execute(
        "SELECT t.session_id, t.version, t.path, t.sha256 FROM transcripts t JOIN (SELECT session_id, MAX(version)"
        " AS v FROM transcripts GROUP BY session_id) m ON m.session_id = t.session_id AND m.v = t.version")}
    return sessions, media, latest


def _earlier(sessions: list[Any]) -> dict[str, tuple[Visit, ...]]:
    """Each session's earlier sessions of the same person: same 被讯问人 and the same check-in (or none)."""
    people: dict[tuple[str, str], list[Visit]] = defaultdict(list)
    for row in sessions:
        if not row["suspect"] or row["status"] == "failed":
            continue
        start = parse_time(row["started_at"] or row["created_at"])
        if start is None:
            continue
        end = start + timedelta(seconds=row["duration"] or 0.0)
        people[(row["suspect"].strip(), row["check_in_at"] or "")].append(Visit(row["id"], start, end))
    out: dict[str, tuple[Visit, ...]] = {}
    for visits in people.values():
        if len(visits) < 2:
            continue
        visits.sort(key=lambda v: (v.start, v.session))
        for i, visit in enumerate(visits):
            before = [v for v in visits[max(0, i - EARLIER_MAX):i] if visit.start - v.end <= EARLIER_WINDOW]
            if before:
                out[visit.session] = tuple(before)
    return out


def iter_facts(archive: Archive, sessions: Optional[Iterable[str]] = None,
               cache: Optional[FactsCache] = None) -> Iterator[SessionFacts]:
    """Facts of every session (or those named), one at a time; the cache is filled as it goes."""
    only = set(sessions) if sessions is not None else None
    rows, media, latest = _rows(archive, only)
    earlier = _earlier(rows)
    lost = source_gaps(archive)
    own_cache = cache is None
    cache = cache if cache is not None else FactsCache(archive.home)
    try:
        for row in rows:
            sid = row["id"]
            if only is not None and sid not in only:
                continue
            yield _facts(archive, row, media.get(sid, []), latest.get(sid), earlier.get(sid, ()), cache,
                         tuple(lost.get(sid, ())))
    finally:
        if own_cache:
            cache.close()
        else:
            cache.flush()


def session_facts(archive: Archive, sid: str) -> SessionFacts:
    from archive.types import NotFound

    archive.folder(sid)
    for facts in iter_facts(archive, [sid]):
        return facts
    raise NotFound(f"no session {sid} in {archive.home}")


def _facts(archive: Archive, row: Any, media_paths: list[str], latest: Optional[tuple],
           earlier: tuple[Visit, ...], cache: FactsCache, lost: tuple[MediaGap, ...] = ()) -> SessionFacts:
    sid = row["id"]
    folder = archive.sessions_dir / sid
    missing = tuple(p for p in media_paths if not os.path.exists(folder / p))
    transcript_duration, segments, has_transcript = None, (), False
    if latest is not None:
        _version, path, sha = latest
        digest = cache.get(sid, sha)
        if digest is None:
            try:
                with open(folder / path, encoding="utf-8") as fh:
                    digest = digest_transcript(load_without_words(fh.read()))
                cache.put(sid, sha, digest)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("%s: transcript %s unreadable (%s); run xunlu verify", sid, path, exc)
                digest = None
        if digest is not None:
            transcript_duration, segments = _segments(digest)
            has_transcript = True
    paths = SessionPaths(folder)
    gaps = (playlist_gaps(paths.live) if paths.playlist.exists() else ()) + lost
    return SessionFacts(
        id=sid, status=row["status"], start=parse_time(row["started_at"] or row["created_at"]),
        duration=row["duration"], case_id=row["case_id"], room=row["room"], unit=row["unit"],
        suspect=row["suspect"], officers=tuple(json.loads(row["officers"] or "[]")),
        speakers=tuple(json.loads(row["speakers"] or "[]")), check_in_at=parse_time(row["check_in_at"]),
        signed_at=parse_time(row["signed_at"]), night_reason=row["night_reason"],
        has_media=bool(media_paths) and len(missing) < len(media_paths), media_files_missing=missing,
        media_path=next((p for p in media_paths if p not in missing), None),
        has_transcript=has_transcript, transcript_duration=transcript_duration, segments=segments,
        gaps=gaps, earlier=earlier)


def earlier_for(archive: Archive, sid: str) -> tuple[Visit, ...]:
    """The same person's earlier sessions, for a session being recorded now."""
    return _earlier(_rows(archive, None)[0]).get(sid, ())
