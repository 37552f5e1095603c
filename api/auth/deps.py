"""FastAPI dependencies: who is calling (`current_user`), may they (`require_role`, `session_access`), and
the audit helpers routes call. Browsers log in with an HttpOnly, SameSite=Strict cookie and must send the
X-CSRF-Token header (the value of the xunlu_csrf cookie) on every unsafe request; scripts send
`Authorization: Bearer <token>` and need no CSRF token (no browser attaches it on its own). The caller's address
(audit, failed-login waits) is the peer's, or a configured reverse proxy's X-Forwarded-For (`client_address`)."""
from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, WebSocketException
from starlette.requests import HTTPConnection

from accounts import policy
from accounts.addresses import client_address as forwarded_client
from accounts.addresses import is_trusted
from accounts.service import AuthService
from accounts.store import digest
from accounts.types import Token, User

log = logging.getLogger("xunlu.auth")

COOKIE = "xunlu_session"
CSRF_COOKIE = "xunlu_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_PARAMS = ("session_id", "sid", "id")


@dataclass(frozen=True)
class Login:
    user: User
    token: Token
    via: str            # "cookie" or "bearer"


def get_auth(conn: HTTPConnection) -> AuthService:
    auth = getattr(conn.app.state, "auth", None)
    if auth is None:
        raise RuntimeError("the auth layer is not installed: call api.auth.install(app, home) in create_app")
    return auth


def _peer(conn: HTTPConnection) -> Optional[str]:
    return conn.client.host if conn.client else None


def _from_proxy(conn: HTTPConnection) -> bool:
    proxies = get_auth(conn).proxies
    return bool(proxies) and is_trusted(_peer(conn), proxies)


def client_address(conn: HTTPConnection) -> Optional[str]:
    """Who is calling: the peer, or, when the peer is one of `[auth] trusted_proxies`, the client its
    X-Forwarded-For names. From anyone else the header is ignored (anyone can write it)."""
    peer = _peer(conn)
    if not _from_proxy(conn):
        return peer
    values = [v.decode("latin-1") for k, v in conn.scope.get("headers", ()) if k == b"x-forwarded-for"]
    return forwarded_client(peer, values, get_auth(conn).proxies) or peer


def client_scheme(conn: HTTPConnection) -> str:
    """http or https as the client used it: a trusted proxy's X-Forwarded-Proto, else the connection's."""
    scheme = conn.url.scheme
    if _from_proxy(conn):
        proto = conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return {"ws": "http", "wss": "https"}.get(scheme, scheme)


def _fail(conn: HTTPConnection, status: int, detail: str, headers: Optional[dict] = None):
    if conn.scope["type"] == "websocket":  # before accept: close 4401, 4403, 4404 (4000 + the HTTP status)
        raise WebSocketException(code=4000 + status, reason=detail[:120])
    raise HTTPException(status, detail, headers=headers)


def unauthorized(conn: HTTPConnection, detail: str = "请先登录 login required"):
    _fail(conn, 401, detail, {"WWW-Authenticate": "Bearer"})


def deny(conn: HTTPConnection, user: User, reason: str, target: Optional[str] = None):
    """403, and an `auth.denied` entry in the audit chain."""
    path = conn.url.path
    method = conn.scope.get("method", "WEBSOCKET")
    try:
        get_auth(conn).audit(user.actor, "auth.denied", target or path,
                             {"method": method, "path": path, "address": client_address(conn), "reason": reason})
    except Exception:  # the refusal stands even if the audit cannot be written; say so in the log
        log.exception("could not audit a denied request of %s to %s", user.username, path)
    _fail(conn, 403, f"无权限 not allowed: {reason}")


