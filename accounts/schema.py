"""The users store's schema: numbered migrations, each plain SQL both backends run or a Step per backend
(archive.database). Never edit a released entry: append a new one."""
from __future__ import annotations

from archive.database import Migration, Step

# Numbered like the catalog's (archive.db): a Step gives each backend its own SQL. On PostgreSQL, names compare
# without case through the citext extension (shipped with the server; trusted: the database's owner may add it).
MIGRATIONS: tuple[Migration, ...] = (
    Step("""
    CREATE TABLE users (
        username TEXT PRIMARY KEY COLLATE NOCASE,
        display_name TEXT COLLATE NOCASE UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        last_login TEXT,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until REAL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        csrf_hash TEXT,
        username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username),
        kind TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        last_used REAL,
        revoked_at REAL,
        address TEXT
    );
    CREATE INDEX tokens_user ON tokens(username);
    """, """
    CREATE EXTENSION IF NOT EXISTS citext;
    CREATE TABLE users (
        username CITEXT PRIMARY KEY,
        display_name CITEXT UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        last_login TEXT,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until DOUBLE PRECISION
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        csrf_hash TEXT,
        username CITEXT NOT NULL REFERENCES users(username),
        kind TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        last_used DOUBLE PRECISION,
        revoked_at DOUBLE PRECISION,
        address TEXT
    );
    CREATE INDEX tokens_user ON tokens(username)
    """),
    # 2: failed logins per (name, address) instead of one lock per user; role grants waiting for a second person
    Step("""
    CREATE TABLE login_attempts (
        name TEXT NOT NULL,              -- casefolded: a user's name, or a name that is no user (treated the same)
        address TEXT NOT NULL,           -- accounts.addresses.address_key
        failures INTEGER NOT NULL DEFAULT 0,
        last_failure REAL,
        last_success REAL,
        PRIMARY KEY (name, address)
    );
    CREATE INDEX login_attempts_failed ON login_attempts(name, last_failure);
    CREATE INDEX login_attempts_old ON login_attempts(last_failure);
    ALTER TABLE users ADD COLUMN pending_role TEXT;
    ALTER TABLE users ADD COLUMN pending_by TEXT;
    ALTER TABLE users ADD COLUMN pending_since TEXT;
    """, """
    CREATE TABLE login_attempts (
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_failure DOUBLE PRECISION,
        last_success DOUBLE PRECISION,
        PRIMARY KEY (name, address)
    );
    CREATE INDEX login_attempts_failed ON login_attempts(name, last_failure);
    CREATE INDEX login_attempts_old ON login_attempts(last_failure);
    ALTER TABLE users ADD COLUMN pending_role TEXT;
    ALTER TABLE users ADD COLUMN pending_by TEXT;
    ALTER TABLE users ADD COLUMN pending_since TEXT
    """),
)
USERS_FILE = "users.sqlite"
