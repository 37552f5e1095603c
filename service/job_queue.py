"""Jobs on a queue in Redis (RQ), for a server and workers that share one home folder: imports,
re-transcriptions, reindexing and the daily warnings run on `xunlu worker` processes, anywhere the home is
mounted. The state of every job (queued, running with its progress, done, failed with the reason) lives in
Redis, not in a process: a server, a worker or the command that started a job may restart and the job goes
on; a failed job is retried (not one the request itself made impossible: a duplicate, a file that is not a
recording), and a job whose worker died is taken up by another (service/worker.py).

    jobs = RedisJobs("redis://127.0.0.1:6379/0")
    job = jobs.submit(Task("reindex", {"sessions": None}, target="*"), owner="system:cli")
    jobs.get(job.job).state      # queued, running, done or failed

Job data is JSON in Redis (RQ's JSON serializer), never pickle: whoever can write to Redis cannot make a
worker run code."""
from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from core.errors import XunluError
from service.jobs import KINDS, Job

log = logging.getLogger("xunlu.job_queue")
BROKER_ENV = "XUNLU_BROKER_URL"
QUEUE = "xunlu"
PERFORM = "service.job_tasks.perform"   # the one function a worker runs: perform(kind, payload)


class QueueUnavailable(XunluError):
    """The job queue (Redis) cannot be reached or is not set up."""

    http_status = 503
    code = "job_queue_unavailable"


@dataclass(frozen=True)
class QueueOptions:
    """How jobs are kept and retried. A failed attempt (an unexpected error, a worker that died) is tried
    again after `retry_after_s[i]` seconds, at most `retries` times."""

    queue: str = QUEUE
    retries: int = 2
    retry_after_s: tuple[int, ...] = (10, 60)
    timeout_s: int = 48 * 3600            # one job at most (a 24-hour recording on a slow CPU)
    keep_done_s: int = 7 * 24 * 3600      # how long a finished job stays visible
    keep_failed_s: int = 30 * 24 * 3600


@dataclass(frozen=True)
class Task:
    """What a job does: `kind` (service.jobs.KINDS) and its arguments, JSON only."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    target: Optional[str] = None


def _jobs_table(home: Optional[Path]) -> dict[str, Any]:
    """`[jobs]` of `<home>/config.toml` (broker, retries, retry_after_s); {} when there is none."""
    if home is None:
        return {}
    import sys

    from core.config import CONFIG_FILE, ConfigError

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(home) / CONFIG_FILE
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("jobs", {}) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [jobs] must be a table")
    unknown = set(table) - {"broker", "retries", "retry_after_s"}
    if unknown:
        raise ConfigError(f"{path}: unknown setting jobs.{sorted(unknown)[0]} (known: broker, retries, retry_after_s)")
    return table


def queue_options(home: Optional[Path]) -> QueueOptions:
    """QueueOptions with `[jobs] retries = 2` and `retry_after_s = [10, 60]` of the home's config.toml."""
    from core.config import ConfigError

    table = _jobs_table(home)
    retries = table.get("retries", QueueOptions.retries)
    after = table.get("retry_after_s", list(QueueOptions.retry_after_s))
    after = [after] if isinstance(after, int) else after
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise ConfigError(f"jobs.retries must be a whole number from 0 to 20, got {retries!r}")
    if not isinstance(after, list) or not after or any(isinstance(a, bool) or not isinstance(a, int) or a < 0
                                                        for a in after):
        raise ConfigError(f"jobs.retry_after_s must be seconds (a whole number or a list of them), got {after!r}")
    return QueueOptions(retries=retries, retry_after_s=tuple(after))


def broker_url(option: Optional[str] = None, home: Optional[Path] = None) -> Optional[str]:
    """The broker a command uses: its --broker, else $XUNLU_BROKER_URL, else `[jobs] broker` of the home's
    config.toml; None (or an empty value): jobs run in-process."""
    value = option if option is not None else os.environ.get(BROKER_ENV)
    if value is None:
        value = _jobs_table(home).get("broker", "")
    value = str(value).strip()
    if not value:
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise QueueUnavailable(f"the broker must be a Redis URL (redis://HOST:6379/0, rediss://..., unix://...), "
                               f"not {_masked(value)!r}")
    return value


def _masked(url: str) -> str:
    from core.urls import redact

    return redact(url)


def _serializer():
    from rq.serializers import JSONSerializer

    return JSONSerializer


def _stamp(when: Optional[datetime]) -> Optional[float]:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def job_of(rq_job: Any) -> Job:
    """The xunlu view of an RQ job: state, progress, and the failure in words."""
    meta = rq_job.get_meta(refresh=False) or {}
    status = str(getattr(rq_job.get_status(refresh=False), "value", rq_job.get_status(refresh=False)) or "")
    state = {"queued": "queued", "deferred": "queued", "scheduled": "queued", "started": "running",
             "finished": "done"}.get(status, "failed")
    outcome = meta.get("outcome") or {}
    job = Job(rq_job.id, state=state, session=meta.get("session"), kind=meta.get("kind", "?"),
              progress=meta.get("progress"), stage=meta.get("stage"), attempts=int(meta.get("attempts") or 0),
              created_at=_stamp(rq_job.created_at), target=meta.get("target"), worker=rq_job.worker_name or None,
              owner=meta.get("owner", ""), result=dict(meta.get("result") or {}))
    if state == "done":
        job.status, job.progress, job.ended_at = 201, 1.0, _stamp(rq_job.ended_at)
    elif state == "failed":
        job.ended_at = _stamp(rq_job.ended_at)
        if outcome:
            job.status, job.detail = outcome.get("status", 500), outcome.get("detail")
            job.code, job.params = outcome.get("code"), dict(outcome.get("params") or {})
        else:  # it never reported: its worker died every time, or it was stopped
            job.status, job.code = 500, "worker_lost"
            job.detail = (f"the worker running it stopped (killed or crashed) on each of {job.attempts} "
                          f"attempt(s); no retries left")
    elif state == "queued" and outcome:
        job.stage = f"waiting to be tried again after: {outcome.get('detail')}"
    return job


