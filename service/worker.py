"""`xunlu worker`: takes jobs from the queue in Redis (service/job_queue.py) and runs them on the home folder
it shares with the server, with its own model (a GPU node runs a bigger one).

One job at a time, in this process (RQ's SimpleWorker: the model is loaded once and kept, no fork after
CUDA or CTranslate2 threads started). While it runs, the worker says it is alive every few seconds
(`xunlu:alive:<name>` in Redis, with its host and pid). A job whose worker stopped saying so (killed,
crashed, its machine gone), or whose worker was on this machine and its process is gone, is taken back by the
next worker that looks (at its start and every few seconds): tried again when it has retries left, else
failed with the reason."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from core.proc import pid_alive
from service import job_tasks
from service.job_queue import QueueOptions, RedisJobs, _serializer
from service.queued import drop_orphan_uploads

log = logging.getLogger("xunlu.worker")
ALIVE_KEY = "xunlu:alive:{}"
REAP_LOCK = "xunlu:reap-lock"


@dataclass(frozen=True)
class WorkerOptions:
    home: Path
    broker: str
    model: Optional[str] = None          # default: [asr] model of the home's config.toml
    device: Optional[str] = None         # cpu, cuda, auto (default: the config's)
    compute_type: Optional[str] = None
    burst: bool = False                  # stop when the queue is empty
    name: Optional[str] = None           # default: host.pid
    alive_s: float = 60.0                # a worker silent this long is taken for dead (on this machine: its
                                         # pid is checked at once)
    queue: QueueOptions = field(default_factory=QueueOptions)


def models(options: WorkerOptions) -> Callable[[Optional[str]], Any]:
    """Transcribers by model name, each loaded on first need and kept; None: the worker's own model."""
    from core.config import load_config

    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def get(name: Optional[str]) -> Any:
        from asr.pipeline import load_transcriber

        cfg = load_config(options.home)
        chosen = name or options.model or cfg.model
        with lock:
            if chosen not in cache:
                log.info("loading the model %s", chosen)
                cache[chosen] = load_transcriber(chosen, options.home, options.device or cfg.device,
                                                 options.compute_type or cfg.compute_type)
            return cache[chosen]

    return get



def worker_alive(conn: Any, name: Optional[str]) -> bool:
    """Whether the worker `name` still says it is alive (and, on this machine, its process exists)."""
    if not name:
        return True
    raw = conn.get(ALIVE_KEY.format(name))
    if raw is None:
        return False
    try:
        seen = json.loads(raw)
    except ValueError:
        return True
    if seen.get("host") == socket.gethostname() and isinstance(seen.get("pid"), int):
        return seen["pid"] == os.getpid() or pid_alive(seen["pid"])
    return True


def reap(jobs: RedisJobs, home: Path) -> list[str]:
    """Take back the running jobs whose worker is gone: each is queued again at once, at the front, when it
    has retries left (a lost worker is no reason to wait), else failed by RQ's own clean-up with the reason
    `worker_lost`. Returns their ids."""
    from rq import Queue
    from rq.job import Job as RqJob
    from rq.job import JobStatus
    from rq.registry import StartedJobRegistry

    conn = jobs.connection
    if not conn.set(REAP_LOCK, os.getpid(), nx=True, ex=10):
        return []   # another worker is doing it
    try:
        queue = Queue(jobs.options.queue, connection=conn, serializer=_serializer())
        registry = StartedJobRegistry(queue.name, connection=conn, serializer=_serializer())
        taken, final = [], []
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                job = RqJob.fetch(job_id, connection=conn, serializer=_serializer())
            except Exception:
                continue
            if job.get_status(refresh=False) != JobStatus.STARTED or worker_alive(conn, job.worker_name):
                continue
            log.warning("job %s: its worker %s stopped (killed or crashed); taking it back", job_id,
                        job.worker_name)
            job.meta["outcome"] = {"status": 500, "code": "worker_lost", "params": {},
                                   "detail": f"the worker {job.worker_name} running it stopped (killed or crashed)"}
            job.meta["stage"] = "its worker stopped"
            taken.append(job_id)
            if job.retries_left:
                registry.remove_executions(job)
                job.retries_left -= 1
                job.save()
                queue.enqueue_job(job, at_front=True)
            else:
                job.save_meta()
                member = f"{job_id}:{execution_id}" if execution_id else job_id
                conn.zadd(registry.key, {member: 1}, xx=True)   # expired: RQ's clean-up fails it
                final.append(job)
        if final:
            registry.cleanup()
            for job in final:   # a lost import that will not be tried again: its upload is not needed
                payload = (job.args or (None, {}))[1] or {}
                if payload.get("upload"):
                    from archive.fsutil import remove_tree

                    with contextlib.suppress(OSError):
                        remove_tree((home / payload["upload"]).parent)
        return taken
    finally:
        conn.delete(REAP_LOCK)


class _Heartbeat:
    """Says this worker is alive, and looks for jobs of dead workers, every third of `alive_s`."""

    def __init__(self, jobs: RedisJobs, name: str, home: Path, alive_s: float):
        self.jobs, self.name, self.home, self.alive_s = jobs, name, home, alive_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="xunlu-worker-alive", daemon=True)
        self.beat()

    def beat(self) -> None:
        value = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        self.jobs.connection.set(ALIVE_KEY.format(self.name), value, ex=max(1, int(self.alive_s)))

    def _loop(self) -> None:
        while not self._stop.wait(self.alive_s / 3):
            try:
                self.beat()
                reap(self.jobs, self.home)
            except Exception:  # Redis away for a moment: RQ itself says so; try again
                log.warning("worker heartbeat failed", exc_info=True)

    def start(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self.jobs.connection.delete(ALIVE_KEY.format(self.name))


def _worker_class():
    from rq import SimpleWorker

    class Worker(SimpleWorker):
        """RQ's SimpleWorker, listening for RQ's commands with a short poll: with redis-py 8 its 60 s one
        held the worker's exit for up to a minute."""

        def subscribe(self) -> None:
            self.pubsub = self.connection.pubsub()
            self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
            self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=0.5, daemon=True,
                                                           exception_handler=self._pubsub_exception_handler)

    return Worker


def run(options: WorkerOptions, transcriber: Optional[Callable[[Optional[str]], Any]] = None) -> bool:
    """Work until stopped (SIGINT/SIGTERM: after the current job), or until the queue is empty with
    `burst`. `transcriber(name)` replaces the model loading (tests). Returns whether any job was done."""
    from rq import Queue

    home = Path(options.home)
    jobs = RedisJobs(options.broker, options.queue).check()
    job_tasks.install(job_tasks.WorkerContext(home, transcriber or models(options)))
    name = options.name or f"{socket.gethostname()}.{os.getpid()}"
    heartbeat = _Heartbeat(jobs, name, home, options.alive_s)
    for job_id in reap(jobs, home):
        log.warning("job %s taken back from a worker that stopped", job_id)
    for name in drop_orphan_uploads(home, jobs):
        log.warning("removed uploads/%s: its job is finished or gone", name)
    heartbeat.start()
    try:
        queue = Queue(options.queue.queue, connection=jobs.connection, serializer=_serializer())
        worker = _worker_class()([queue], connection=jobs.connection, name=name, serializer=_serializer())
        return bool(worker.work(burst=options.burst, with_scheduler=True, logging_level="WARNING"))
    finally:
        heartbeat.stop()
