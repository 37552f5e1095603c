"""`xunlu worker` (run the queued jobs of a home folder) and `xunlu jobs` (what the queue holds), and the
progress of one queued job followed in the terminal, for `import`, `transcribe`, `reindex` and `warnings
--daily` when they run on the queue (--broker / $XUNLU_BROKER_URL)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

from cli.common import BrokerOpt, HomeOpt, fail, handled
from core.config import home_dir
from core.errors import OptionError
from core.urls import redact

STATE_WORDS = {"queued": "排队 queued", "running": "运行 running", "done": "完成 done", "failed": "失败 failed"}


def queue_of(broker: Optional[str], home: Optional[str] = None):
    """The job queue named by --broker, $XUNLU_BROKER_URL or the home's `[jobs] broker`, reachable; None when
    none is set."""
    from service.job_queue import RedisJobs, broker_url, queue_options

    root = home_dir(home)
    url = broker_url(broker, root)
    return RedisJobs(url, queue_options(root)).check() if url else None


def follow(jobs, job, label: str) -> object:
    """Show a queued job's state and progress on stderr until it ends; the finished job. Ctrl-C leaves the
    job running and says how to find it again."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    typer.echo(f"xunlu: job {job.job} queued ({label}); `xunlu jobs {job.job}` shows it", err=True)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=1.0)

        def show(now) -> None:
            words = STATE_WORDS.get(now.state, now.state)
            stage = f" · {now.stage}" if now.stage and now.state != "done" else ""
            retry = f" · attempt {now.attempts}" if now.attempts > 1 else ""
            bar.update(task, description=f"{label}: {words}{retry}{stage}"[:100], completed=now.progress or 0.0)

        try:
            return jobs.wait(job.job, show)
        except KeyboardInterrupt:
            fail(f"stopped following; job {job.job} goes on (xunlu jobs {job.job})", 130)


def outcome(job) -> None:
    """Exit like the command would have, had it run here: the failure's words and its exit code."""
    if job.state == "failed":
        code = 2 if (job.status or 500) < 500 else 1
        fail(f"job {job.job} failed after {job.attempts} attempt(s): {job.detail}", code)


def _when(stamp: Optional[float]) -> str:
    return datetime.fromtimestamp(stamp).astimezone().strftime("%m-%d %H:%M:%S") if stamp else "-"


def jobs_cmd(job_id: Optional[str] = typer.Argument(None, metavar="[JOB]", help="One job, in full (JSON)."),
             as_json: bool = typer.Option(False, "--json", help="One JSON object per job."),
             limit: int = typer.Option(50, "--limit", min=1),
             broker: Optional[str] = BrokerOpt, home: Optional[str] = HomeOpt) -> None:
    """The jobs of the queue (imports, re-transcriptions, reindexing, daily warnings): state, progress,
    attempts, worker, and why a failed one failed."""
    with handled():
        jobs = queue_of(broker, home)
        if jobs is None:
            raise OptionError("no job queue is configured (--broker URL or $XUNLU_BROKER_URL); without one, "
                              "jobs run inside the command or server that started them")
        if job_id:
            found = jobs.get(job_id)
            if found is None:
                fail(f"no job {job_id!r} in the queue (finished jobs are kept 7 days, failed ones 30)")
            typer.echo(json.dumps(found.public(), ensure_ascii=False, indent=1))
            return
        for job in jobs.list(limit):
            if as_json:
                typer.echo(json.dumps(job.public(), ensure_ascii=False))
                continue
            progress = f"{100 * job.progress:.0f}%" if job.progress is not None and job.state == "running" else ""
            about = job.detail if job.state == "failed" else (job.session or job.stage or "")
            typer.echo(f"{job.job}\t{job.kind}\t{job.state}\t{progress or '-'}\t{job.attempts}\t"
                       f"{_when(job.created_at)}\t{job.target or '-'}\t{job.worker or '-'}\t{about or ''}")


def worker_cmd(
    broker: Optional[str] = BrokerOpt,
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or auto (default: the config's)."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="This worker's model: base, a model folder, or a hub name "
                                             "(default: the config's)."),
    compute_type: Optional[str] = typer.Option(None, "--compute-type", help="int8, float16, ..."),
    burst: bool = typer.Option(False, "--burst", help="Stop once the queue is empty."),
    name: Optional[str] = typer.Option(None, "--name", help="This worker's name (default HOST.PID)."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Run queued jobs (imports, re-transcriptions, reindexing, daily warnings) on the home folder the server
    uses (a shared path), one at a time, until stopped (Ctrl-C / SIGTERM: after the current job)."""
    from service.job_queue import broker_url, queue_options
    from service.worker import WorkerOptions, run

    with handled("stopped"):
        root = home_dir(home)
        url = broker_url(broker, root)
        if url is None:
            raise OptionError("a worker needs the job queue: --broker redis://HOST:6379/0, $XUNLU_BROKER_URL or "
                              "[jobs] broker in config.toml")
        if not root.is_dir():
            raise OptionError(f"no xunlu home at {root}: give the server's home folder (--home, a shared path)")
        typer.echo(f"讯录 xunlu worker: home {root}, queue {redact(url)}"
                   f"{f', model {model}' if model else ''}{f', device {device}' if device else ''}", err=True)
        run(WorkerOptions(home=Path(root), broker=url, model=model, device=device, compute_type=compute_type,
                          burst=burst, name=name, queue=queue_options(root)))
