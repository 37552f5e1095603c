"""The evidence store: one folder per session under `<home>/sessions/` (its layout: archive.layout), the
catalog (SQLite, or PostgreSQL: archive.db), the audit chain, and the session's bookmarks (markers, kept in the audit chain).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from archive import audit, db, keys, records
from archive.database import driver_errors
from archive.fsutil import DIR_MODE, FILE_MODE, READ_ONLY, atomic_write, make_dirs, secure_tree
from archive.layout import SESSION_ID, SessionPaths, check_id, sessions_dir  # noqa: F401  (SESSION_ID: for callers)
from archive.types import ArchiveError, AuditEntry, MediaFile, NotFound, Session, TranscriptVersion

log = logging.getLogger("xunlu.archive")
WARNING_TARGET = re.compile(r"^[^/]+/warning/(\d+)$")
# the 讯问笔录's header fields a session may be given after it was made (update_session)
RECORD_FIELDS = ("recorder", "suspect_gender", "suspect_birth", "suspect_id", "suspect_address")


def system_actor() -> str:
    import getpass

    try:
        return f"system:{getpass.getuser()}"
    except Exception:  # no login name (containers)
        return "system"


class Archive:
    def __init__(self, home: Path):
        self.home = Path(home)
        make_dirs(self.home)
        self.sessions_dir = sessions_dir(self.home)
        self.head_file = self.home / "audit-head.json"
        self._secure()
        self.conn = db.connect(self.home)
        try:
            self.key_file = keys.key_path(self.home)
            key = keys.load_key(self.key_file)
            self.ledger = audit.Ledger(self.conn, self.home, self.head_file, key, self.key_file, self._baseline)
            if key is None and self.ledger.keyed_from() is None and not (audit.read_head(self.head_file) or {}).get(
                    "signature"):
                key = self.ledger.key = keys.create_key(self.key_file)   # a chain never keyed: its first key
            self.ledger.ensure_keyed()
            self.ledger.mend_head()
        except BaseException:
            self.conn.close()
            raise

    @property
    def key(self) -> Optional[keys.AuditKey]:
        return self.ledger.key

    def _secure(self) -> None:
        """Only the account running xunlu reads the archive: the home 0700; an older archive's session folders,
        files, key folder and head are made private once (folders 0700, files 0600, evidence 0400)."""
        with contextlib.suppress(OSError):
            if self.home.stat().st_mode & 0o077:
                self.home.chmod(DIR_MODE)
        if not self.sessions_dir.is_dir():
            make_dirs(self.sessions_dir)
            return
        with contextlib.suppress(OSError):
            if not self.sessions_dir.stat().st_mode & 0o077:
                return
            changed = secure_tree(self.sessions_dir) + secure_tree(self.home / "keys")
            if self.head_file.is_file():
                self.head_file.chmod(FILE_MODE)
            if (self.home / "keys").is_dir():
                (self.home / "keys").chmod(DIR_MODE)
            self.sessions_dir.chmod(DIR_MODE)  # last: the sign that this was done
            log.info("made the archive's files private (%d modes changed)", changed)

    def _baseline(self, ledger: audit.Ledger) -> None:
        """An archive written before the chain was keyed: its catalog as it is now, one entry per session, in
        the keying transaction. From here on every change is bound as it is made."""
        for sid, recs in sorted(records.by_session(records.catalog(self.conn)).items()):
            ledger.insert_bound("system:xunlu", "catalog.baseline", sid or "*", recs)

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
        session being born for an abandoned one; a dead holder (even kill -9) releases it. The row and its
        audit entry `session.create` are committed together."""
        created = audit.now()
        day = datetime.now().astimezone().strftime("%Y%m%d")
        lock = None
        try:
            with self.ledger.transaction():
                row = self.conn.execute("SELECT id FROM sessions WHERE id LIKE ? ORDER BY id DESC LIMIT 1",
                                        (f"s-{day}-%",)).fetchone()
                number = int(row["id"].rsplit("-", 1)[1]) + 1 if row else 1
                sid = f"s-{day}-{number:04d}"
                paths = SessionPaths(self.sessions_dir / sid)
                make_dirs(paths.root)
                lock = open(paths.lock, "w")
                with contextlib.suppress(OSError):
                    os.chmod(paths.lock, FILE_MODE)
                fcntl.flock(lock, fcntl.LOCK_EX)
                self.conn.execute(
                    "INSERT INTO sessions (id, status, created_at, started_at, duration, case_id, room, officers,"
                    " suspect, speakers, source_name, language, unit, check_in_at, night_reason, recorder,"
                    " suspect_gender, suspect_birth, suspect_id, suspect_address, vocabulary)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (sid, status, created, fields.get("started_at"), fields.get("duration"), fields.get("case_id"),
                     fields.get("room"), json.dumps(list(fields.get("officers", ())), ensure_ascii=False),
                     fields.get("suspect"), json.dumps(list(fields.get("speakers", ())), ensure_ascii=False),
                     fields.get("source_name"), fields.get("language"), fields.get("unit"),
                     fields.get("check_in_at"), fields.get("night_reason"), fields.get("recorder"),
                     fields.get("suspect_gender"), fields.get("suspect_birth"), fields.get("suspect_id"),
                     fields.get("suspect_address"),
                     json.dumps(list(fields.get("vocabulary", ())), ensure_ascii=False)))
                self.ledger.append(actor, "session.create", sid,
                                   {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()
                                    if v not in (None, (), [])}, records.bind_session(self.conn, sid))
        except BaseException:
            if lock is not None:
                lock.close()
            raise
        try:
            yield self.get(sid)
        finally:
            lock.close()

    def update_session(self, sid: str, *, actor: Optional[str] = None, **fields: Any) -> None:
        """Change session fields; the new values go into the audit chain (`session.set`) in the same
        transaction."""
        allowed = {"status", "started_at", "duration", "error", "language", "unit", "check_in_at", "signed_at",
                   "night_reason", *RECORD_FIELDS}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.ledger.transaction():
            if self.conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*fields.values(), sid)).rowcount:
                self.ledger.append(actor or system_actor(), "session.set", sid, {"fields": sorted(fields)},
                                   records.bind_session(self.conn, sid, fields))

    def add_media(self, sid: str, media: MediaFile, actor: Optional[str] = None) -> None:
        """Catalogue a file of the session (made read-only, 0400), with its audit entry `media.add`."""
        with self.ledger.transaction():
            self.conn.execute("INSERT INTO media (session_id, role, path, sha256, size) VALUES (?,?,?,?,?)",
                              (sid, media.role, media.path, media.sha256, media.size))
            self.ledger.append(actor or system_actor(), "media.add", sid,
                               {"role": media.role, "path": media.path, "sha256": media.sha256, "size": media.size},
                               records.bind_media(self.conn, sid, media.role))
        path = self.paths(sid).file(media.path)
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                os.chmod(path, READ_ONLY)
                os.chmod(path.parent, DIR_MODE)

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
                       night_reason=row["night_reason"], recorder=row["recorder"],
                       suspect_gender=row["suspect_gender"], suspect_birth=row["suspect_birth"],
                       suspect_id=row["suspect_id"], suspect_address=row["suspect_address"],
                       vocabulary=tuple(json.loads(row["vocabulary"] or "[]")))

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
        with self.ledger.transaction():
            holder = self.holder_of(media.sha256, other_than=sid)
            if holder is None:
                self.add_media(sid, media)
        return holder

    def write_manifest(self, sid: str) -> None:
        session = self.get(sid)
        atomic_write(self.paths(sid).manifest,
                     json.dumps(session.to_dict(), ensure_ascii=False, indent=1).encode("utf-8"), mode=FILE_MODE)

    # -- audit --------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, details: Optional[dict[str, Any]] = None) -> AuditEntry:
        """Append an entry. Closing a warning (`warning.close` on `<session>/warning/<n>`, after the row was
        changed) binds the warning's closed state to it."""
        if details and records.RECORD in details:
            raise ValueError(f"'{records.RECORD}' is kept for the catalog records an entry binds")
        with self.ledger.transaction():
            bound = None
            match = WARNING_TARGET.match(target) if action.startswith("warning.") else None
            if match:
                bound = records.bind_warning(self.conn, int(match.group(1)))
            return self.ledger.append(actor, action, target, details, bound)

    def anchor(self, actor: str) -> audit.Anchor:
        """Append `audit.anchor` and return the signed head (to be written down elsewhere)."""
        return self.ledger.anchor(actor)

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
    except driver_errors() as exc:
        raise ArchiveError(f"cannot open the archive in {home}: {exc}") from exc
