"""The users store: `<home>/users.sqlite` (WAL), or the tables `users`, `tokens` and `login_attempts` of the
PostgreSQL database named by `XUNLU_DATABASE_URL` (archive.db, archive.database). It holds users, password
hashes, login tokens, failed logins per (name, address) and role grants waiting for a second person.

Users are not evidence, so they are kept apart from the archive catalog (on PostgreSQL: other tables, their
own write lock and schema version); what users do is recorded in the archive's audit chain. Tokens are
random secrets given to the client once; only their SHA-256 is stored, so a copy of the store does not let
anyone log in. Safe to share between threads and processes.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any, Iterator, Optional

from accounts.schema import MIGRATIONS, USERS_FILE
from accounts.types import ADMIN, PENDING, ROLES, AuthError, Token, UnknownUser, User
from archive.database import Connection, migrate, open_database, redact
from archive.db import target

log = logging.getLogger("xunlu.auth.store")

USERNAME = re.compile(r"^[^\W_][\w.\-]{0,31}$")
RESERVED = {"system", "anonymous", "web"}  # actors the audit chain already uses

FORGET_FAILURES = 24 * 3600        # failures this old of a (name, address) no longer count
KNOWN_ADDRESS = 30 * 24 * 3600     # an address a name logged in from this recently is "known" for it


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def clean_name(name: str, what: str = "用户名 user name") -> str:
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not USERNAME.match(name):
        raise AuthError(f"{what} {name!r} 不可用: 1-32 letters, digits, Chinese characters, '.', '-' or '_', "
                        "starting with a letter or digit", code="bad_name", params={"name": name})
    if name.lower() in RESERVED:
        raise AuthError(f"{what} {name!r} is reserved", code="name_reserved", params={"name": name})
    return name


def _now_iso() -> str:
    from archive.audit import now

    return now()


def _user(row: Any) -> User:
    """A pending account's role is PENDING: no access rule knows it, so none can let it in by mistake."""
    pending = row["pending_role"]
    return User(username=row["username"], role=PENDING if pending else row["role"],
                display_name=row["display_name"], disabled=bool(row["disabled"]), created_at=row["created_at"],
                last_login=row["last_login"], failed_logins=row["failed_logins"], locked_until=row["locked_until"],
                pending_role=pending, pending_by=tuple(json.loads(row["pending_by"] or "[]")),
                pending_since=row["pending_since"])


def _token(row: Any) -> Token:
    return Token(id=row["id"], username=row["username"], kind=row["kind"], created_at=row["created_at"],
                 expires_at=row["expires_at"], last_used=row["last_used"], revoked_at=row["revoked_at"],
                 address=row["address"])


