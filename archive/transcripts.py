"""Transcript versions: v1 is the ASR output and is never changed; corrections and re-runs add versions."""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import replace
from typing import Mapping, Optional

from archive import records
from archive.audit import now
from archive.fsutil import READ_ONLY, atomic_write, fsync_dir, settle, sha256_file
from archive.layout import pending
from archive.store import Archive
from archive.types import ArchiveError, NotFound, TranscriptVersion
from core.transcript import Transcript, timestamp


def add_version(archive: Archive, sid: str, transcript: Transcript, kind: str, author: str, reason: str = "",
                parent: Optional[int] = None) -> TranscriptVersion:
    """Write the next version's file (read-only), its catalog row and its audit entry `transcript.version`.
    The row and the entry are committed together; the file is written beside its place first (`.vN.json.pending`)
    and renamed into place after the commit, so a crash leaves either nothing catalogued or a row whose file
    the next reader (or `xunlu verify`) moves into place from the pending copy, checked by its SHA-256."""
    if kind not in ("asr", "edit"):
        raise ValueError(kind)
    folder = archive.folder(sid)
    conn = archive.conn
    pending_path = None
    try:
        with archive.ledger.transaction():
            row = conn.execute("SELECT MAX(version) AS v FROM transcripts WHERE session_id = ?", (sid,)).fetchone()
            version = (row["v"] or 0) + 1
            data = replace(transcript, session=sid, version=version).to_dict()
            path = archive.paths(sid).transcript(version)
            rel = path.relative_to(folder).as_posix()
            pending_path = pending(path)
            atomic_write(pending_path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"),
                         mode=READ_ONLY)
            digest = sha256_file(pending_path)
            created = now()
            conn.execute("INSERT INTO transcripts (session_id, version, kind, path, sha256, created_at, author,"
                         " reason, model, parent) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (sid, version, kind, rel, digest, created, author, reason, transcript.model, parent))
            archive.ledger.append(author, "transcript.version", f"{sid}/v{version}",
                                  {"kind": kind, "reason": reason, "model": transcript.model, "sha256": digest,
                                   "parent": parent}, records.bind_version(conn, sid, version))
    except BaseException:
        if pending_path is not None:
            pending_path.unlink(missing_ok=True)
        raise
    try:
        os.replace(pending_path, path)
        fsync_dir(path.parent)
    except OSError as exc:  # a reader may have put it in place already (archive.fsutil.settle)
        if not (path.is_file() and sha256_file(path) == digest):
            raise ArchiveError(f"transcript {sid} v{version} was saved but could not be put in place ({exc}); "
                               "run xunlu verify") from exc
    archive.write_manifest(sid)
    return TranscriptVersion(version, kind, rel, digest, created, author, reason, transcript.model, parent)


def read_version(archive: Archive, sid: str, version: Optional[int] = None) -> Transcript:
    session = archive.get(sid)
    if not session.transcripts:
        raise NotFound(f"session {sid} has no transcript yet")
    chosen = session.latest if version is None else next(
        (t for t in session.transcripts if t.version == version), None)
    if chosen is None:
        known = ", ".join(str(t.version) for t in session.transcripts)
        raise NotFound(f"session {sid} has no transcript version {version} (versions: {known})")
    path = archive.folder(sid) / chosen.path
    if not path.exists():  # saved, and the process stopped before it was renamed into place
        settle(pending(path), path, chosen.sha256)
    try:
        return Transcript.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise ArchiveError(f"transcript {sid} v{chosen.version} cannot be read ({exc}); run xunlu verify") from exc


def edit(archive: Archive, sid: str, changes: Mapping[int, str], author: str, reason: str) -> TranscriptVersion:
    """A correction: new text for some segments of the latest version, saved as a new version."""
    if not reason.strip():
        raise ArchiveError("a correction needs a reason (--reason)")
    if not author.strip():
        raise ArchiveError("a correction needs an author (--author)")
    latest = read_version(archive, sid)
    ids = {s.id for s in latest.segments}
    unknown = sorted(set(changes) - ids)
    if unknown:
        raise ArchiveError(f"no segment {unknown[0]} in {sid} v{latest.version} (segments 0-{max(ids, default=0)})")
    segments = tuple(replace(s, text=changes[s.id].strip(), words=(), unintelligible=False) if s.id in changes and
                     changes[s.id].strip() != s.text else s for s in latest.segments)
    if segments == latest.segments:
        raise ArchiveError("nothing changed: the new text is the same as the current one")
    return add_version(archive, sid, replace(latest, segments=segments), "edit", author, reason,
                       parent=latest.version)


def replace_with(archive: Archive, sid: str, corrected: Transcript, author: str, reason: str) -> TranscriptVersion:
    """A correction given as a whole transcript (edited JSON file)."""
    if not reason.strip():
        raise ArchiveError("a correction needs a reason (--reason)")
    latest = read_version(archive, sid)
    if corrected.session not in (None, sid):
        raise ArchiveError(f"that transcript belongs to session {corrected.session}, not {sid}")
    for seg in corrected.segments:
        if not (0 <= seg.start <= seg.end <= latest.duration + 0.5):
            raise ArchiveError(f"segment {seg.id}: times {seg.start}-{seg.end} are outside the recording")
    if corrected.segments == latest.segments:
        raise ArchiveError("nothing changed: the file is the same as the current version")
    return add_version(archive, sid, replace(corrected, duration=latest.duration, model=latest.model), "edit",
                       author, reason, parent=latest.version)


def _lines(t: Transcript) -> list[str]:
    return [f"#{s.id} [{timestamp(s.start)}-{timestamp(s.end)}] {s.speaker or '-'}: {s.text}" for s in t.segments]


def diff(archive: Archive, sid: str, a: int, b: int) -> str:
    """A unified diff of two versions, one line per segment."""
    left, right = read_version(archive, sid, a), read_version(archive, sid, b)
    return "".join(line + "\n" for line in difflib.unified_diff(
        _lines(left), _lines(right), fromfile=f"{sid} v{a}", tofile=f"{sid} v{b}", lineterm=""))
