"""Logging in and out, checking tokens, failed-login waits, users and their role grants (a web admin's grant
waits for a second person), telling open WebSockets when a login ends, and writing what users do into the
archive's audit chain."""
from __future__ import annotations

import logging
import math
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Optional

from accounts.addresses import address_key, parse_networks
from accounts.passwords import Hasher, check_password, generate_password
from accounts.ratelimit import SeenRecently, SlidingWindow, Throttle, backoff_delay
from accounts.store import FORGET_FAILURES, KNOWN_ADDRESS, USERNAME, UserStore
from accounts.types import AuthError, AuthSettings, LoginRefused, NotAllowed, Token, User

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
        self.proxies = parse_networks(settings.trusted_proxies)  # whose X-Forwarded-For counts (api/auth/deps.py)
        self._address_failures = SlidingWindow(settings.address_failures, settings.address_window)
        self._media_views = SeenRecently(settings.media_view_gap)
        self._limited_noted = Throttle(settings.address_window)
        self._listeners: set[Callable[[str], None]] = set()
        self._listeners_lock = threading.Lock()

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

    # -- who is told when a login may have ended ------------------------------------------------------
    def watch(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener(username)` (in the thread that made the change) whenever a login of that user may have
        ended or their rights changed: logout, revocation, disable, role change or request, new password,
        confirmation. Open WebSockets re-check their login then (api/auth/watch.py). Returns the unsubscriber."""
        with self._listeners_lock:
            self._listeners.add(listener)

        def remove() -> None:
            with self._listeners_lock:
                self._listeners.discard(listener)

        return remove

    def _changed(self, username: str) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(username)
            except Exception:  # a listener must not undo the change that was made
                log.exception("a login listener failed for %s", username)

    # -- login --------------------------------------------------------------------------------------
    def login(self, username: str, password: str, address: Optional[str], kind: str = "bearer",
              now: Optional[float] = None) -> tuple[str, Optional[str], Token, User]:
        """Returns (token secret, CSRF secret for cookie logins, token, user); raises LoginRefused (with
        retry_after when this address must wait: accounts/ratelimit.py)."""
        now = time.time() if now is None else now
        name = unicodedata.normalize("NFKC", username or "").strip()[:64]
        key, where = name.casefold(), address_key(address)
        wait = self._address_failures.retry_after(where, now)
        if wait:
            # a flood must not flood the audit chain: one refused attempt per window is written
            if self._limited_noted.allow(where, now):
                self.audit("anonymous", "auth.login_failed", f"users/{name}",
                           {"address": address, "reason": "address rate limit (more attempts from this address "
                                                          "in this window are refused unwritten)"})
            raise LoginRefused(f"登录尝试过多 too many failed logins from this address ({address}): "
                               f"try again in {wait} s", wait)
        user = self.store.get(name) if USERNAME.match(name) else None
        wait = self._wait(key, where, now)
        if wait:
            self._address_failures.hit(where, now)
            self.audit("anonymous", "auth.login_failed", f"users/{name}",
                       {"address": address, "reason": f"must wait {wait} s after failed logins from this address"})
            raise LoginRefused(f"登录失败次数过多 too many failed logins for this name from this address: try again "
                               f"in {wait} s (an admin can unlock it at once)", wait)
        stored = self.store.password_hash(user.username) if user else None
        if not self.hasher.verify(stored, password or ""):
            self._address_failures.hit(where, now)
            failures = self.store.record_failure(key, where, now, user.username if user else None)
            self.audit("anonymous", "auth.login_failed", f"users/{name}",
                       {"address": address, "reason": "wrong password" if user else "unknown user"})
            delay = self._required(key, where, now)
            if delay:
                if user:
                    self.store.set_wait(user.username, now + delay)
                self.audit("anonymous", "auth.backoff", f"users/{name}",
                           {"address": address, "failures": failures, "wait": round(delay, 1)})
            raise LoginRefused(WRONG, code="login_wrong")
        if user.disabled:
            self.audit("anonymous", "auth.login_failed", f"users/{name}", {"address": address, "reason": "disabled"})
            raise LoginRefused("账户已停用 this account is disabled", code="account_disabled")
        self.store.record_success(user.username, where, now)
        if self.hasher.needs_rehash(stored):
            self.store.rehash(user.username, self.hasher.hash(password))
        ttl = self.settings.cookie_ttl if kind == "cookie" else self.settings.bearer_ttl
        secret, csrf, token = self.store.create_token(user.username, kind, ttl, address, now)
        self.audit(user.actor, "auth.login", f"users/{user.username}",
                   {"address": address, "kind": kind, "login": token.id})
        return secret, csrf, token, self.store.require(user.username)

    def _required(self, key: str, where: str, now: float) -> float:
        """Seconds this address must wait after its last failure for this name (0: none)."""
        row = self.store.attempts(key, where)
        if row is None or not row["failures"] or not row["last_failure"] or \
                now - row["last_failure"] >= FORGET_FAILURES:
            return 0.0
        known = row["last_success"] is not None and now - row["last_success"] < KNOWN_ADDRESS
        account = self.store.account_failures(key, now - self.settings.account_window)
        return backoff_delay(row["failures"], account, known, self.settings)

    def _wait(self, key: str, where: str, now: float) -> Optional[int]:
        """Whole seconds left to wait before this address may try this name again, or None."""
        required = self._required(key, where, now)
        if not required:
            return None
        left = self.store.attempts(key, where)["last_failure"] + required - now
        return max(1, math.ceil(left)) if left > 0 else None

    def authenticate(self, secret: str) -> Optional[tuple[Token, User, Optional[str]]]:
        if not secret or len(secret) > 200:
            return None
        return self.store.lookup(secret)

    def logout(self, token: Token, user: User, address: Optional[str]) -> None:
        self.store.revoke(token.id)
        self.audit(user.actor, "auth.logout", f"users/{user.username}", {"address": address, "login": token.id})
        self._changed(token.username)

    def revoke(self, actor: User, token_id: str, address: Optional[str]) -> Token:
        """Revoke a login: one's own, or anyone's by an admin."""
        from accounts.policy import can_admin

        token = self.store.token(token_id)
        if token is None or (token.username.casefold() != actor.username.casefold() and not can_admin(actor)):
            raise AuthError(f"没有这个登录 no such login: {token_id}", code="unknown_login")
        self.store.revoke(token.id)
        self.audit(actor.actor, "auth.revoke", f"users/{token.username}", {"address": address, "login": token.id})
        self._changed(token.username)
        return self.store.token(token.id)

    def revoke_all(self, username: str, actor: str = "system", address: Optional[str] = None) -> int:
        """End every login of a user at once."""
        user = self.store.require(username)
        count = self.store.revoke_all(user.username)
        self.audit(actor, "auth.revoke", f"users/{user.username}", {"address": address, "logins": count})
        self._changed(user.username)
        return count

    # -- users --------------------------------------------------------------------------------------
    # `pending=True` is how the web app asks (api/routes/auth.py): the account gets no rights until a second
    # person confirms (`confirm`). The CLI is the site's root on the server and acts directly.
    def add_user(self, username: str, role: str, password: Optional[str] = None,
                 display_name: Optional[str] = None, actor: str = "system",
                 address: Optional[str] = None, pending: bool = False) -> tuple[User, Optional[str]]:
        """Returns the user and the generated password when none was given."""
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password, username)
        user = self.store.add(username, role, self.hasher.hash(password), display_name,
                              pending_by=actor if pending else None)
        self.audit(actor, "user.add", f"users/{user.username}",
                   {"role": role, "display_name": user.display_name, "address": address,
                    **({"pending": True} if pending else {})})
        return user, generated

    def set_password(self, username: str, password: Optional[str] = None, actor: str = "system",
                     address: Optional[str] = None, pending: bool = False) -> tuple[User, Optional[str]]:
        """`pending`: set by someone else over the web: the account's role waits for a second person again."""
        user = self.store.require(username)
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password, user.username)
        self.store.set_password_hash(user.username, self.hasher.hash(password), pending_by=actor if pending else None)
        self.audit(actor, "user.passwd", f"users/{user.username}",
                   {"address": address, **({"pending": True} if pending else {})})
        self._changed(user.username)
        return self.store.require(user.username), generated

    def set_disabled(self, username: str, disabled: bool, actor: str = "system",
                     address: Optional[str] = None) -> User:
        user = self.store.set_disabled(username, disabled)
        self.audit(actor, "user.disable" if disabled else "user.enable", f"users/{user.username}",
                   {"address": address})
        self._changed(user.username)
        return user

    def set_role(self, username: str, role: str, actor: str = "system", address: Optional[str] = None,
                 pending: bool = False) -> User:
        user = self.store.set_role(username, role, pending_by=actor if pending else None)
        self.audit(actor, "user.role", f"users/{user.username}",
                   {"role": role, "address": address, **({"pending": True} if pending else {})})
        self._changed(user.username)
        return user

    def confirm(self, username: str, confirmer: Optional[User] = None, role: Optional[str] = None,
                actor: Optional[str] = None, address: Optional[str] = None) -> User:
        """A second person puts a pending role into effect: `confirmer`, over the web, must be an admin or a
        supervisor who asked for none of it and is not the account (NotAllowed otherwise); None: the CLI
        (`actor` system:<login>). `role`: what the confirmer saw asked for."""
        from accounts.policy import can_confirm_grant

        target = self.store.require(username)
        if confirmer is not None and not can_confirm_grant(confirmer, target):
            if target.pending_role is None:
                raise AuthError(f"没有待确认的授权 nothing waits for confirmation for {target.username}",
                                code="nothing_pending")
            raise NotAllowed(f"{confirmer.username} may not confirm this: a second person must (an admin or a "
                             f"supervisor who did not ask for it, other than {target.username})")
        who = confirmer.actor if confirmer is not None else (actor or "system")
        user, granted, asked = self.store.confirm(target.username, role)
        self.audit(who, "user.confirm", f"users/{user.username}",
                   {"role": granted, "requested_by": list(asked), "address": address})
        self._changed(user.username)
        return user

    def unlock(self, username: str, actor: str = "system", address: Optional[str] = None) -> User:
        """Forget the failed logins of a user from every address: no address has to wait any more."""
        user = self.store.unlock(username)
        self.audit(actor, "user.unlock", f"users/{user.username}", {"address": address})
        return user
