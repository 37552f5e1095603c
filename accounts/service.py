"""Logging in and out, checking tokens, and writing what users do into the archive's audit chain."""
from __future__ import annotations

import logging
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any, Optional

from accounts.passwords import Hasher, check_password, generate_password
from accounts.ratelimit import SeenRecently, SlidingWindow, Throttle
from accounts.store import USERNAME, UserStore
from accounts.types import AuthError, AuthSettings, LoginRefused, Token, User

log = logging.getLogger("xunlu.auth")

WRONG = "用户名或密码错误 wrong user name or password"


class AuthService:
    """One per process (the web app keeps it in app.state.auth); thread-safe."""

    def __init__(self, home: Path, settings: AuthSettings = AuthSettings(), archive=None):
        self.home = Path(home)
        self.settings = settings
        self.store = UserStore(self.home)
        self.hasher = Hasher(settings)
        self._archive = archive
        self._archive_lock = threading.Lock()
        self._address_failures = SlidingWindow(settings.address_failures, settings.address_window)
        self._ghost_failures = SlidingWindow(settings.max_failures, settings.lockout)
        self._media_views = SeenRecently(settings.media_view_gap)
        self._limited_noted = Throttle(settings.address_window)

    def close(self) -> None:
        self.store.close()

    # -- audit --------------------------------------------------------------------------------------
    @property
    def archive(self):
        with self._archive_lock:
            if self._archive is None:
                from archive.store import open_archive

                self._archive = open_archive(self.home)
            return self._archive

    def audit(self, actor: str, action: str, target: str, details: Optional[dict[str, Any]] = None) -> None:
        """Append to the archive's audit chain (serialised: the archive's connection is shared)."""
        archive = self.archive
        with self._archive_lock:
            archive.audit(actor, action, target, details)

    def session(self, session_id: str):
        """The archive's record of a session (archive.types.NotFound when there is none)."""
        archive = self.archive
        with self._archive_lock:
            return archive.get(session_id)

    def audit_media_view(self, user: User, login_id: str, session_id: str, media: str, address: Optional[str],
                         details: Optional[dict[str, Any]] = None) -> bool:
        """One audit entry per viewing of a session's media, not one per byte range: requests of the same
        login for the same file closer together than settings.media_view_gap are one view. True if written."""
        if not self._media_views.first((login_id, session_id, media)):
            return False
        self.audit(user.actor, "media.view", session_id, {"media": media, "address": address, **(details or {})})
        return True

    # -- login --------------------------------------------------------------------------------------
    def login(self, username: str, password: str, address: Optional[str], kind: str = "bearer",
              now: Optional[float] = None) -> tuple[str, Optional[str], Token, User]:
        """Returns (token secret, CSRF secret for cookie logins, token, user); raises LoginRefused."""
        now = time.time() if now is None else now
        name = unicodedata.normalize("NFKC", username or "").strip()[:64]
        wait = self._address_failures.retry_after(address, now)
        if wait:
            # a flood must not flood the audit chain: one refused attempt per window is written
            if self._limited_noted.allow(address, now):
                self.audit("anonymous", "auth.login_failed", f"users/{name}",
                           {"address": address, "reason": "address rate limit (more attempts from this address "
                                                          "in this window are refused unwritten)"})
            raise LoginRefused(f"登录尝试过多 too many failed logins from this address ({address}): "
                               f"try again in {wait} s", wait)
        user = self.store.get(name) if USERNAME.match(name) else None
        locked_for = self._locked_for(user, name, now)
        if locked_for:
            self._address_failures.hit(address, now)
            self.audit("anonymous", "auth.login_failed", f"users/{name}", {"address": address, "reason": "locked"})
            raise LoginRefused(f"账户已锁定 account locked after repeated failed logins: try again in "
                               f"{locked_for // 60 + 1} min, or ask an admin to unlock it", locked_for)
        stored = self.store.password_hash(user.username) if user else None
        if not self.hasher.verify(stored, password or ""):
            self._address_failures.hit(address, now)
            reason = "wrong password" if user else "unknown user"
            until = None
            if user:
                until = self.store.record_failure(user.username, now, self.settings.max_failures,
                                                  self.settings.lockout)
            elif self._ghost_failures.hit(name.casefold(), now) >= self.settings.max_failures:
                until = now + self.settings.lockout
            self.audit("anonymous", "auth.login_failed", f"users/{name}", {"address": address, "reason": reason})
            if until:
                self.audit("anonymous", "auth.locked", f"users/{name}", {"address": address, "until": until})
            raise LoginRefused(WRONG)
        if user.disabled:
            self.audit("anonymous", "auth.login_failed", f"users/{name}", {"address": address, "reason": "disabled"})
            raise LoginRefused("账户已停用 this account is disabled")
        self.store.record_success(user.username)
        if self.hasher.needs_rehash(stored):
            self.store.rehash(user.username, self.hasher.hash(password))
        ttl = self.settings.cookie_ttl if kind == "cookie" else self.settings.bearer_ttl
        secret, csrf, token = self.store.create_token(user.username, kind, ttl, address, now)
        self.audit(user.actor, "auth.login", f"users/{user.username}",
                   {"address": address, "kind": kind, "login": token.id})
        return secret, csrf, token, self.store.require(user.username)

    def _locked_for(self, user: Optional[User], name: str, now: float) -> Optional[int]:
        if user is not None:
            if user.locked_until and user.locked_until > now:
                return int(user.locked_until - now) + 1
            return None
        return self._ghost_failures.retry_after(name.casefold(), now)

    def authenticate(self, secret: str) -> Optional[tuple[Token, User, Optional[str]]]:
        if not secret or len(secret) > 200:
            return None
        return self.store.lookup(secret)

    def logout(self, token: Token, user: User, address: Optional[str]) -> None:
        self.store.revoke(token.id)
        self.audit(user.actor, "auth.logout", f"users/{user.username}", {"address": address, "login": token.id})

    def revoke(self, actor: User, token_id: str, address: Optional[str]) -> Token:
        """Revoke a login: one's own, or anyone's by an admin."""
        from accounts.policy import can_admin

        token = self.store.token(token_id)
        if token is None or (token.username.casefold() != actor.username.casefold() and not can_admin(actor)):
            raise AuthError(f"没有这个登录 no such login: {token_id}")
        self.store.revoke(token.id)
        self.audit(actor.actor, "auth.revoke", f"users/{token.username}", {"address": address, "login": token.id})
        return self.store.token(token.id)

    # -- users --------------------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password: Optional[str] = None,
                 display_name: Optional[str] = None, actor: str = "system",
                 address: Optional[str] = None) -> tuple[User, Optional[str]]:
        """Returns the user and the generated password when none was given."""
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password, username)
        user = self.store.add(username, role, self.hasher.hash(password), display_name)
        self.audit(actor, "user.add", f"users/{user.username}",
                   {"role": role, "display_name": user.display_name, "address": address})
        return user, generated

    def set_password(self, username: str, password: Optional[str] = None,
                     actor: str = "system", address: Optional[str] = None) -> tuple[User, Optional[str]]:
        user = self.store.require(username)
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password, user.username)
        self.store.set_password_hash(user.username, self.hasher.hash(password))
        self.audit(actor, "user.passwd", f"users/{user.username}", {"address": address})
        return self.store.require(user.username), generated

    def set_disabled(self, username: str, disabled: bool, actor: str = "system",
                     address: Optional[str] = None) -> User:
        user = self.store.set_disabled(username, disabled)
        self.audit(actor, "user.disable" if disabled else "user.enable", f"users/{user.username}",
                   {"address": address})
        return user

    def set_role(self, username: str, role: str, actor: str = "system", address: Optional[str] = None) -> User:
        user = self.store.set_role(username, role)
        self.audit(actor, "user.role", f"users/{user.username}", {"role": role, "address": address})
        return user

    def unlock(self, username: str, actor: str = "system", address: Optional[str] = None) -> User:
        user = self.store.unlock(username)
        self._ghost_failures.clear(user.username.casefold())
        self.audit(actor, "user.unlock", f"users/{user.username}", {"address": address})
        return user