class UserStore:
    def __init__(self, home: Path):
        where = target(Path(home), USERS_FILE)
        self.path = where if isinstance(where, Path) else None      # None: on PostgreSQL
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.conn = open_database(where, "users", lambda message: AuthError(f"the users store {message}"))
        try:
            migrate(self.conn, MIGRATIONS, AuthError, what=f"the users store {redact(str(where))}")
        except self.conn.errors as exc:
            self.conn.close()
            raise AuthError(f"the users store {redact(str(where))} cannot be opened: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.chmod(0o600)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._lock, self.conn.write() as conn:
            yield conn

    def _read(self, query: str, args: tuple = ()) -> list[Any]:
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

    def add(self, username: str, role: str, password_hash: str, display_name: Optional[str] = None,
            pending_by: Optional[str] = None) -> User:
        """`pending_by`: the admin who asks for it over the web; the account then waits for a second person."""
        username = clean_name(username)
        display = clean_name(display_name, "姓名 display name") if display_name else None
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r}: use one of {', '.join(ROLES)}", code="unknown_role")
        with self._tx() as conn:
            for name in {username, display} - {None}:
                clash = conn.execute("SELECT username FROM users WHERE username = ? OR display_name = ?",
                                     (name, name)).fetchone()
                if clash:
                    raise AuthError(f"名称已被使用 the name {name!r} is already used by user {clash['username']}",
                                    code="name_taken", params={"name": name})
            conn.execute("INSERT INTO users (username, display_name, role, password_hash, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (username, display, role, password_hash, _now_iso()))
            if pending_by:
                self._pend(conn, username, role, pending_by)
        log.info("user %s added with role %s%s", username, role, " (pending)" if pending_by else "")
        return self.require(username)

    def _enabled_admins(self, conn: Connection) -> int:
        """Admins who can act: enabled and not waiting for a confirmation."""
        return conn.execute("SELECT COUNT(*) AS n FROM users WHERE role = ? AND disabled = 0 AND pending_role IS NULL",
                            (ADMIN,)).fetchone()["n"]

    def _acting_admin(self, user: User) -> bool:
        return user.role == ADMIN and not user.disabled

    def set_disabled(self, username: str, disabled: bool) -> User:
        user = self.require(username)
        with self._tx() as conn:
            if disabled and self._acting_admin(user) and self._enabled_admins(conn) <= 1:
                raise AuthError("不能停用最后一个管理员 cannot disable the last enabled admin", code="last_admin")
            conn.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), user.username))
            if disabled:
                self._revoke_all(conn, user.username)
        return self.require(username)

    def set_role(self, username: str, role: str, pending_by: Optional[str] = None) -> User:
        """Directly (the CLI: also ends any pending request), or as a request that waits for a second person
        (`pending_by`, the web). Either way the user's logins end."""
        user = self.require(username)
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r}: use one of {', '.join(ROLES)}", code="unknown_role")
        with self._tx() as conn:
            if self._acting_admin(user) and (role != ADMIN or pending_by) and self._enabled_admins(conn) <= 1:
                raise AuthError("不能撤销最后一个管理员 cannot take the role from the last enabled admin"
                                + (" (a web role change waits for a confirmation: use xunlu users role on the "
                                   "server)" if pending_by else ""), code="last_admin")
            if pending_by:
                self._pend(conn, user.username, role, pending_by)
            else:
                conn.execute("UPDATE users SET role = ?, pending_role = NULL, pending_by = NULL, "
                             "pending_since = NULL WHERE username = ?", (role, user.username))
            self._revoke_all(conn, user.username)  # a new role starts with a new login
        return self.require(username)

    def set_password_hash(self, username: str, password_hash: str, pending_by: Optional[str] = None) -> None:
        """A new password ends every login of the user at once and lifts their failed-login waits. Set by
        someone else over the web (`pending_by`), it also puts the account's role back to waiting for a second
        person: whoever set the password could otherwise log in as the account."""
        user = self.require(username)
        with self._tx() as conn:
            if pending_by and self._acting_admin(user) and self._enabled_admins(conn) <= 1:
                raise AuthError("不能重置最后一个管理员的密码 cannot reset the last enabled admin's password over the "
                                "web: use xunlu users passwd on the server", code="last_admin_password")
            conn.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL "
                         "WHERE username = ?", (password_hash, user.username))
            conn.execute("UPDATE login_attempts SET failures = 0, last_failure = NULL WHERE name = ?",
                         (user.username.casefold(),))
            if pending_by:
                row = conn.execute("SELECT role, pending_role FROM users WHERE username = ?",
                                   (user.username,)).fetchone()
                self._pend(conn, user.username, row["pending_role"] or row["role"], pending_by)
            self._revoke_all(conn, user.username)

    def rehash(self, username: str, password_hash: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username))

    # -- grants waiting for a second person ---------------------------------------------------------------
    @staticmethod
    def _pend(conn: Connection, username: str, role: str, actor: str) -> None:
        """Ask for `role`; everyone who asked for something still pending is kept: none of them may confirm."""
        row = conn.execute("SELECT pending_by FROM users WHERE username = ?", (username,)).fetchone()
        asked = json.loads(row["pending_by"] or "[]") if row else []
        if actor not in asked:
            asked.append(actor)
        conn.execute("UPDATE users SET pending_role = ?, pending_by = ?, pending_since = COALESCE(pending_since, ?) "
                     "WHERE username = ?", (role, json.dumps(asked, ensure_ascii=False), _now_iso(), username))

    def pending(self) -> list[User]:
        return [_user(r) for r in self._read("SELECT * FROM users WHERE pending_role IS NOT NULL "
                                             "ORDER BY pending_since, username")]

    def confirm(self, username: str, role: Optional[str] = None) -> tuple[User, str, tuple[str, ...]]:
        """Put the pending role into effect -> (user, role, who asked). `role`: what the confirmer saw asked
        for; refused when the request has changed since."""
        user = self.require(username)
        with self._tx() as conn:
            row = conn.execute("SELECT pending_role, pending_by FROM users WHERE username = ?",
                               (user.username,)).fetchone()
            wanted = row["pending_role"]
            if wanted is None:
                raise AuthError(f"没有待确认的授权 nothing waits for confirmation for {user.username}",
                                code="nothing_pending")
            if role is not None and role != wanted:
                raise AuthError(f"the request for {user.username} is now {wanted!r}, not {role!r}: look again",
                                code="grant_changed")
            conn.execute("UPDATE users SET role = ?, pending_role = NULL, pending_by = NULL, pending_since = NULL "
                         "WHERE username = ?", (wanted, user.username))
        return self.require(username), wanted, tuple(json.loads(row["pending_by"] or "[]"))

    # -- failed logins -------------------------------------------------------------------------------------
    def attempts(self, name: str, address: str) -> Optional[Any]:
        """(failures, last_failure, last_success) of a casefolded name from an address key, or None."""
        rows = self._read("SELECT failures, last_failure, last_success FROM login_attempts "
                          "WHERE name = ? AND address = ?", (name, address))
        return rows[0] if rows else None

    def account_failures(self, name: str, since: float) -> int:
        """Failed logins of a casefolded name from every address whose last failure is after `since`."""
        return self._read("SELECT COALESCE(SUM(failures), 0) AS n FROM login_attempts "
                          "WHERE name = ? AND last_failure > ?", (name, since))[0]["n"]

    def record_failure(self, name: str, address: str, now: float, username: Optional[str] = None) -> int:
        """Count a failed login of a casefolded name from an address key -> its failures from there since its
        last success (older than a day they are forgotten). For a user, also the failures since their last good
        login (users.failed_logins)."""
        with self._tx() as conn:
            row = conn.execute("SELECT failures, last_failure FROM login_attempts WHERE name = ? AND address = ?",
                               (name, address)).fetchone()
            failures = 1
            if row is not None and row["last_failure"] and now - row["last_failure"] < FORGET_FAILURES:
                failures = row["failures"] + 1
            conn.execute("INSERT INTO login_attempts (name, address, failures, last_failure) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (name, address) DO UPDATE SET failures = excluded.failures, "
                         "last_failure = excluded.last_failure", (name, address, failures, now))
            conn.execute("DELETE FROM login_attempts WHERE last_failure < ? AND "
                         "(last_success IS NULL OR last_success < ?)", (now - FORGET_FAILURES, now - KNOWN_ADDRESS))
            if username:
                conn.execute("UPDATE users SET failed_logins = failed_logins + 1 WHERE username = ?", (username,))
            return failures

    def set_wait(self, username: str, until: float) -> None:
        """users.locked_until: until when the last address that failed for the user must wait (for admins)."""
        with self._tx() as conn:
            conn.execute("UPDATE users SET locked_until = CASE WHEN locked_until > ? THEN locked_until ELSE ? END "
                         "WHERE username = ?", (until, until, username))

    def record_success(self, username: str, address: Optional[str] = None, now: Optional[float] = None) -> None:
        """A good login: the address's failures for the name are forgotten and it is known for the name (the
        account-wide delay no longer applies to it); other addresses' failures still count."""
        now = time.time() if now is None else now
        with self._tx() as conn:
            conn.execute("UPDATE users SET failed_logins = 0, last_login = ? WHERE username = ?",
                         (_now_iso(), username))
            if address is not None:
                conn.execute("INSERT INTO login_attempts (name, address, failures, last_success) VALUES (?, ?, 0, ?) "
                             "ON CONFLICT (name, address) DO UPDATE SET failures = 0, last_success = ?",
                             (username.casefold(), address, now, now))

    def unlock(self, username: str) -> User:
        """Forget every failed login of the name, from every address."""
        user = self.require(username)
        self.forget_failures(user.username)
        with self._tx() as conn:
            conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?",
                         (user.username,))
        return self.require(username)

    def forget_failures(self, name: str) -> None:
        """Of a name (a user's or not): the failed logins from every address; known addresses stay known."""
        with self._tx() as conn:
            conn.execute("UPDATE login_attempts SET failures = 0, last_failure = NULL WHERE name = ?",
                         (name.casefold(),))

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

    def login_of(self, token_id: str, now: Optional[float] = None) -> Optional[tuple[Token, User]]:
        """The login with this id and its user while it is live (not revoked, not expired, user enabled): what
        an open WebSocket re-checks."""
        now = time.time() if now is None else now
        token = self.token(token_id)
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            return None
        user = self.get(token.username)
        if user is None or user.disabled:
            return None
        return token, user

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
    def _revoke_all(conn: Connection, username: str) -> int:
        return conn.execute("UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                            (time.time(), username)).rowcount
