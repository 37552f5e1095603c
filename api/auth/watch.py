"""Open WebSockets follow their login: a live view ends when the login that opened it ends (logout,
revocation, expiry), its user is disabled or changes role (or waits for a role's confirmation), or the user may
no longer view the session. The socket is then closed with 1008 (policy violation) and the end is audited.

The AuthService tells each socket at once when its user changes in this process (`AuthService.watch`); every
RECHECK_S each socket also re-reads its login from the users store, which catches what another process did
(`xunlu users disable` on the server), and every SESSION_EVERY re-checks the session's officers.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Optional

from starlette.websockets import WebSocket

from accounts import policy
from api.auth.deps import Login, client_address, get_auth

log = logging.getLogger("xunlu.auth")

POLICY_VIOLATION = 1008
RECHECK_S = 1.0
SESSION_EVERY = 5


def why_ended(auth: Any, login: Login, session: Any, reread_session: bool) -> tuple[Optional[str], Any]:
    """(why this login may no longer watch this session, or None; the session as now read)."""
    found = auth.store.login_of(login.token.id)
    if found is None:
        return "the login ended (logout, revocation, expiry or a disabled user)", session
    _, user = found
    if user.role != login.user.role:
        return f"the user's role changed ({login.user.role} -> {user.role})", session
    if reread_session:
        from archive.types import ArchiveError

        try:
            session = auth.session(session.id)
        except ArchiveError:
            return "the session is gone", session
    if not policy.can_view_session(user, session):
        return f"{user.username} may no longer view session {session.id}", session
    return None, session


async def watch_login(ws: WebSocket, session: Any) -> str:
    """Returns, with the reason, when the socket's login may no longer view `session`; runs until then."""
    auth = get_auth(ws)
    login: Login = ws.state.login
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    name = login.user.username.casefold()

    def on_change(username: str) -> None:
        if username.casefold() == name:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(changed.set)

    remove = auth.watch(on_change)
    try:
        checks = 0
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), RECHECK_S)
            changed.clear()
            checks += 1
            try:
                reason, session = await asyncio.to_thread(why_ended, auth, login, session,
                                                          checks % SESSION_EVERY == 0)
            except Exception:  # fail closed: a login that cannot be checked does not go on watching
                log.exception("could not re-check the login of a live view of %s", session.id)
                reason = "the login could not be checked"
            if reason:
                return reason
    finally:
        remove()


async def end_view(ws: WebSocket, session_id: str, reason: str) -> None:
    """Audit the end of a live view and close the socket with 1008."""
    login: Login = ws.state.login
    try:
        await asyncio.to_thread(get_auth(ws).audit, login.user.actor, "auth.denied", session_id,
                                {"method": "WEBSOCKET", "path": ws.url.path, "address": client_address(ws),
                                 "reason": f"live view ended: {reason}"})
    except Exception:
        log.exception("could not audit the end of a live view of %s", session_id)
    with contextlib.suppress(Exception):  # the viewer may be gone already
        await ws.close(code=POLICY_VIOLATION, reason=reason[:120])