class RedisJobs:
    """The jobs of a home folder, in Redis. Same reading interface as service.jobs.JobRegistry (`get`,
    `list`); `submit` instead of `start`, since the work is data a worker runs, not a closure."""

    def __init__(self, url: str, options: QueueOptions = QueueOptions()):
        self.url = url
        self.options = options
        self._conn = None

    @property
    def connection(self):
        if self._conn is None:
            try:
                import redis
            except ImportError as exc:  # pragma: no cover - a dependency of xunlu
                raise QueueUnavailable("the job queue needs the Python packages redis and rq: "
                                       "pip install rq") from exc
            self._conn = redis.Redis.from_url(self.url, socket_connect_timeout=5, health_check_interval=30)
        return self._conn

    def _queue(self):
        from rq import Queue

        return Queue(self.options.queue, connection=self.connection, serializer=_serializer())

    def check(self) -> "RedisJobs":
        """Raise QueueUnavailable unless Redis answers."""
        import redis

        try:
            self.connection.ping()
        except redis.RedisError as exc:
            raise QueueUnavailable(f"the job queue at {_masked(self.url)} cannot be reached: {_masked(str(exc))}") from exc
        return self

    def submit(self, task: Task, owner: str, job_id: Optional[str] = None, unique: bool = False) -> Job:
        """Queue `task`; returns the job (state queued). `unique` with a `job_id`: not queued again while a
        job of that id is kept (the daily warnings of one day, asked for by several servers)."""
        import redis
        from rq import Retry
        from rq.exceptions import DuplicateJobError

        if task.kind not in KINDS:
            raise ValueError(f"unknown job kind {task.kind!r}")
        o = self.options
        meta = {"kind": task.kind, "owner": owner, "target": task.target, "attempts": 0}
        try:
            rq_job = self._queue().enqueue_call(
                PERFORM, args=(task.kind, task.payload), job_id=job_id or secrets.token_hex(8), meta=meta,
                timeout=o.timeout_s, result_ttl=o.keep_done_s, failure_ttl=o.keep_failed_s,
                description=f"xunlu {task.kind} {task.target or ''}".strip(), unique=unique,
                retry=Retry(max=o.retries, interval=list(o.retry_after_s)) if o.retries > 0 else None)
        except DuplicateJobError:
            found = self.get(job_id or "")
            if found is None:
                raise
            return found
        except redis.RedisError as exc:
            raise QueueUnavailable(f"the job queue at {_masked(self.url)} cannot be reached: {_masked(str(exc))}") from exc
        return job_of(rq_job)

    def get(self, job_id: str) -> Optional[Job]:
        import redis
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RqJob

        try:
            return job_of(RqJob.fetch(job_id, connection=self.connection, serializer=_serializer()))
        except NoSuchJobError:
            return None
        except redis.RedisError as exc:
            raise QueueUnavailable(f"the job queue at {_masked(self.url)} cannot be reached: {_masked(str(exc))}") from exc

    def list(self, limit: int = 200) -> list[Job]:
        """Every job Redis keeps (queued, waiting for a retry, running, done, failed), newest first."""
        import redis
        from rq import registry as rq
        from rq.job import Job as RqJob


        try:
            queue = self._queue()
            ids = list(queue.get_job_ids())
            for registry in (rq.StartedJobRegistry, rq.ScheduledJobRegistry, rq.DeferredJobRegistry,
                             rq.FinishedJobRegistry, rq.FailedJobRegistry):
                ids += registry(queue.name, connection=self.connection, serializer=_serializer()).get_job_ids()
            found = RqJob.fetch_many(list(dict.fromkeys(ids)), connection=self.connection, serializer=_serializer())
        except redis.RedisError as exc:
            raise QueueUnavailable(f"the job queue at {_masked(self.url)} cannot be reached: {_masked(str(exc))}") from exc
        jobs = [job_of(j) for j in found if j is not None]
        return sorted(jobs, key=lambda j: j.created_at or 0, reverse=True)[:limit]

    def wait(self, job_id: str, on_change: Callable[[Job], None] = lambda _job: None, every_s: float = 0.5,
             timeout_s: Optional[float] = None) -> Job:
        """Poll the job until it is done or failed, calling `on_change(job)` whenever its state, stage or
        progress moved. Returns the finished job; raises TimeoutError after `timeout_s`."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        seen = None
        while True:
            job = self.get(job_id)
            if job is None:
                raise QueueUnavailable(f"job {job_id} is no longer in the job queue")
            now = (job.state, job.stage, job.progress, job.attempts)
            if now != seen:
                seen = now
                on_change(job)
            if job.finished:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.state}")
            time.sleep(every_s)
