"""Background jobs: what a job is (`Job`: its kind, state, progress and outcome, the same whichever engine runs
it) and the in-process engine (`JobRegistry`), used when no job queue is configured: a long import answered
at once with a job to poll, run in a thread of the server process and kept in memory until it ends. With a
broker (`--broker` / `XUNLU_BROKER_URL`) the jobs go to Redis instead (service/job_queue.py) and survive
restarts.

A job records the session id as soon as it exists, the HTTP status a synchronous call would have answered,
and who started it: only they may read it. States: queued -> running -> done or failed."""
from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from core.errors import code_of, params_of, status_of

log = logging.getLogger("xunlu.jobs")
KEEP_JOBS = 200
STATES = ("queued", "running", "done", "failed")
KINDS = ("import", "transcribe", "reindex", "warnings")


@dataclass
class Job:
    job: str
    state: str = "running"            # queued, running, done or failed
    session: Optional[str] = None     # known once the session exists
    status: Optional[int] = None      # the HTTP status a synchronous call would have answered
    detail: Optional[str] = None
    code: Optional[str] = None        # the failure's stable code (core/errors.py), for the page's message
    kind: str = "import"              # import, transcribe, reindex or warnings
    progress: Optional[float] = None  # 0..1 while running, when the work can tell
    stage: Optional[str] = None       # what it is doing now ("transcribing", ...), the operator's words
    attempts: int = 0                 # how many times a worker took it up (retries after a failure or a lost worker)
    created_at: Optional[float] = None    # unix time
    ended_at: Optional[float] = None
    target: Optional[str] = None      # what it works on: the uploaded file's name, a session, "*"
    worker: Optional[str] = None      # the worker that runs (or ran) it; None in-process
    result: dict[str, Any] = field(default_factory=dict)   # what it made (session, version, counts, a path)
    params: dict[str, Any] = field(default_factory=dict, repr=False)   # the words of its message
    owner: str = field(default="", repr=False)   # the actor who started it: only they may poll it

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("owner", "params")}

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def fail(self, exc: BaseException, describe: Callable[[BaseException], str] = str) -> None:
        """Record a failure as a synchronous call would have answered it (status, code, words)."""
        self.status = status_of(exc)
        self.detail = describe(exc) or type(exc).__name__
        self.code, self.params = code_of(exc), params_of(exc)
        self.state, self.ended_at = "failed", time.time()


class ProgressOf:
    """The `service.importing.Progress` of a job: the share of the recording transcribed so far, given to
    `report(fraction)` at most every `every_s` (and always at the end)."""

    def __init__(self, report: Callable[[float], None], every_s: float = 1.0):
        self.report = report
        self.every_s = every_s
        self._total = 0.0
        self._last = 0.0

    def start(self, info: Any) -> None:
        self._total = float(getattr(info, "duration", 0.0) or 0.0)
        self.report(0.0)

    def advance(self, segment: Any) -> None:
        if self._total <= 0 or time.monotonic() - self._last < self.every_s:
            return
        self._last = time.monotonic()
        self.report(min(0.99, max(0.0, segment.end / self._total)))


class JobRegistry:
    """The jobs of this process, the newest KEEP_JOBS finished ones kept."""

    def __init__(self, keep: int = KEEP_JOBS):
        self._jobs: dict[str, Job] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        with self._lock:
            if job.created_at is None:
                job.created_at = time.time()
            self._jobs[job.job] = job
            for old in list(self._jobs)[:-self._keep]:
                if self._jobs[old].finished:
                    del self._jobs[old]
        return job

    def get(self, job_id: str) -> Optional[Job]:
        return self._jobs.get(job_id)

    def list(self, limit: int = KEEP_JOBS) -> list[Job]:
        """Newest first."""
        with self._lock:   # not while a job is being added: the dict would change size under the sort
            jobs = list(self._jobs.values())
        return sorted(jobs, key=lambda j: j.created_at or 0, reverse=True)[:limit]

    def start(self, owner: str, work: Callable[[Job], Any], cleanup: Callable[[], None] = lambda: None,
              describe: Callable[[BaseException], str] = str, kind: str = "import",
              target: Optional[str] = None) -> Job:
        """Run `work(job)` in a thread; it returns the finished session (or anything with an `id`) and may
        set `job.stage` and `job.progress` as it goes. `describe(exc)` words a failure for the job's reader;
        `cleanup()` runs either way."""
        job = self.add(Job(secrets.token_hex(8), owner=owner, kind=kind, target=target, attempts=1))

        def run() -> None:
            try:
                done = work(job)
                job.session, job.status = getattr(done, "id", job.session), 201
                if job.session:
                    job.result = {**job.result, "session": job.session}
                job.progress, job.state, job.ended_at = 1.0, "done", time.time()
            except BaseException as exc:  # the job reports it; the session (if any) is marked failed
                job.fail(exc, describe)
                if job.status == 500:
                    log.exception("job %s failed", job.job)
            finally:
                with contextlib.suppress(OSError):
                    cleanup()

        threading.Thread(target=run, name=f"job-{job.job}", daemon=True).start()
        return job
