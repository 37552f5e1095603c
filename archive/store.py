"""The evidence store: one folder per session under `<home>/sessions/` (its layout: archive.layout), the SQLite
catalog, the audit chain, and the session's bookmarks (markers, kept in the audit chain).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from archive import audit, db
from archive.fsutil import atomic_write
from archive.layout import SESSION_ID, SessionPaths, check_id, sessions_dir  # noqa: F401  (SESSION_ID: for callers)
from archive.types import ArchiveError, AuditEntry, MediaFile, NotFound, Session, TranscriptVersion

log = logging.getLogger("xunlu.archive")


def system_actor() -> str:
    import getpass

    try:
        return f"system:{getpass.getuser()}"
    except Exception:  # no login name (containers)
        return "system"


class Archive:
    def __init__(self, home: Path):
        self.home = Path(home)
        self.sessions_dir = sessions_dir(self.home)
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.head_file = self.home / "audit-head.json"
        self.conn = db.connect(self.home / "catalog.sqlite")

    def close(self) -> None:
        self.conn.close()

    # -- sessions -----------------------------------------------------------------------------------
    def folder(self, session_id: str) -> Path:
        return self.paths(session_id).root

    def paths(self, session_id: str) -> SessionPaths:
        """Where the session's files are (NotFound for a string that is not a session id)."""
        return SessionPaths(self.sessions_dir / check_id(session_id))

    @contextlib.contextmanager
    def new_session(self, actor: str, status: str = "finalising", **fields: Any) -> Iterator[Session]:
        """Allocate the next id of the day (s-YYYYMMDD-NNNN), insert the session and hold its lock while
        the caller writes it. The lock is taken before the row is visible, so `recover` never mistakes a
        session being born for an abandoned one; a dead holder (even kill -9) releases it."""
        created = audit.now()
        day = datetime.now().astimezone().strftime("%Y%m%d")
        lock = None
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute("SELECT id FROM sessions WHERE id LIKE ? ORDER BY id DESC LIMIT 1",
                                    (f"s-{day}-%",)).fetchone()
            number = int(row["id"].rsplit("-", 1)[1]) + 1 if row else 1
            sid = f"s-{day}-{number:04d}"
            paths = SessionPaths(self.sessions_dir / sid)
            paths.root.mkdir(parents=True, exist_ok=True)
            lock = open(paths.lock, "w")
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.conn.execute(
                "INSERT INTO sessions (id, status, created_at, started_at, duration, case_id, room, officers,"
                " suspect, speakers, source_name, language, unit, check_in_at, night_reason)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sid, status, created, fields.get("started_at"), fields.get("duration"), fields.get("case_id"),
                 fields.get("room"), json.dumps(list(fields.get("officers", ())), ensure_ascii=False),
                 fields.get("suspect"), json.dumps(list(fields.get("speakers", ())), ensure_ascii=False),
                 fields.get("source_name"), fields.get("language"), fields.get("unit"),
                 fields.get("check_in_at"), fields.get("night_reason")))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            if lock is not None:
                lock.close()
            raise
        try:
            self.audit(actor, "session.create", sid,
                       {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()
                        if v not in (None, (), [])})
            yield self.get(sid)
        finally:
            lock.close()

    def update_session(self, sid: str, **fields: Any) -> None:
        allowed = {"status", "started_at", "duration", "error", "language", "unit", "check_in_at", "signed_at",
                   "night_reason"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*fields.values(), sid))

    def add_media(self, sid: str, media: MediaFile) -> None:
        self.conn.execute("INSERT INTO media (session_id, role, path, sha256, size) VALUES (?,?,?,?,?)",
                          (sid, media.role, media.path, media.sha256, media.size))

    def get(self, sid: str) -> Session:
        self.folder(sid)
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no session {sid} in {self.home}")
        media = tuple(MediaFile(r["role"], r["path"], r["sha256"], r["size"]) for r in
                      self.conn.execute("SELECT * FROM media WHERE session_id = ? ORDER BY role", (sid,)))
        versions = tuple(TranscriptVersion(r["version"], r["kind"], r["path"], r["sha256"], r["created_at"],
                                           r["author"], r["reason"], r["model"], r["parent"]) for r in
                         self.conn.execute("SELECT * FROM transcripts WHERE session_id = ? ORDER BY version",
                                           (sid,)))
        return Session(id=row["id"], status=row["status"], created_at=row["created_at"],
                       started_at=row["started_at"], duration=row["duration"], case_id=row["case_id"],
                       room=row["room"], officers=tuple(json.loads(row["officers"])), suspect=row["suspect"],
                       speakers=tuple(json.loads(row["speakers"])), language=row["language"],
                       source_name=row["source_name"], error=row["error"], media=media, transcripts=versions,
                       unit=row["unit"], check_in_at=row["check_in_at"], signed_at=row["signed_at"],
                       night_reason=row["night_reason"])

    def list(self, case_id: Optional[str] = None, status: Optional[str] = None) -> list[Session]:
        query, args = "SELECT id FROM sessions WHERE 1=1", []
        if case_id:
            query += " AND case_id = ?"
            args.append(case_id)
        if status:
            query += " AND status = ?"
            args.append(status)
        return [self.get(r["id"]) for r in self.conn.execute(query + " ORDER BY id", args)]

    def holder_of(self, sha256: str, other_than: Optional[str] = None) -> Optional[str]:
        """The earliest session (not failed) whose original has this hash."""
        row = self.conn.execute(
            "SELECT m.session_id FROM media m JOIN sessions s ON s.id = m.session_id "
            "WHERE m.role = 'original' AND m.sha256 = ? AND s.status != 'failed' AND s.id != ? "
            "ORDER BY s.created_at, s.id LIMIT 1", (sha256, other_than or "")).fetchone()
        return row["session_id"] if row else None

    def claim_original(self, sid: str, media: MediaFile) -> Optional[str]:
        """Record the session's original unless another live session already holds the same bytes (checked
        and written in one transaction, so two imports of one file at once cannot both succeed)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            holder = self.holder_of(media.sha256, other_than=sid)
            if holder is None:
                self.add_media(sid, media)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return holder

    def write_manifest(self, sid: str) -> None:
        session = self.get(sid)
        atomic_write(self.paths(sid).manifest,
                     json.dumps(session.to_dict(), ensure_ascii=False, indent=1).encode("utf-8"))

    # -- audit --------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, details: Optional[dict[str, Any]] = None) -> AuditEntry:
        return audit.append(self.conn, self.head_file, actor, action, target, details)

    def audit_entries(self, target: Optional[str] = None) -> Iterator[AuditEntry]:
        return audit.entries(self.conn, target)

    # -- markers: bookmarked moments, kept in the audit chain ------------------------------------------
    def add_marker(self, actor: str, sid: str, at: float, label: str) -> AuditEntry:
        """Bookmark the moment `at` (seconds from the start) of the session; refused past its end."""
        session = self.get(sid)
        if session.duration is not None and at > session.duration + 1:
            raise ArchiveError(f"marker at {at:.1f} s is after the end of the recording ({session.duration:.1f} s)")
        return self.audit(actor, "marker", sid, {"at": round(at, 2), "label": label.strip()})

    def markers(self, sid: str) -> list[AuditEntry]:
        """The session's markers, in time order (NotFound for an unknown session)."""
        self.get(sid)
        found = [e for e in self.audit_entries(sid) if e.action == "marker" and e.target == sid]
        return sorted(found, key=lambda e: (e.details.get("at") or 0, e.seq))

    # -- work in progress and recovery ----------------------------------------------------------------
    def recover(self) -> list[str]:
        """Mark failed every unfinished session whose writer is gone; returns their ids."""
        failed = []
        for row in self.conn.execute("SELECT id, status FROM sessions WHERE status IN ('recording', 'finalising')"):
            sid = row["id"]
            lock_path = self.paths(sid).lock
            try:
                with open(lock_path, "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # still being written by a live process
            except OSError:
                pass
            if self.paths(sid).has_segments():
                # a live recording with segments on disk: service.live.recover_recordings closes it
                log.warning("session %s was interrupted while recording; `xunlu recover` (or the next "
                            "`xunlu record`) closes it from its segments", sid)
                continue
            self.update_session(sid, status="failed", error="interrupted: the process writing it stopped")
            self.audit(system_actor(), "session.failed", sid, {"reason": "interrupted"})
            with contextlib.suppress(ArchiveError, OSError):
                self.write_manifest(sid)
            failed.append(sid)
        return failed


def open_archive(home: Path) -> Archive:
    try:
        return Archive(home)
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot open the archive in {home}: {exc}") from exc
