"""WebSocket `/api/sessions/watch`: a page's list of sessions learns at once that it changed.

The socket carries no evidence: it says {"type": "sessions"} when a session starts, is being closed or has
closed (here or in another process: `xunlu record` in a room), and the page then reads the list again
through `GET /api/sessions`, which shows each user what they may see and is audited as before. One thread
per app reads which sessions are being recorded or finalised every POLL_S while anyone listens (a session
begins in one of those states and leaves it when it closes); a start or stop through this server wakes the
listeners at once. The socket follows its login: it is closed with 1008 when the login ends.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from accounts import policy
from accounts.types import User
from api.auth.deps import get_auth, require
from archive.store import open_archive

log = logging.getLogger("xunlu.web.watch")
router = APIRouter(tags=["sessions"])
POLL_S = 0.5           # how often the catalog is read while anyone listens
LOGIN_CHECK_S = 5.0    # how often a listener's login is looked up again
OPEN = ("recording", "finalising")


class SessionWatch:
    """Wakes its listeners (asyncio events, each on its own loop) when the set of open sessions changes."""

    def __init__(self, home: Path, poll_s: float = POLL_S):
        self.home = Path(home)
        self.poll_s = poll_s
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._primed = threading.Event()   # the running thread has read the open sessions once
        self.polls = 0

    def listen(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """A listener on the running loop; give it back with `forget`."""
        listener = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._listeners.add(listener)
            if self._thread is None or not self._thread.is_alive():
                self._primed = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._primed,), name="session-watch",
                                                daemon=True)
                self._thread.start()
        return listener

    def primed(self, timeout: float = 5.0) -> bool:
        """Block until the thread has read what is open now, so that a session started after this returns
        counts as a change (before the first read there is nothing to compare with)."""
        with self._lock:
            primed = self._primed
        return primed.wait(timeout)

    def forget(self, listener: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def changed(self) -> None:
        """Something changed the list (a start or stop here): wake every listener now."""
        with self._lock:
            listeners = list(self._listeners)
        for loop, event in listeners:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(event.set)

    def _run(self, primed: threading.Event) -> None:
        archive = None
        last = None
        try:
            archive = open_archive(self.home)
            while True:
                with self._lock:
                    if not self._listeners:
                        self._thread = None
                        return
                now = open_sessions(archive)
                self.polls += 1
                if last is not None and now != last:
                    self.changed()
                last = now
                primed.set()
                time.sleep(self.poll_s)
        except Exception:
            log.exception("the session watch stopped; pages fall back to reading the list now and then")
            with self._lock:
                self._thread = None
        finally:
            primed.set()   # nobody waits on a thread that has stopped
            if archive is not None:
                archive.close()


def open_sessions(archive) -> frozenset[tuple[str, str]]:
    """(id, status) of every session being recorded or closed."""
    return frozenset((s.id, s.status) for status in OPEN for s in archive.list(status=status))


def session_watch(app) -> SessionWatch:
    watch = getattr(app.state, "session_watch", None)
    if watch is None:
        watch = app.state.session_watch = SessionWatch(app.state.home)
    return watch


@router.websocket("/api/sessions/watch")
async def watch_sessions(ws: WebSocket, user: User = Depends(require(policy.can_list_sessions, "list sessions"))):
    await ws.accept()
    watch = session_watch(ws.app)
    listener = watch.listen()
    await asyncio.to_thread(watch.primed)   # "watching" means: a session started from now on is told
    event = listener[1]
    receiver = asyncio.create_task(_drain(ws))
    login = getattr(ws.state, "login", None)
    loop = asyncio.get_running_loop()
    checked = loop.time()
    try:
        await ws.send_text(json.dumps({"type": "watching"}))
        while not receiver.done():
            woken = asyncio.create_task(event.wait())
            try:   # a change, the viewer gone (or the server stopping), or time to look at the login again
                await asyncio.wait({woken, receiver}, timeout=LOGIN_CHECK_S, return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
            if receiver.done():
                break
            if login is not None and loop.time() - checked >= LOGIN_CHECK_S:
                checked = loop.time()
                if not await asyncio.to_thread(_still_in, ws, login):
                    await ws.close(code=1008, reason="the login ended")
                    return
            if event.is_set():
                event.clear()
                await ws.send_text(json.dumps({"type": "sessions"}))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        watch.forget(listener)


def _still_in(ws: WebSocket, login) -> bool:
    return get_auth(ws).store.login_of(login.token.id) is not None


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the page sends, until it goes away."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
