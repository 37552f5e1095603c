"""Users, roles and the settings of the auth layer. Users are not evidence: they live in `<home>/users.sqlite`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from core.errors import XunluError

OFFICER = "officer"        # 办案民警: records sessions, corrects transcripts of the sessions they took part in
SUPERVISOR = "supervisor"  # 法制员: reads and searches everything, audit trail and warnings; changes nothing
ADMIN = "admin"            # 管理员: users and settings; no access to evidence content
ROLES = (OFFICER, SUPERVISOR, ADMIN)

ROLE_NAMES = {OFFICER: "办案民警 officer", SUPERVISOR: "法制监督员 supervisor", ADMIN: "管理员 admin"}


class AuthError(XunluError):
    """A user-management request that cannot be done (unknown user, bad name, weak password, ...)."""


class UnknownUser(AuthError):
    """No such user."""


class LoginRefused(AuthError):
    """Wrong name or password, a disabled user, or a locked account. `retry_after` is set when locked."""

    def __init__(self, message: str, retry_after: Optional[int] = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: Optional[str] = None   # 姓名 as written in sessions' officer lists, e.g. 张三
    disabled: bool = False
    created_at: Optional[str] = None
    last_login: Optional[str] = None
    failed_logins: int = 0
    locked_until: Optional[float] = None  # unix time

    @property
    def names(self) -> tuple[str, ...]:
        """Every name under which this user may appear in a session's officers."""
        return tuple(n for n in (self.username, self.display_name) if n)

    @property
    def actor(self) -> str:
        """How the user appears in the audit chain: web:<name> (CLI actions appear as system:<login>)."""
        return f"web:{self.username}"

    def to_json(self) -> dict:
        return {"username": self.username, "role": self.role, "display_name": self.display_name,
                "disabled": self.disabled, "created_at": self.created_at, "last_login": self.last_login,
                "failed_logins": self.failed_logins, "locked_until": self.locked_until}


@dataclass(frozen=True)
class Token:
    """A login: a browser session (cookie) or a script's bearer token. Only the token's hash is stored."""
    id: str                # public id, to list and revoke; not the secret
    username: str
    kind: str              # "cookie" or "bearer"
    created_at: float
    expires_at: float
    last_used: Optional[float] = None
    revoked_at: Optional[float] = None
    address: Optional[str] = None

    def to_json(self) -> dict:
        return {"id": self.id, "username": self.username, "kind": self.kind, "created_at": self.created_at,
                "expires_at": self.expires_at, "last_used": self.last_used, "revoked_at": self.revoked_at,
                "address": self.address}


@dataclass(frozen=True)
class AuthSettings:
    cookie_ttl: float = 12 * 3600          # a browser login lasts one shift
    bearer_ttl: float = 24 * 3600
    max_failures: int = 5                  # consecutive failed logins of one user before it is locked
    lockout: float = 15 * 60               # seconds a locked user stays locked
    address_failures: int = 20             # failed logins from one address per window before 429
    address_window: float = 10 * 60
    media_view_gap: float = 30 * 60        # media requests closer than this count as one view in the audit
    secure_cookies: Optional[bool] = None  # None: Secure exactly when the request came over https
    argon2_time_cost: int = 3              # argon2-cffi's defaults (RFC 9106 low-memory profile)
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
