"""Putting work on the job queue (service/job_queue.py) for a worker, from the CLI and the web server alike:
an import (its file kept under the home folder first, where a worker on the same shared path reads it), a
re-transcription, a reindex, the daily warnings. What the worker does with each: service/job_tasks.py."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Optional, Sequence

from archive.fsutil import remove_tree
from service.job_queue import RedisJobs, Task
from service.job_tasks import request_values
from service.jobs import Job

UPLOADS = "uploads"


def job_folder(home: Path, job_id: str) -> Path:
    """Where a queued import's file waits for its worker (`<home>/uploads/job-<id>/`): not removed when the
    process that queued it ends (service.importing.drop_stale_uploads takes only `.up-*`)."""
    return Path(home) / UPLOADS / f"job-{job_id}"


def queue_import(home: Path, jobs: RedisJobs, req: Any, language: Optional[str], actor: str,
                 name: Optional[str] = None, move_from: Optional[Path] = None) -> Job:
    """Queue the import of `req.input`. The file is copied under the home folder (or, with `move_from`, that
    folder of the home is renamed into place: a web upload); `name` is what the job and its errors call it."""
    home = Path(home)
    job_id = secrets.token_hex(8)
    folder = job_folder(home, job_id)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if move_from is not None:
        Path(move_from).rename(folder)
    else:
        folder.mkdir(mode=0o700)
        try:
            shutil.copyfile(req.input, folder / Path(req.input).name)
            os.chmod(folder / Path(req.input).name, 0o600)
        except BaseException:
            remove_tree(folder)
            raise
    upload = (folder / Path(req.input).name).relative_to(home).as_posix()
    label = name or Path(req.input).name
    payload = {"upload": upload, "name": label, "request": request_values(req), "language": language,
               "actor": actor}
    try:
        return jobs.submit(Task("import", payload, target=label), actor, job_id=job_id)
    except BaseException:
        with contextlib.suppress(OSError):
            remove_tree(folder)
        raise


def queue_transcribe(jobs: RedisJobs, sid: str, actor: str, model: Optional[str], language: Optional[str],
                     batch_size: int = 0, beam_size: Optional[int] = None, hotwords: Sequence[str] = (),
                     reason: Optional[str] = None) -> Job:
    """Queue ASR again on a session's original (a new transcript version); `model` None: the worker's own."""
    payload = {"session": sid, "actor": actor, "model": model, "language": language, "batch_size": batch_size,
               "beam_size": beam_size, "hotwords": list(hotwords),
               "reason": reason or (f"re-transcribed with {model}" if model else None)}
    return jobs.submit(Task("transcribe", payload, target=sid), actor)


def queue_reindex(jobs: RedisJobs, sessions: Sequence[str], actor: str, procs: int = 2) -> Job:
    payload = {"sessions": list(sessions) or None, "actor": actor, "procs": procs}
    return jobs.submit(Task("reindex", payload, target=",".join(sessions) or "*"), actor)


def queue_warnings(jobs: RedisJobs, actor: str, force: bool = False) -> Job:
    return jobs.submit(Task("warnings", {"force": force}, target="daily"), actor)


def drop_orphan_uploads(home: Path, jobs: RedisJobs, older_than_s: float = 3600.0) -> list[str]:
    """Remove the upload folders of queued imports that nothing will read again: their job is finished, or no
    longer in Redis (expired, or Redis emptied). Folders younger than `older_than_s` are left alone (a job
    being queued right now). Returns the names removed."""
    import time

    dropped = []
    for folder in sorted((Path(home) / UPLOADS).glob("job-*")):
        try:
            if time.time() - folder.stat().st_mtime < older_than_s:
                continue
        except OSError:
            continue
        job = jobs.get(folder.name[len("job-"):])
        if job is None or job.finished:
            with contextlib.suppress(OSError):
                remove_tree(folder)
                dropped.append(folder.name)
    return dropped
