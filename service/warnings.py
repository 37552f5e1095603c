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


class QueuedDailySummary:
    """The daily summary with a job queue (`xunlu serve --broker`): once it is due, a `warnings` job is queued
    for a worker to write it, one job a day whichever server asks first (its id is `warnings-YYYY-MM-DD`)."""

    def __init__(self, home: Path, jobs: Any, interval_s: float = 60.0):
        self.home = Path(home)
        self.jobs = jobs
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="xunlu-daily-summary-queue", daemon=True)

    def tick(self, now: Any = None) -> Any:
        """Queue today's job when the hour has come and the summary is not written; the job, else None."""
        import os
        from datetime import datetime

        from service.job_queue import Task
        from supervise.config import load_rules

        config = load_rules(self.home)
        now = (now or datetime.now().astimezone()).astimezone(config.zone())
        if now.hour < config.summary.hour:
            return None
        day = now.date().isoformat()
        folder = Path(config.summary.folder) if os.path.isabs(config.summary.folder) else self.home / config.summary.folder
        if (folder / f"warnings-{day}.txt").exists():
            return None
        return self.jobs.submit(Task("warnings", {"force": False}, target=day), "system:serve",
                                job_id=f"warnings-{day}", unique=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the queue away for a moment: the next minute tries again
                log.exception("could not queue the daily summary")
            self._stop.wait(self.interval_s)

    def start(self) -> "QueuedDailySummary":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
