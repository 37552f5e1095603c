"""The SQLite catalog (WAL). Schema changes are numbered migrations, so a newer xunlu opens an older home."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
from pathlib import Path

from archive.types import ArchiveError

log = logging.getLogger("xunlu.archive.db")

# Each entry upgrades the schema from version i to i + 1. Never edit a released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('recording', 'finalising', 'complete', 'failed')),
        created_at TEXT NOT NULL,
        started_at TEXT,
        duration REAL,
        case_id TEXT,
        room TEXT,
        officers TEXT NOT NULL DEFAULT '[]',
        suspect TEXT,
        speakers TEXT NOT NULL DEFAULT '[]',
        source_name TEXT,
        error TEXT
    );
    CREATE INDEX sessions_case ON sessions(case_id);
    CREATE INDEX sessions_started ON sessions(started_at);
    CREATE TABLE media (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        role TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (session_id, role)
    );
    CREATE INDEX media_sha ON media(sha256);
    CREATE TABLE transcripts (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        version INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('asr', 'edit')),
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        author TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        parent INTEGER,
        PRIMARY KEY (session_id, version)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE sessions ADD COLUMN language TEXT;
    """,
    # supervision: the unit (单位), the person's arrival in the centre, the 笔录 signature, the reason for
    # questioning at night; warnings found by supervise/ with their open/closed state (never deleted)
    """
    ALTER TABLE sessions ADD COLUMN unit TEXT;
    ALTER TABLE sessions ADD COLUMN check_in_at TEXT;
    ALTER TABLE sessions ADD COLUMN signed_at TEXT;
    ALTER TABLE sessions ADD COLUMN night_reason TEXT;
    CREATE TABLE warnings (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('red', 'yellow')),
        reason TEXT NOT NULL,
        at REAL,
        unit TEXT,
        session_started TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'resolved')),
        resolved_at TEXT,
        closed_at TEXT,
        closed_by TEXT,
        close_reason TEXT
    );
    CREATE INDEX warnings_session ON warnings(session_id);
    CREATE INDEX warnings_state ON warnings(state, level)
    """,
    # the keyed chain: finding its `chain.keyed` entry (and markers, anchors) without reading the whole chain
    """
    CREATE INDEX audit_action ON audit(action)
    """,
    # the 讯问笔录's header: 记录人, the person's identity; the vocabulary the recognition was given (JSON list)
    """
    ALTER TABLE sessions ADD COLUMN recorder TEXT;
    ALTER TABLE sessions ADD COLUMN suspect_gender TEXT;
    ALTER TABLE sessions ADD COLUMN suspect_birth TEXT;
    ALTER TABLE sessions ADD COLUMN suspect_id TEXT;
    ALTER TABLE sessions ADD COLUMN suspect_address TEXT;
    ALTER TABLE sessions ADD COLUMN vocabulary TEXT
    """,
)
_ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)", re.IGNORECASE)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_column(conn: sqlite3.Connection, statement: str) -> bool:
    """Whether `statement` adds a column that is already there (a schema version set back by hand, as
    tests of older archives do): adding it again would fail."""
    match = _ADD_COLUMN.match(statement)
    if not match:
        return False
    return match.group(2) in {row[1] for row in conn.execute(f"PRAGMA table_info({match.group(1)})")}


def migrate(conn: sqlite3.Connection) -> None:
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise ArchiveError(f"this archive was written by a newer xunlu (schema {current}, this one knows "
                           f"{len(MIGRATIONS)}): upgrade xunlu")
    for number in range(current, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) != number:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip() and not _has_column(conn, statement):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
            log.info("archive schema migrated to version %d", number + 1)
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def private_files(path: Path) -> None:
    """The catalog and its WAL side files: the owner's only (SQLite gives the side files the catalog's mode)."""
    if not path.exists():
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is a new catalog
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    private_files(path)
    try:
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"the archive catalog {path} cannot be opened: {exc}") from exc
    return conn
