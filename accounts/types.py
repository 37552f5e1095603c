"""Users, roles and the settings of the auth layer. Users are not evidence: they live in `<home>/users.sqlite`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from core.errors import XunluError

OFFICER = "officer"        # 办案民警: records sessions, corrects transcripts of the sessions they took part in
SUPERVISOR = "supervisor"  # 法制员: reads and searches everything, audit trail and warnings; changes nothing
ADMIN = "admin"            # 管理员: users and settings; no access to evidence content
ROLES = (OFFICER, SUPERVISOR, ADMIN)
# The effective role of an account an admin created, re-roled or reset over the web until a second person (another
# admin or a supervisor) confirms it: no role at all, so every access rule refuses it (it may only log in).
PENDING = "pending"

ROLE_NAMES = {OFFICER: "办案民警 officer", SUPERVISOR: "法制监督员 supervisor", ADMIN: "管理员 admin"}


class AuthError(XunluError):
    """A user-management request that cannot be done (unknown user, bad name, weak password, ...)."""

    code = "account_error"


class UnknownUser(AuthError):
    """No such user."""

    code = "unknown_user"


class NotAllowed(AuthError):
    """The caller may not do this (e.g. confirm a role grant they asked for themselves)."""

    code = "not_allowed"


class LoginRefused(AuthError):
    """Wrong name or password, a disabled user, or an address that must wait after failed logins (`retry_after`
    seconds)."""

    code = "login_refused"

    def __init__(self, message: str, retry_after: Optional[int] = None, code: Optional[str] = None):
        super().__init__(message, code=code or ("login_wait" if retry_after else None),
                         params={"seconds": retry_after} if retry_after else None)
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: Optional[str] = None   # 姓名 as written in sessions' officer lists, e.g. 张三
    disabled: bool = False
    created_at: Optional[str] = None
    last_login: Optional[str] = None
    failed_logins: int = 0                # failed logins since the last good one, from any address
    locked_until: Optional[float] = None  # unix time: until when the last address that failed must wait
    pending_role: Optional[str] = None    # the role waiting for a second person's confirmation (role is PENDING)
    pending_by: tuple[str, ...] = ()      # who asked for it (audit actors); none of them may confirm it
    pending_since: Optional[str] = None

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
                "failed_logins": self.failed_logins, "locked_until": self.locked_until,
                "pending_role": self.pending_role, "pending_by": list(self.pending_by),
                "pending_since": self.pending_since}


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
    # Failed logins slow down the address that makes them, never the account for everyone (accounts/ratelimit.py):
    max_failures: int = 5                  # failed logins of one name from one address before each next try waits
    backoff: float = 2.0                   # the first wait (seconds); it doubles with every further failure
    lockout: float = 15 * 60               # the longest wait
    account_failures: int = 10             # failed logins of one name from all addresses within account_window
    account_window: float = 60 * 60        # after which every address that failed for it waits the same way
    address_failures: int = 20             # failed logins from one address (any names) per window before 429
    address_window: float = 10 * 60
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies (addresses or networks) whose X-Forwarded-For counts
    media_view_gap: float = 30 * 60        # media requests closer than this count as one view in the audit
    secure_cookies: Optional[bool] = None  # None: Secure exactly when the request came over https
    argon2_time_cost: int = 3              # argon2-cffi's defaults (RFC 9106 low-memory profile)
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
