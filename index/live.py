"""Live indexing: final segments of a session being recorded become searchable within about a second,
written by a background thread so that capture and ASR never wait for the index. The thread first loads the
analyzers and opens the index (`ready`), while the session starts and before its first segment.

Each final gets every field a rebuild gives it (words, pinyin sounds, parts of numbers). A number read out
over two finals of the same speaker is joined as it arrives: the earlier final is indexed again, with the
number whole (index.numbers)."""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Optional

from core.transcript import Segment
from index.manager import SearchIndex
from index.search_index import SessionMeta, warm_up

log = logging.getLogger("xunlu.index.live")


class LiveIndexer:
    """`add()` never blocks; a thread commits what arrived at most every `interval` seconds."""

    def __init__(self, home: Path, meta: SessionMeta, interval: float = 0.5, max_pending: int = 10_000):
        self.index = SearchIndex(home)
        self.meta = meta
        self.interval = interval
        self.queue: "queue.Queue[Optional[Segment]]" = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        self.indexed = 0
        self._recent: dict[str, Segment] = {}  # each speaker's last final indexed (a number may go on)
        self.ready = threading.Event()  # set once the analyzers are loaded and the index is open
        self._thread = threading.Thread(target=self._run, name=f"live-index-{meta.id}", daemon=True)
        self._thread.start()

    def add(self, segment: Segment) -> None:
        try:
            self.queue.put_nowait(segment)
        except queue.Full:  # the index is far behind: the archive still has it, `reindex` will catch up
            self.dropped += 1
            log.warning("live index of %s is behind; segment %d will be indexed by reindex", self.meta.id,
                        segment.id)

    def close(self, timeout: float = 10.0) -> None:
        self.queue.put(None)
        self._thread.join(timeout)

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        return self.ready.wait(timeout)

    def _warm_up(self) -> None:
        try:
            warm_up()
            self.index.ensure()
            self.index.check()
        except Exception:  # the first add_segments will say what is wrong
            log.debug("live index warm-up of %s failed", self.meta.id, exc_info=True)
        finally:
            self.ready.set()

    def _run(self) -> None:
        self._warm_up()
        done = False
        while not done:
            batch: list[Segment] = []
            first = self.queue.get()
            if first is None:
                break
            batch.append(first)
            deadline = time.monotonic() + self.interval
            while time.monotonic() < deadline:
                try:
                    item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    done = True
                    break
                batch.append(item)
            try:
                self.index.add_segments(self.meta, batch, context=list(self._recent.values()))
                self.indexed += len(batch)
                for seg in sorted(batch, key=lambda s: s.start):
                    self._recent[seg.speaker or f"ch{seg.channel}"] = seg
            except Exception:  # never take the recording down with the index
                log.exception("live indexing of %s failed for %d segment(s)", self.meta.id, len(batch))