def _same_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if not origin:
        return True  # not sent by a browser page
    host = conn.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def current_login(conn: HTTPConnection) -> Login:
    cached = getattr(conn.state, "login", None)
    if cached is not None:
        return cached
    auth = get_auth(conn)
    header = conn.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            unauthorized(conn, "Authorization header must be 'Bearer <token>'")
        via, secret = "bearer", secret.strip()
    else:
        via, secret = "cookie", conn.cookies.get(COOKIE, "")
        if not secret:
            unauthorized(conn)
    found = auth.authenticate(secret)
    if found is None or found[0].kind != via:
        unauthorized(conn, "登录已失效 login expired, revoked or unknown: log in again")
    token, user, csrf_hash = found
    if via == "cookie":
        if conn.scope["type"] == "websocket":
            if not _same_origin(conn):
                deny(conn, user, "cross-site WebSocket")
        elif conn.scope.get("method", "GET") not in SAFE_METHODS:
            sent = conn.headers.get(CSRF_HEADER, "")
            if not (sent and csrf_hash and hmac.compare_digest(digest(sent), csrf_hash)):
                deny(conn, user, f"missing or wrong {CSRF_HEADER} header (CSRF)")
    login = Login(user, token, via)
    conn.state.login = login
    conn.state.user = user
    return login


def current_user(login: Login = Depends(current_login)) -> User:
    """401 JSON when anonymous; the logged-in user otherwise."""
    return login.user


def optional_user(conn: HTTPConnection) -> Optional[User]:
    try:
        return current_login(conn).user
    except (HTTPException, WebSocketException):
        return None


def require_role(*roles: str) -> Callable[..., User]:
    """Dependency: the user, when their role is one of these; else 403 and an audit entry."""

    def dependency(conn: HTTPConnection, login: Login = Depends(current_login)) -> User:
        if login.user.role not in roles:
            deny(conn, login.user, f"role {login.user.role} may not do this (needs {' or '.join(roles)})")
        return login.user

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


def require(check: Callable[[Optional[User]], bool], what: str) -> Callable[..., User]:
    """Dependency from a policy function of the user alone: require(policy.can_search, "search")."""

    def dependency(conn: HTTPConnection, login: Login = Depends(current_login)) -> User:
        if not check(login.user):
            deny(conn, login.user, f"role {login.user.role} may not {what}")
        return login.user

    dependency.__name__ = f"require_{check.__name__}"
    return dependency


_SESSION_CHECKS = {"view": policy.can_view_session, "edit": policy.can_edit_transcript,
                   "stop": policy.can_stop_session}


def session_access(action: str = "view") -> Callable[..., Any]:
    """Dependency for routes with a session id in the path ({session_id}, {sid} or {id}): returns the
    archive's Session when the user may `action` it (view, edit or stop); 404 when there is no such
    session; 403 and an audit entry when the user may not."""
    check = _SESSION_CHECKS[action]

    def dependency(conn: HTTPConnection, login: Login = Depends(current_login)):
        from archive.types import NotFound

        sid = next((conn.path_params[p] for p in SESSION_PARAMS if p in conn.path_params), None)
        if sid is None:
            raise RuntimeError(f"session_access used on {conn.url.path}, which has no session id in its path")
        try:
            session = get_auth(conn).session(sid)
        except NotFound as exc:
            _fail(conn, 404, str(exc))
        if not check(login.user, session):
            deny(conn, login.user, f"{login.user.role} {login.user.username} may not {action} session {sid}", sid)
        return session

    dependency.__name__ = f"session_{action}"
    return dependency


def audit_event(conn: HTTPConnection, user: User, action: str, target: str,
                details: Optional[dict[str, Any]] = None) -> None:
    """An audit entry for what the user did, with their address: session.view, search, export, ..."""
    get_auth(conn).audit(user.actor, action, target, {**(details or {}), "address": client_address(conn)})


def audit_media(conn: HTTPConnection, login: Login, session_id: str, media: str,
                details: Optional[dict[str, Any]] = None) -> bool:
    """Call on every media (or HLS segment) request: writes one `media.view` entry per viewing, not one per
    byte range."""
    return get_auth(conn).audit_media_view(login.user, login.token.id, session_id, media,
                                           client_address(conn), details)
