"""Background jobs of one server process (a long import answered at once with a job to poll). The job
records the session id as soon as it exists, the HTTP status a synchronous call would have answered, and
who started it: only they may read it. Jobs are kept in memory until the process ends."""
from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from core.errors import code_of, params_of, status_of

log = logging.getLogger("xunlu.jobs")
KEEP_JOBS = 200


@dataclass
class Job:
    job: str
    state: str = "importing"          # importing, complete or failed
    session: Optional[str] = None     # known once the session exists
    status: Optional[int] = None      # the HTTP status a synchronous call would have answered
    detail: Optional[str] = None
    code: Optional[str] = None        # the failure's stable code (core/errors.py), for the page's message
    params: dict[str, Any] = field(default_factory=dict, repr=False)   # the words of its message
    owner: str = field(default="", repr=False)   # the actor who started it: only they may poll it

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("owner", "params")}


class JobRegistry:
    """The jobs of this process, the newest KEEP_JOBS finished ones kept."""

    def __init__(self, keep: int = KEEP_JOBS):
        self._jobs: dict[str, Job] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.job] = job
            for old in list(self._jobs)[:-self._keep]:
                if self._jobs[old].state != "importing":
                    del self._jobs[old]
        return job

    def get(self, job_id: str) -> Optional[Job]:
        return self._jobs.get(job_id)

    def start(self, owner: str, work: Callable[[Job], Any], cleanup: Callable[[], None] = lambda: None,
              describe: Callable[[BaseException], str] = str) -> Job:
        """Run `work(job)` in a thread; it returns the finished session (or anything with an `id`).
        `describe(exc)` words a failure for the job's reader; `cleanup()` runs either way."""
        job = self.add(Job(secrets.token_hex(8), owner=owner))

        def run() -> None:
            try:
                done = work(job)
                job.session, job.status, job.state = getattr(done, "id", job.session), 201, "complete"
            except BaseException as exc:  # the job reports it; the session (if any) is marked failed
                job.status = status_of(exc)
                job.detail = describe(exc) or type(exc).__name__
                job.code, job.params = code_of(exc), params_of(exc)
                job.state = "failed"
                if job.status == 500:
                    log.exception("job %s failed", job.job)
            finally:
                with contextlib.suppress(OSError):
                    cleanup()

        threading.Thread(target=run, name=f"job-{job.job}", daemon=True).start()
        return job
