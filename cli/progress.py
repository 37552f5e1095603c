"""A rich progress bar on stderr, shown only for recordings longer than a minute."""
from __future__ import annotations

from typing import Any, Optional

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

MIN_DURATION_S = 60.0


class SegmentProgress:
    def __init__(self, label: str, console: Optional[Console] = None):
        self.label = label
        self.console = console or Console(stderr=True)
        self._progress: Optional[Progress] = None
        self._task: Any = None
        self._done = 0.0

    def __enter__(self) -> "SegmentProgress":
        return self

    def start(self, info: Any) -> None:
        if info.duration <= MIN_DURATION_S:
            return
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed:>6.0f}/{task.total:.0f} s"),
                                  TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                                  transient=False)
        self._progress.start()
        self._task = self._progress.add_task(f"转写 {self.label}", total=info.duration)

    def advance(self, segment: Any) -> None:
        if self._progress is not None and segment.end > self._done:
            self._done = segment.end
            self._progress.update(self._task, completed=self._done)

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if self._progress is not None:
            if exc_type is None:
                self._progress.update(self._task, completed=self._progress.tasks[0].total)
            self._progress.stop()
