"""The catalog as someone with direct access to the database edits it (sqlite3 on the file, psql on the
server): statements run one at a time and commit at once, foreign keys unchecked, whichever backend the home's
catalog is on (SQLite, or PostgreSQL when XUNLU_DATABASE_URL is set)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from archive import db
from archive.database import Connection, is_url, open_database


def _open(home: Path) -> Connection:
    where = db.target(home)
    conn = open_database(where, "tamper", RuntimeError)
    if is_url(where):
        conn.execute("SET session_replication_role = replica")   # a superuser's way round foreign keys
    else:
        conn.execute("PRAGMA foreign_keys = OFF")
    return conn


def sql(home: Path, statement: str, *args) -> int:
    """Run one statement (`?` placeholders) -> the rows it changed."""
    conn = _open(home)
    try:
        return conn.execute(statement, args).rowcount
    finally:
        conn.close()


def query(home: Path, statement: str, *args) -> list[tuple]:
    conn = _open(home)
    try:
        return [tuple(r) for r in conn.execute(statement, args).fetchall()]
    finally:
        conn.close()


@contextlib.contextmanager
def connection(home: Path) -> Iterator[Connection]:
    """One connection for many statements (each committed as it runs, unless inside `conn.write()`)."""
    conn = _open(home)
    try:
        yield conn
    finally:
        conn.close()


def set_schema_version(home: Path, version: int) -> None:
    """Set the catalog's schema version back, as an older xunlu left it."""
    with connection(home) as conn, conn.write():
        conn.set_schema_version(version)
