"""Watching a recording made by another process (`xunlu record` in the room, `xunlu serve` for
supervisors): the viewer gets the finals from the session's journal (`live/transcript.jsonl`, append-only,
one segment JSON per line) as they are appended, and "stopped" when the session is no longer recording.
No partials cross processes; the video comes from the live HLS playlist as usual."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from archive.layout import SessionPaths
from archive.store import open_archive
from archive.types import ArchiveError

log = logging.getLogger("xunlu.web.live")
POLL_S = 0.1  # a final reaches a viewer at most this long after it is journalled (bench/web.py: p95 < 0.5 s)
STATUS_EVERY = 20  # polls between two status checks in the catalog (2 s)


class JournalReader:
    """Complete lines appended to the journal since the last read (a line being written waits)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def grew(self) -> bool:
        """Whether the journal holds bytes not read yet (a stat, cheap enough for the event loop)."""
        try:
            return self.path.stat().st_size > self.offset
        except OSError:
            return False

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        out = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


def recording_status(home: Path, sid: str) -> tuple[Optional[str], Optional[str]]:
    """(status, started_at) from the catalog; (None, None) when the session is gone."""
    with contextlib.closing(open_archive(home)) as archive:
        try:
            s = archive.get(sid)
        except ArchiveError:
            return None, None
        return s.status, s.started_at


def elapsed_since(started_at: Optional[str]) -> Optional[float]:
    if not started_at:
        return None
    try:
        return round((datetime.now().astimezone() - datetime.fromisoformat(started_at)).total_seconds(), 1)
    except ValueError:
        return None


async def tail(ws: Any, app: Any, sid: str, started_at: Optional[str]) -> None:
    """Send the snapshot and then the journal's new finals until the session stops recording."""
    from api.routes.live import _receive_loop, _send

    home = app.state.home
    reader = JournalReader(SessionPaths.of(home, sid).journal)
    first = await asyncio.to_thread(reader.read)
    await _send(ws, {"type": "snapshot", "segments": first, "partials": {},
                     "status": {"recording": True, "elapsed": elapsed_since(started_at), "source": "journal"}})
    receiver = asyncio.create_task(_receive_loop(ws, None))
    try:
        polls = 0
        while not receiver.done():
            await asyncio.sleep(POLL_S)
            if reader.grew():
                for segment in await asyncio.to_thread(reader.read):
                    await _send(ws, {"type": "final", "segment": segment})
            polls += 1
            if polls % STATUS_EVERY == 0:
                status, _ = await asyncio.to_thread(recording_status, home, sid)
                if status != "recording":
                    for segment in await asyncio.to_thread(reader.read):
                        await _send(ws, {"type": "final", "segment": segment})
                    await _send(ws, {"type": "stopped", "session": sid})
                    await ws.close(code=1000)
                    return
                await _send(ws, {"type": "status", "recording": True, "elapsed": elapsed_since(started_at)})
        receiver.result()  # re-raises the viewer's disconnect
    finally:
        receiver.cancel()
