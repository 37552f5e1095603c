"""Keeping the supervision warnings up to date (supervise.scan checks sessions against the rules). A list
request re-checks the whole archive at most every REFRESH_EVERY_S, in a background thread (10,000 sessions
take seconds), so that its answer shows the stored state and the next one the new; one session, or a forced
refresh, is checked at once."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Optional

from archive.store import Archive, open_archive
from supervise.scan import refresh

log = logging.getLogger("xunlu.warnings")
REFRESH_EVERY_S = 30.0


class Refresher:
    """The warnings check of one process: at most one full check running, at most every `every_s`."""

    def __init__(self, home: Path, every_s: float = REFRESH_EVERY_S):
        self.home = Path(home)
        self.every_s = every_s
        self._running = threading.Lock()
        self._last = 0.0

    def now(self, archive: Archive, rules: Any, actor: str, sessions: Optional[list[str]] = None) -> None:
        """Check these sessions (all when None) now, in this thread."""
        refresh(archive, rules, actor, sessions=sessions)
        if sessions is None:
            self._last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_s

    def in_background(self, rules: Any, actor: str) -> bool:
        """Start a full check in a thread when one is due and none is running; whether one was started."""
        if not self.due() or not self._running.acquire(blocking=False):
            return False
        self._last = time.monotonic()

        def run() -> None:
            try:
                own = open_archive(self.home)
                try:
                    refresh(own, rules, actor)
                finally:
                    own.close()
            except Exception:
                log.exception("background warnings check failed")
            finally:
                self._running.release()

        threading.Thread(target=run, name="xunlu-warnings-refresh", daemon=True).start()
        return True
