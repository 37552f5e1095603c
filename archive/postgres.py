"""The PostgreSQL backend of archive.database (psycopg 3): a centre's catalog, users and audit chain in one
database that every node of the centre reaches through `XUNLU_DATABASE_URL=postgresql://user:pass@host/db`.

The connection runs in autocommit mode; a write transaction is an explicit `BEGIN` followed by
`pg_advisory_xact_lock` on the store's name (and the schema the tables are in), released by COMMIT or
ROLLBACK, and by the server when a process dies. Reads outside a transaction see the newest committed data.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any, Callable, Iterable, Sequence

from archive.database import POSTGRESQL, Connection, redact

log = logging.getLogger("xunlu.archive.postgres")
LOCK_WAIT = "30s"     # as SQLite's busy timeout: a writer that waits longer gets an error, never hangs
SCHEMA_TABLE = "xunlu_schema"
KEEP_IDLE = 4         # closed connections kept open per database and store, for the next Archive of this process
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('xunlu:' || current_schema() || ':' || %s, 0))"


class Row:
    """A row read by column name or by position, like sqlite3.Row."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]):
        self._values = values
        self._index = index

    def __getitem__(self, key: Any) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))!r})"


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


_translated: dict[str, str] = {}


def pyformat(sql: str) -> str:
    """`?` placeholders -> psycopg's `%s`, a literal `%` -> `%%` (not inside quoted strings or names)."""
    done = _translated.get(sql)
    if done is not None:
        return done
    out, quote = [], ""
    for ch in sql:
        if ch == "%":
            out.append("%%")
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            ch = "%s"
        out.append(ch)
    done = "".join(out)
    if len(_translated) < 4096:
        _translated[sql] = done
    return done


class PostgresConnection(Connection):
    backend = POSTGRESQL

    def __init__(self, url: str, store: str, error: Callable[[str], Exception]):
        try:
            import psycopg
            from psycopg import pq
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as exc:  # pragma: no cover  (a dependency of xunlu)
            raise error("XUNLU_DATABASE_URL names PostgreSQL but psycopg is not installed: "
                        "pip install 'psycopg[binary]'") from exc
        self.store = store
        self.url = url
        self.errors = (psycopg.Error,)
        self._lost = psycopg.OperationalError
        self._idle = pq.TransactionStatus.IDLE
        self._tx = False
        try:
            self._params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise error(f"XUNLU_DATABASE_URL is not a PostgreSQL URL ({redact(url)}): {exc}") from None
        self._params.setdefault("connect_timeout", 10)
        self._params.setdefault("application_name", f"xunlu-{store}")
        try:
            self.raw = _idle.take((url, store)) or self._connect()
        except psycopg.Error as exc:
            raise error(f"the {store} database {redact(url)} cannot be reached: {exc}") from None

    def _connect(self) -> Any:
        import psycopg

        raw = psycopg.connect(autocommit=True, row_factory=_rows, **self._params)
        raw.execute(f"SET lock_timeout = '{LOCK_WAIT}'")
        return raw

    def _usable(self) -> None:
        """Outside a transaction, a connection the server closed (a restart, a fail-over, an idle timeout) is
        opened again; inside one, its loss is the transaction's error (rolled back by the server)."""
        if not self._tx and (self.raw.closed or self.raw.broken):
            log.warning("the %s database connection was lost: connecting again to %s", self.store, redact(self.url))
            self.raw.close()
            self.raw = self._connect()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        self._usable()
        try:
            return self.raw.execute(pyformat(sql), tuple(args))
        except self._lost:
            if self._tx or not self.raw.broken or not sql.lstrip()[:6].upper() == "SELECT":
                raise
        self._usable()                  # a read outside a transaction: asked again on a new connection
        return self.raw.execute(pyformat(sql), tuple(args))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._usable()
        batch = [tuple(r) for r in rows]
        if batch:
            with self.raw.cursor() as cur:
                cur.executemany(pyformat(sql), batch)

    def begin(self) -> None:
        self._usable()
        try:
            self.raw.execute("BEGIN")
        except self._lost:
            if not self.raw.broken:
                raise
            self._usable()              # nothing was done yet: begin on a new connection
            self.raw.execute("BEGIN")
        try:
            self.raw.execute(_LOCK, (self.store,))
        except BaseException:
            with contextlib.suppress(Exception):
                self.raw.execute("ROLLBACK")
            raise
        self._tx = True

    def commit(self) -> None:
        try:
            self.raw.execute("COMMIT")
        finally:
            self._tx = False

    def rollback(self) -> None:
        try:
            if not (self.raw.closed or self.raw.broken) and self.in_transaction:
                self.raw.execute("ROLLBACK")
        finally:
            self._tx = False

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != self._idle

    def schema_version(self) -> int:
        if self.raw.execute("SELECT to_regclass(%s)", (SCHEMA_TABLE,)).fetchone()[0] is None:
            return 0
        row = self.raw.execute(f"SELECT version FROM {SCHEMA_TABLE} WHERE store = %s", (self.store,)).fetchone()
        return int(row[0]) if row else 0

    def set_schema_version(self, version: int) -> None:
        self.raw.execute(_LOCK, ("schema",))   # the table is shared by the stores, which migrate at any time
        self.raw.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (store TEXT PRIMARY KEY, "
                         "version INTEGER NOT NULL)")
        self.raw.execute(f"INSERT INTO {SCHEMA_TABLE} (store, version) VALUES (%s, %s) ON CONFLICT (store) "
                         "DO UPDATE SET version = excluded.version", (self.store, int(version)))

    def columns(self, table: str) -> set[str]:
        return {r[0] for r in self.raw.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s", (table.lower(),))}

    def close(self) -> None:
        """Keep the connection for the next one of this process (the web server opens the archive for each
        request: a new connection costs about 10 ms, most of it the password exchange), unless it is in a
        transaction, lost, or enough are kept."""
        raw, self.raw = self.raw, _Closed()
        if isinstance(raw, _Closed) or not _idle.give((self.url, self.store), raw, self._idle):
            with contextlib.suppress(Exception):
                raw.close()


class _Closed:
    """What a closed PostgresConnection holds: any use is an error, as on a closed sqlite3 connection."""

    closed, broken = False, False   # so that the next use reaches __getattr__, never a reconnection

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the database connection was closed")


class _Idle:
    """Open connections not in use, per (URL, store), of this process only (never one inherited by a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str], list[tuple[int, Any]]] = {}

    def take(self, key: tuple[str, str]) -> Any:
        with self._lock:
            kept = self._kept.get(key, [])
            for i in range(len(kept) - 1, -1, -1):
                pid, raw = kept[i]
                if pid == os.getpid():
                    del kept[i]
                    if not (raw.closed or raw.broken):
                        return raw
        return None

    def give(self, key: tuple[str, str], raw: Any, idle_status: Any) -> bool:
        if raw.closed or raw.broken or raw.info.transaction_status != idle_status:
            return False
        with self._lock:
            kept = self._kept.setdefault(key, [])
            if sum(1 for pid, _ in kept if pid == os.getpid()) >= KEEP_IDLE:
                return False
            kept.append((os.getpid(), raw))
        return True


_idle = _Idle()
