"""A live session's transcriber in a worker process of its own, so that the web server never waits on a decode.

The worker (service/live_worker.py) reads the session's PCM tap, runs the streaming transcriber and appends
each final to the session's journal (fsync'd) itself; it tells this side on its stdout what it did (JSON
lines: ready, partial, final, progress, done). Finals are relayed from the journal, the one record of them,
never from the message: what the journal holds is what viewers, the live index and transcript v1 get.

A worker that dies (killed, out of memory, a crash in the model) is started again: it resumes from its
checkpoint (`live/asr-state.json`, the point of the audio before which every final is in the journal) and
drops what it decodes again of finals the journal already holds, so no final is lost and none is written
twice. After MAX_RESTARTS failures the session goes on without live ASR and its close transcribes the rest
offline, as for any live transcription failure.

`XUNLU_LIVE_ASR=thread` runs the transcriber in a thread of the server's process instead (as before).
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from core.transcript import Segment

log = logging.getLogger("xunlu.live.worker")
MAX_RESTARTS = 5
HANG_S = 120.0        # a worker that says nothing this long is stuck (a decode takes seconds): killed, restarted
RESTART_PAUSE_S = 0.5
STATE_NAME = "asr-state.json"


@dataclass(frozen=True)
class InWorker:
    """How a worker makes its live transcriber: the speech model to load (as `load_transcriber` takes it),
    or a stream factory named "module:callable" (called with `kwargs`, it returns a factory with the
    signature of service.live.StreamFactory: bench and tests use fakes this way)."""

    model: Optional[str] = None
    device: str = "auto"
    compute_type: str = "auto"
    factory: Optional[str] = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_restarts: int = MAX_RESTARTS
    hang_s: float = HANG_S

    @classmethod
    def for_transcriber(cls, transcriber: Any) -> Optional["InWorker"]:
        """The same model as a loaded Transcriber, from its provenance; None for one that has none."""
        prov = getattr(transcriber, "provenance", None)
        if not isinstance(prov, Mapping) or not prov.get("name"):
            return None
        return cls(model=str(prov["name"]), device=str(prov.get("device") or "auto"),
                   compute_type=str(prov.get("compute_type") or "auto"))


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process is told (one JSON line, the first on its stdin)."""

    session_id: str
    home: str
    tap: str
    journal: str
    state: str
    channels: int
    language: str
    speakers: tuple[str, ...] = ()
    hotwords: tuple[str, ...] = ()
    feed_s: float = 0.5
    spec: InWorker = InWorker()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "WorkerJob":
        d = json.loads(text)
        d["spec"] = InWorker(**d.get("spec", {}))
        d["speakers"], d["hotwords"] = tuple(d.get("speakers", ())), tuple(d.get("hotwords", ()))
        return cls(**d)


def mode() -> str:
    """"process" (the default) or "thread", from $XUNLU_LIVE_ASR."""
    value = os.environ.get("XUNLU_LIVE_ASR", "process").strip().lower()
    return "thread" if value in ("thread", "in-process", "inprocess") else "process"


class WorkerFailed(RuntimeError):
    pass


