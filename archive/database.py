"""One connection interface over the two databases a store can live in: SQLite (a file in the home folder, the
embedded default) or PostgreSQL (`XUNLU_DATABASE_URL=postgresql://...`, a centre's catalog that all its nodes
share). The catalog (archive.db) and the users store (accounts.store) run unchanged on either.

The stores write their SQL once, in what both dialects accept: `?` placeholders (given to psycopg as `%s`),
`INSERT ... ON CONFLICT (...) DO UPDATE`, `COALESCE`, `substr`, `CASE`; rows are read by column name or
position. What differs lives here and in archive.postgres:

- **Write transactions** (`with conn.write():`, or begin/commit/rollback): on SQLite `BEGIN IMMEDIATE`, the
  file's single writer lock; on PostgreSQL `BEGIN` and a transaction-level advisory lock named after the store
  (`catalog`, `users`). Writers of one store therefore follow one another across processes and machines as they
  do on SQLite: the hash-chained audit append reads the newest entry and writes the next in strict order, and
  the next session id or transcript version cannot be taken twice.
- **The schema version**: `PRAGMA user_version` on SQLite; a table `xunlu_schema` (a row per store) on
  PostgreSQL. `migrate` applies numbered steps under the write lock: a plain string is portable SQL, a `Step`
  gives each backend its own (PostgreSQL has no `REAL` of 8 bytes, no `COLLATE NOCASE`, no rowid).
- **Errors**: `conn.errors` are the driver's error classes, to catch where a caller must. A PostgreSQL
  connection that the server closed (a restart, a fail-over) is opened again before the next transaction or
  read; a transaction it was in fails and is rolled back by the server.
"""
from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, Union

log = logging.getLogger("xunlu.archive.database")

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
URL_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Step:
    """A migration step whose SQL differs between the backends (statements separated by `;`)."""

    sqlite: str
    postgresql: str

    def sql(self, backend: str) -> str:
        return self.sqlite if backend == SQLITE else self.postgresql


Migration = Union[str, Step]


class Connection:
    """What every store uses. Not for more than one thread at a time inside a transaction (like sqlite3)."""

    backend: str = ""
    store: str = ""            # the store's name: its lock and its schema version on PostgreSQL
    errors: tuple[type[BaseException], ...] = ()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement -> a cursor (fetchone, fetchall, iteration, rowcount)."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        """Start a write transaction: waits until no other writer of this store holds one."""
        raise NotImplementedError

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    @contextlib.contextmanager
    def write(self) -> Iterator["Connection"]:
        """One write transaction: committed at the end, rolled back on any error."""
        self.begin()
        try:
            yield self
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def schema_version(self) -> int:
        raise NotImplementedError

    def set_schema_version(self, version: int) -> None:
        """Inside the migrating transaction."""
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteConnection(Connection):
    backend = SQLITE
    errors = (sqlite3.Error,)

    def __init__(self, path: Path, store: str):
        self.path = Path(path)
        self.store = store
        self.raw = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
        self.raw.row_factory = sqlite3.Row
        try:
            self.raw.execute("PRAGMA journal_mode = WAL")
            self.raw.execute("PRAGMA synchronous = FULL")
            self.raw.execute("PRAGMA foreign_keys = ON")
            self.raw.execute("PRAGMA busy_timeout = 30000")
        except BaseException:
            self.raw.close()
            raise

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    def begin(self) -> None:
        self.raw.execute("BEGIN IMMEDIATE")

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def schema_version(self) -> int:
        return int(self.raw.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.raw.execute(f"PRAGMA user_version = {int(version)}")

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.raw.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        self.raw.close()


def driver_errors() -> tuple[type[BaseException], ...]:
    """The error classes of the drivers in use (psycopg's only once it was loaded: nothing else raises them)."""
    pg = sys.modules.get("psycopg")
    return (sqlite3.Error, pg.Error) if pg is not None else (sqlite3.Error,)


def is_url(target: Union[str, Path, None]) -> bool:
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@?]*):[^@/]*@", r"\1:***@", url)


def open_database(target: Union[str, Path], store: str, error: Callable[[str], Exception]) -> Connection:
    """A PostgreSQL URL or an SQLite file path -> a connection; `error` makes the store's error from a message."""
    if is_url(target):
        from archive.postgres import PostgresConnection

        return PostgresConnection(str(target), store, error)
    try:
        return SqliteConnection(Path(target), store)
    except sqlite3.DatabaseError as exc:
        raise error(f"{target} cannot be opened: {exc}") from exc


_ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)", re.IGNORECASE)


def _column_there(conn: Connection, statement: str) -> bool:
    """Whether `statement` adds a column that is already there (a schema version set back by hand, as tests of
    older archives do): adding it again would fail."""
    match = _ADD_COLUMN.match(statement)
    return bool(match) and match.group(2).lower() in {c.lower() for c in conn.columns(match.group(1))}


def statements(step: Migration, backend: str) -> list[str]:
    sql = step.sql(backend) if isinstance(step, Step) else step
    return [s for s in sql.split(";") if s.strip()]


def migrate(conn: Connection, migrations: Sequence[Migration], error: Callable[[str], Exception],
            what: str = "this archive") -> None:
    """Bring the store's schema to the newest version, one step per transaction (another process migrating at
    the same time is waited for, and its steps are not applied twice)."""
    current = conn.schema_version()
    if current > len(migrations):
        raise error(f"{what} was written by a newer xunlu (schema {current}, this one knows {len(migrations)}): "
                    "upgrade xunlu")
    for number in range(current, len(migrations)):
        with conn.write():
            if conn.schema_version() != number:  # another process migrated meanwhile
                continue
            for statement in statements(migrations[number], conn.backend):
                if not _column_there(conn, statement):
                    conn.execute(statement)
            conn.set_schema_version(number + 1)
        log.info("%s schema (%s) migrated to version %d", conn.store, conn.backend, number + 1)
