"""The users store: `<home>/users.sqlite` (WAL), holding users, password hashes, login tokens and lockouts.

Users are not evidence, so they are kept apart from the archive catalog; what users do is recorded in the
archive's audit chain. Tokens are random secrets given to the client once; only their SHA-256 is stored, so a
copy of this file does not let anyone log in. Safe to share between threads and processes.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from pathlib import Path
from typing import Iterator, Optional

from accounts.types import ADMIN, ROLES, AuthError, Token, UnknownUser, User

log = logging.getLogger("xunlu.auth.store")

USERNAME = re.compile(r"^[^\W_][\w.\-]{0,31}$")
RESERVED = {"system", "anonymous", "web"}  # actors the audit chain already uses

MIGRATIONS: tuple[str, ...] = (
    """
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
    """,
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def clean_name(name: str, what: str = "用户名 user name") -> str:
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not USERNAME.match(name):
        raise AuthError(f"{what} {name!r} 不可用: 1-32 letters, digits, Chinese characters, '.', '-' or '_', "
                        "starting with a letter or digit")
    if name.lower() in RESERVED:
        raise AuthError(f"{what} {name!r} is reserved")
    return name


def _now_iso() -> str:
    from archive.audit import now

    return now()


def _user(row: sqlite3.Row) -> User:
    return User(username=row["username"], role=row["role"], display_name=row["display_name"],
                disabled=bool(row["disabled"]), created_at=row["created_at"], last_login=row["last_login"],
                failed_logins=row["failed_logins"], locked_until=row["locked_until"])


def _token(row: sqlite3.Row) -> Token:
    return Token(id=row["id"], username=row["username"], kind=row["kind"], created_at=row["created_at"],
                 expires_at=row["expires_at"], last_used=row["last_used"], revoked_at=row["revoked_at"],
                 address=row["address"])


class UserStore:
    def __init__(self, home: Path):
        self.path = Path(home) / "users.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                                        check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise AuthError(f"the users store {self.path} cannot be opened: {exc}") from exc
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        current = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if current > len(MIGRATIONS):
            raise AuthError(f"{self.path} was written by a newer xunlu (schema {current}): upgrade xunlu")
        for number in range(current, len(MIGRATIONS)):
            with self._tx() as conn:
                if int(conn.execute("PRAGMA user_version").fetchone()[0]) != number:
                    continue  # another process migrated meanwhile
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def _read(self, query: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(query, args).fetchall()

    # -- users --------------------------------------------------------------------------------------
    def count(self) -> int:
        return self._read("SELECT COUNT(*) AS n FROM users")[0]["n"]

    def get(self, username: str) -> Optional[User]:
        rows = self._read("SELECT * FROM users WHERE username = ?", (unicodedata.normalize("NFKC", username),))
        return _user(rows[0]) if rows else None

    def require(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise UnknownUser(f"没有用户 no such user: {username}")
        return user

    def password_hash(self, username: str) -> Optional[str]:
        rows = self._read("SELECT password_hash FROM users WHERE username = ?", (username,))
        return rows[0]["password_hash"] if rows else None

    def list(self) -> list[User]:
        return [_user(r) for r in self._read("SELECT * FROM users ORDER BY role, username")]

    def add(self, username: str, role: str, password_hash: str, display_name: Optional[str] = None) -> User:
        username = clean_name(username)
        display = clean_name(display_name, "姓名 display name") if display_name else None
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        with self._tx() as conn:
            for name in {username, display} - {None}:
                clash = conn.execute("SELECT username FROM users WHERE username = ? OR display_name = ?",
                                     (name, name)).fetchone()
                if clash:
                    raise AuthError(f"名称已被使用 the name {name!r} is already used by user {clash['username']}")
            conn.execute("INSERT INTO users (username, display_name, role, password_hash, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (username, display, role, password_hash, _now_iso()))
        log.info("user %s added with role %s", username, role)
        return self.require(username)

    def _enabled_admins(self, conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT COUNT(*) AS n FROM users WHERE role = ? AND disabled = 0",
                            (ADMIN,)).fetchone()["n"]

    def set_disabled(self, username: str, disabled: bool) -> User:
        user = self.require(username)
        with self._tx() as conn:
            if disabled and user.role == ADMIN and not user.disabled and self._enabled_admins(conn) <= 1:
                raise AuthError("不能停用最后一个管理员 cannot disable the last enabled admin")
            conn.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), user.username))
            if disabled:
                self._revoke_all(conn, user.username)
        return self.require(username)

    def set_role(self, username: str, role: str) -> User:
        user = self.require(username)
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        with self._tx() as conn:
            if user.role == ADMIN and role != ADMIN and not user.disabled and self._enabled_admins(conn) <= 1:
                raise AuthError("不能撤销最后一个管理员 cannot take the role from the last enabled admin")
            conn.execute("UPDATE users SET role = ? WHERE username = ?", (role, user.username))
            self._revoke_all(conn, user.username)  # a new role starts with a new login
        return self.require(username)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        """A new password ends every login of the user at once and lifts a lockout."""
        user = self.require(username)
        with self._tx() as conn:
            conn.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL "
                         "WHERE username = ?", (password_hash, user.username))
            self._revoke_all(conn, user.username)

    def rehash(self, username: str, password_hash: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username))

    # -- lockout ------------------------------------------------------------------------------------
    def record_failure(self, username: str, now: float, max_failures: int, lockout: float) -> Optional[float]:
        """Count a failed login of a known user; returns the lock's end when this failure locks it."""
        with self._tx() as conn:
            row = conn.execute("SELECT failed_logins FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                return None
            failures = row["failed_logins"] + 1
            until = now + lockout if failures >= max_failures else None
            conn.execute("UPDATE users SET failed_logins = ?, locked_until = COALESCE(?, locked_until) "
                         "WHERE username = ?", (0 if until else failures, until, username))
            return until

    def record_success(self, username: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login = ? "
                         "WHERE username = ?", (_now_iso(), username))

    def unlock(self, username: str) -> User:
        user = self.require(username)
        with self._tx() as conn:
            conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?",
                         (user.username,))
        return self.require(username)

    # -- tokens -------------------------------------------------------------------------------------
    def create_token(self, username: str, kind: str, ttl: float, address: Optional[str],
                     now: Optional[float] = None) -> tuple[str, Optional[str], Token]:
        """Returns (secret, csrf secret for cookie logins, token). The secrets are never stored."""
        now = time.time() if now is None else now
        secret = "xlt_" + secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == "cookie" else None
        token_id = secrets.token_hex(8)
        with self._tx() as conn:
            conn.execute("INSERT INTO tokens (id, token_hash, csrf_hash, username, kind, created_at, expires_at,"
                         " address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (token_id, digest(secret), digest(csrf) if csrf else None, username, kind, now,
                          now + ttl, address))
            # expired and revoked logins older than a week are of no further use
            conn.execute("DELETE FROM tokens WHERE expires_at < ? OR revoked_at < ?", (now - 7 * 86400,
                                                                                         now - 7 * 86400))
        return secret, csrf, self.token(token_id)

    def token(self, token_id: str) -> Optional[Token]:
        rows = self._read("SELECT * FROM tokens WHERE id = ?", (token_id,))
        return _token(rows[0]) if rows else None

    def lookup(self, secret: str, now: Optional[float] = None) -> Optional[tuple[Token, User, Optional[str]]]:
        """The live login behind a secret: (token, its user, csrf hash), or None when unknown, expired,
        revoked, or the user is disabled."""
        now = time.time() if now is None else now
        rows = self._read("SELECT t.*, u.username AS u_name FROM tokens t JOIN users u ON u.username = t.username "
                          "WHERE t.token_hash = ?", (digest(secret),))
        if not rows:
            return None
        row = rows[0]
        if row["revoked_at"] is not None or row["expires_at"] <= now:
            return None
        user = self.get(row["u_name"])
        if user is None or user.disabled:
            return None
        if row["last_used"] is None or now - row["last_used"] > 60:
            with self._tx() as conn:
                conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, row["id"]))
        return _token(row), user, row["csrf_hash"]

    def tokens(self, username: Optional[str] = None, live_only: bool = True) -> list[Token]:
        query, args = "SELECT * FROM tokens WHERE 1=1", []
        if username:
            query += " AND username = ?"
            args.append(username)
        if live_only:
            query += " AND revoked_at IS NULL AND expires_at > ?"
            args.append(time.time())
        return [_token(r) for r in self._read(query + " ORDER BY created_at", tuple(args))]

    def revoke(self, token_id: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                               (time.time(), token_id))
            return cur.rowcount > 0

    def revoke_all(self, username: str) -> int:
        with self._tx() as conn:
            return self._revoke_all(conn, username)

    @staticmethod
    def _revoke_all(conn: sqlite3.Connection, username: str) -> int:
        return conn.execute("UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                            (time.time(), username)).rowcount