class JournalTail:
    """The journal's complete lines not yet read, as segments (a torn or foreign line is skipped)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0

    def read(self) -> list[Segment]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].splitlines():
            try:
                out.append(Segment.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                if line.strip():
                    log.warning("%s: a torn journal line skipped", self.path)
        return out


class WorkerRunner:
    """Runs one session's worker until the recording has ended and every final is out, restarting it when
    it dies. `run` blocks the calling thread (which must live as long as the worker: the worker is killed
    when the thread that started it ends, see core.proc.die_with_parent)."""

    def __init__(self, job: WorkerJob, on_partial: Callable[[Any], None], on_final: Callable[[Segment], None],
                 on_restart: Callable[[dict], None] = lambda _d: None,
                 on_progress: Callable[[float], None] = lambda _s: None):
        self.job = job
        self._on_partial = on_partial       # called with an asr.stream.Partial
        self._on_final = on_final
        self._on_restart = on_restart
        self._on_progress = on_progress
        self._tail = JournalTail(Path(job.journal))
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen] = None
        self._ending = False
        self.processed = 0.0            # seconds of audio the worker has handled
        self.options: Optional[dict] = None   # the live decoder's options, as the worker reported them
        self.stats: dict = {}
        self.restarts = 0
        self.pids: list[int] = []

    @property
    def pid(self) -> Optional[int]:
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    def end(self) -> None:
        """The recording has ended: the worker finishes once it has read the whole tap."""
        with self._lock:
            self._ending = True
            proc = self._proc
        if proc is not None:
            _send_end(proc)

    def relay(self) -> None:
        for segment in self._tail.read():
            self._on_final(segment)

    def run(self) -> None:
        """Until the worker says it is done; raises WorkerFailed after `max_restarts` deaths."""
        while True:
            code, finished = self._run_once()
            self.relay()   # a final written just before a crash, its message lost with the process
            if finished and code == 0:
                return
            self.restarts += 1
            info = {"exit": code, "restart": self.restarts, "at": round(self.processed, 2)}
            log.warning("%s: the live transcription worker died (exit %s); %s", self.job.session_id, code,
                        "starting it again" if self.restarts <= self.job.spec.max_restarts else "giving up")
            self._on_restart(info)
            if self.restarts > self.job.spec.max_restarts:
                raise WorkerFailed(f"the live transcription worker died {self.restarts} times (last exit {code})")
            time.sleep(RESTART_PAUSE_S)

    def _partial(self, event: dict) -> None:
        from asr.stream import Partial

        try:
            partial = Partial(int(event["channel"]), event.get("speaker"), float(event["start"]),
                              float(event["end"]), str(event["text"]))
        except (KeyError, TypeError, ValueError):
            return
        self._on_partial(partial)

    def _spawn(self) -> subprocess.Popen:
        from core.proc import die_with_parent

        env = dict(os.environ)
        paths = [p for p in sys.path if p and Path(p).is_dir()]   # the same modules as this process sees
        env["PYTHONPATH"] = os.pathsep.join(paths)
        proc = subprocess.Popen([sys.executable, "-m", "service.live_worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env,
                                preexec_fn=die_with_parent, bufsize=1)
        try:   # on stdin, not the command line: the case's names are nobody else's to see in `ps`
            assert proc.stdin is not None
            proc.stdin.write(self.job.to_json() + "\n")
            proc.stdin.flush()
        except OSError:
            pass   # it died at once: seen as its exit
        return proc

    def _run_once(self) -> tuple[Optional[int], bool]:
        proc = self._spawn()
        with self._lock:
            self._proc = proc
            ending = self._ending
        self.pids.append(proc.pid)
        if ending:
            _send_end(proc)
        finished = False
        assert proc.stdout is not None
        heard = [time.monotonic()]
        threading.Thread(target=self._watch, args=(proc, heard), daemon=True,
                         name=f"asr-watch-{self.job.session_id}").start()
        for line in proc.stdout:
            heard[0] = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("%s: worker said %r", self.job.session_id, line[:200])
                continue
            kind = event.get("type")
            if kind == "final":
                self.relay()
            elif kind == "partial":
                self._partial(event)
            elif kind == "progress":
                self.processed = float(event.get("processed", self.processed))
                self._on_progress(self.processed)
            elif kind == "ready":
                self.options = event.get("options")
            elif kind == "done":
                self.stats = dict(event.get("stats") or {})
                self.processed = float(event.get("processed", self.processed))
                finished = True
        code = proc.wait()
        with self._lock:
            self._proc = None
        return code, finished


    def _watch(self, proc: subprocess.Popen, heard: list[float]) -> None:
        """Kill a worker that has said nothing for `hang_s` (stuck in a decode, a deadlock): it is then
        restarted like one that died."""
        while proc.poll() is None:
            if time.monotonic() - heard[0] > self.job.spec.hang_s:
                log.error("%s: the live transcription worker has said nothing for %.0f s; killing it",
                          self.job.session_id, self.job.spec.hang_s)
                proc.kill()
                return
            time.sleep(min(1.0, self.job.spec.hang_s / 4))


def _send_end(proc: subprocess.Popen) -> None:
    try:
        assert proc.stdin is not None
        proc.stdin.write("end\n")
        proc.stdin.flush()
    except (OSError, ValueError):   # it has just died: the one started next is told at once
        pass


def stream_options(reported: Optional[dict]) -> Any:
    """The worker's decoder options as asr.stream.StreamOptions (for the transcript's `reproduce` record)."""
    if not reported:
        return None
    from asr.stream import StreamOptions

    try:
        return StreamOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in reported.items()})
    except TypeError:
        return None
