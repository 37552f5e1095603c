"""WebSocket `/api/sessions/{id}/live`: partial and final segments of a live session, to any number of viewers.

One thread per live session reads its event queue and fans the events out to every viewer's asyncio queue,
so viewers cost no thread each. A viewer first gets {"type": "snapshot", "segments": [...], "partials": {...},
"status": {...}}, then the events as api/live.py emits them ("partial", "final", "status", "stopped"); finals
can repeat one already in the snapshot (same segment id): clients keep one per id. A viewer may send
{"type": "ping"} (answered {"type": "pong"}) or {"type": "snapshot"}; anything else is answered
{"type": "error", "status": 400, "detail": "..."} and the connection stays open. The view follows its login: when
the login ends or loses the right to view the session, the socket is closed with 1008 (api/auth/watch.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from typing import Any, Optional

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from api.auth.deps import audit_event, session_access
from api.auth.watch import end_view, watch_login
from archive.store import open_archive
from archive.types import ArchiveError

log = logging.getLogger("xunlu.web.live")
router = APIRouter(tags=["live"])
VIEWER_BACKLOG = 2000
MAX_MESSAGE = 4096


class Fanout:
    """Relays one live session's events to the viewers' queues on the event loop."""

    def __init__(self, live: Any, loop: asyncio.AbstractEventLoop):
        self.live = live
        self.loop = loop
        self.viewers: set[asyncio.Queue] = set()
        self.source: "queue.Queue[dict]" = live.subscribe()
        self.finished = False
        self._closed = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"ws-fanout-{live.session_id}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                event = self.source.get(timeout=0.5)
            except queue.Empty:
                continue
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                self.loop.call_soon_threadsafe(self._dispatch, event)
            if isinstance(event, dict) and event.get("type") == "stopped":
                break
        with contextlib.suppress(Exception):
            self.live.unsubscribe(self.source)

    def _dispatch(self, event: dict) -> None:
        if event.get("type") == "stopped":
            self.finished = True
        for viewer in list(self.viewers):
            try:
                viewer.put_nowait(event)
            except asyncio.QueueFull:  # a stalled viewer: it is told to resync and dropped
                self.viewers.discard(viewer)
                with contextlib.suppress(asyncio.QueueFull):
                    viewer.get_nowait()
                    viewer.put_nowait({"type": "_overflow"})

    def close(self) -> None:
        self._closed.set()


def _fanout(app: Any, sid: str, live: Any) -> Fanout:
    fanouts: dict[str, Fanout] = app.state.fanouts
    current = fanouts.get(sid)
    if current is None or current.live is not live or not current.thread.is_alive() and not current.finished:
        current = Fanout(live, asyncio.get_running_loop())
        fanouts[sid] = current
    return current


async def _send(ws: WebSocket, event: dict) -> None:
    await ws.send_text(json.dumps(event, ensure_ascii=False))


def _archived_snapshot(app: Any, sid: str) -> Optional[dict]:
    """For a session not live in this process: its latest transcript as a snapshot, or None when unknown;
    {"type": "recording", ...} when another process is recording it."""
    from archive.transcripts import read_version

    with contextlib.closing(open_archive(app.state.home)) as archive:
        try:
            session = archive.get(sid)
        except ArchiveError:
            return None
        if session.status == "recording":
            return {"type": "recording", "started_at": session.started_at}
        segments = []
        if session.transcripts:
            with contextlib.suppress(ArchiveError):
                segments = [s.to_dict() for s in read_version(archive, sid).segments]
        return {"type": "snapshot", "segments": segments, "partials": {},
                "status": {"recording": False, "status": session.status}}


async def _answer(ws: WebSocket, text: str, live: Any) -> None:
    if len(text) > MAX_MESSAGE:
        await _send(ws, {"type": "error", "status": 413, "detail": f"message longer than {MAX_MESSAGE} bytes"})
        return
    try:
        message = json.loads(text)
    except ValueError:
        await _send(ws, {"type": "error", "status": 400, "detail": "not JSON: send {\"type\": \"ping\"}"})
        return
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        await _send(ws, {"type": "pong"})
    elif kind == "snapshot" and live is not None:
        await _send(ws, {"type": "snapshot", **live.snapshot()})
    else:
        await _send(ws, {"type": "error", "status": 400,
                         "detail": f"unknown message type {kind!r}: use ping or snapshot"})


async def _receive_loop(ws: WebSocket, live: Any) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            await _send(ws, {"type": "error", "status": 400, "detail": "binary messages are not accepted"})
            continue
        await _answer(ws, text, live)


async def _pump(ws: WebSocket, inbox: asyncio.Queue) -> None:
    while True:
        event = await inbox.get()
        if event.get("type") == "_overflow":
            await ws.close(code=1013, reason="viewer too slow; reconnect")
            return
        await _send(ws, event)
        if event.get("type") == "stopped":
            await ws.close(code=1000)
            return


@router.websocket("/api/sessions/{sid}/live")
async def live_socket(ws: WebSocket, sid: str, session=Depends(session_access("view"))) -> None:
    await ws.accept()
    # a viewing of the session, live or finished, is a read of evidence: one audit entry per connection
    await asyncio.to_thread(audit_event, ws, ws.state.user, "session.live.view", sid,
                            {"recording": session.status == "recording"})
    view = asyncio.create_task(_view(ws, sid))
    guard = asyncio.create_task(watch_login(ws, session))
    try:
        done, _ = await asyncio.wait({view, guard}, return_when=asyncio.FIRST_COMPLETED)
        if guard in done and not view.done():  # the login ended or lost the right: stop sending at once
            view.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await view
            await end_view(ws, sid, guard.result())
            return
        view.result()
    finally:
        guard.cancel()
        view.cancel()


async def _view(ws: WebSocket, sid: str) -> None:
    app = ws.app
    live = app.state.live.get_live(sid)
    try:
        if live is None:
            snapshot = await asyncio.to_thread(_archived_snapshot, app, sid)
            if snapshot is None:
                await _send(ws, {"type": "error", "status": 404, "detail": f"no session {sid}"})
                await ws.close(code=4404)
                return
            if snapshot["type"] == "recording":  # by another process: follow its journal
                from api.routes.live_tail import tail

                await tail(ws, app, sid, snapshot["started_at"])
                return
            await _send(ws, snapshot)
            await _send(ws, {"type": "stopped", "session": sid})
            await ws.close(code=1000)
            return
        fan = _fanout(app, sid, live)
        inbox: asyncio.Queue = asyncio.Queue(maxsize=VIEWER_BACKLOG)
        fan.viewers.add(inbox)
        tasks: set[asyncio.Task] = set()
        try:
            await _send(ws, {"type": "snapshot", **(await asyncio.to_thread(live.snapshot))})
            if fan.finished:
                await _send(ws, {"type": "stopped", "session": sid})
                await ws.close(code=1000)
                return
            tasks = {asyncio.create_task(_pump(ws, inbox)), asyncio.create_task(_receive_loop(ws, live))}
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc is not None and not isinstance(exc, WebSocketDisconnect):
                    raise exc
        finally:
            for task in tasks:  # also when this view is cancelled (its login ended)
                task.cancel()
            fan.viewers.discard(inbox)
            if fan.finished and not fan.viewers and app.state.fanouts.get(sid) is fan:
                del app.state.fanouts[sid]
    except (WebSocketDisconnect, RuntimeError) as exc:  # the viewer went away mid-send
        log.debug("viewer of %s left: %s", sid, exc)
