"""The catalog: `<home>/catalog.sqlite` (SQLite, WAL), or the PostgreSQL database named by
`XUNLU_DATABASE_URL=postgresql://...` (a centre's catalog, shared by its nodes). One schema for both, changed by
numbered migrations, so a newer xunlu opens an older home or database (the connection layer: archive.database).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Union

from archive.database import Connection, Migration, Step, is_url, migrate, open_database, redact
from archive.types import ArchiveError

DATABASE_ENV = "XUNLU_DATABASE_URL"
CATALOG_FILE = "catalog.sqlite"
STORE = "catalog"

# Each entry upgrades the schema from version i to i + 1. Never edit a released entry: append a new one. A
# plain string is SQL both backends run; a Step gives each its own (PostgreSQL: 8-byte floats and sizes, an
# identity column for SQLite's rowid).
MIGRATIONS: tuple[Migration, ...] = (
    Step("""
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
    """, """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('recording', 'finalising', 'complete', 'failed')),
        created_at TEXT NOT NULL,
        started_at TEXT,
        duration DOUBLE PRECISION,
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
        size BIGINT NOT NULL,
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
        seq BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """),
    """
    ALTER TABLE sessions ADD COLUMN language TEXT;
    """,
    # supervision: the unit (单位), the person's arrival in the centre, the 笔录 signature, the reason for
    # questioning at night; warnings found by supervise/ with their open/closed state (never deleted)
    Step("""
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
    """, """
    ALTER TABLE sessions ADD COLUMN unit TEXT;
    ALTER TABLE sessions ADD COLUMN check_in_at TEXT;
    ALTER TABLE sessions ADD COLUMN signed_at TEXT;
    ALTER TABLE sessions ADD COLUMN night_reason TEXT;
    CREATE TABLE warnings (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('red', 'yellow')),
        reason TEXT NOT NULL,
        at DOUBLE PRECISION,
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
    """),
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


def schema_version(conn: Connection) -> int:
    return conn.schema_version()


def target(home: Path, file: str = CATALOG_FILE) -> Union[str, Path]:
    """Where this home's catalog (or another store: `file`) is: `$XUNLU_DATABASE_URL` (PostgreSQL), else
    `<home>/catalog.sqlite` (`<home>/<file>`)."""
    url = os.environ.get(DATABASE_ENV, "").strip()
    if not url:
        return Path(home) / file
    if not is_url(url):
        raise ArchiveError(f"{DATABASE_ENV} must be a postgresql:// URL (unset it for the SQLite catalog in the "
                           f"home folder), not {redact(url)!r}")
    return url


def private_files(path: Path) -> None:
    """The catalog and its WAL side files: the owner's only (SQLite gives the side files the catalog's mode)."""
    if not path.exists():
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is a new catalog
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)


def connect(home: Path) -> Connection:
    """The home's catalog, migrated to the newest schema."""
    where = target(home)
    if not is_url(where):
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        private_files(Path(where))
    conn = open_database(where, STORE, lambda message: ArchiveError(f"the archive catalog {message}"))
    try:
        migrate(conn, MIGRATIONS, ArchiveError)
    except conn.errors as exc:
        conn.close()
        raise ArchiveError(f"the archive catalog {redact(str(where))} cannot be opened: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn
