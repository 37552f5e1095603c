"""Every background job in the web app (/api/jobs): imports, re-transcriptions, reindexing and the daily
warnings, whichever engine runs them (this server's threads, service/jobs.py, or workers on the job queue,
service/job_queue.py), with their state, progress and, when one failed, why.

An admin (the batch operator) sees every job; an officer sees only the jobs they started, as with an
import's own job (api/routes/importing.py): another's job is refused (403, audited), an unknown one is 404.
"""
from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Path, Query, Request

from accounts import policy
from accounts.types import User
from api.auth.deps import deny, require
from api.routes.answers import JobItem, JobList
from api.routes.errors import ApiError, language
from core.messages import message
from service.job_queue import RedisJobs
from service.jobs import KINDS, STATES, Job

router = APIRouter(prefix="/api", tags=["jobs"])
SEE = require(policy.can_see_jobs, "see background jobs")
EVERY_JOB = 10_000   # what an engine is asked for before the caller's own are picked out (it keeps fewer)


def item(job: Job, lang: str) -> dict[str, Any]:
    """A job as the API shows it: progress 0 while queued and 1 when done, the failure in `lang`'s words."""
    progress = {"queued": 0.0, "done": 1.0}.get(job.state, job.progress)
    failed = job.state == "failed"
    return {"id": job.job, "kind": job.kind, "target": job.target, "state": job.state,
            "progress": None if progress is None else max(0.0, min(1.0, float(progress))),
            "stage": job.stage, "attempts": job.attempts, "session": job.session, "created_at": job.created_at,
            "ended_at": job.ended_at, "owner": job.owner, "worker": job.worker,
            "error": message(job.code or "error", lang, **job.params) if failed else None,
            "code": job.code if failed else None, "detail": job.detail if failed else None}


def _unknown(request: Request, job: str) -> ApiError:
    kept = "in the job queue" if isinstance(request.app.state.jobs, RedisJobs) else "until the server restarts"
    return ApiError(404, f"no job {job!r} (jobs are kept {kept})", "unknown_job")


def _choice(value: Optional[str], allowed: tuple[str, ...], what: str) -> Optional[str]:
    if value is None or not value.strip():
        return None
    if value.strip() not in allowed:
        raise ApiError(400, f"no job {what} {value!r}: one of {', '.join(allowed)}", "bad_job_filter",
                       {"value": value})
    return value.strip()


@router.get("/jobs", summary="The background jobs (imports, re-transcriptions, reindexing, daily warnings) with "
            "their state and progress; an admin sees every job, an officer the ones they started",
            response_model=JobList)
def list_jobs(request: Request,
              kind: Optional[str] = Query(None, max_length=20, description="import, transcribe, reindex or warnings"),
              state: Optional[str] = Query(None, max_length=20, description="queued, running, done or failed"),
              limit: int = Query(100, ge=1, le=1000),
              user: User = Depends(SEE)):
    kind, state = _choice(kind, KINDS, "kind"), _choice(state, STATES, "state")
    jobs = request.app.state.jobs
    everyone = policy.can_see_all_jobs(user)
    found = [j for j in jobs.list(EVERY_JOB) if (everyone or j.owner == user.actor)
             and kind in (None, j.kind) and state in (None, j.state)][:limit]
    lang = language(request)
    return {"jobs": [item(j, lang) for j in found], "engine": "queue" if isinstance(jobs, RedisJobs) else "server",
            "active": sum(1 for j in found if not j.finished)}


@router.get("/jobs/{job}", summary="One background job: its state, progress and, when it failed, why; an admin "
            "sees any job, an officer the ones they started", response_model=JobItem)
def get_job(request: Request, job: str = Path(..., max_length=100), user: User = Depends(SEE)):
    found = request.app.state.jobs.get(job)
    if found is None:
        raise _unknown(request, job)
    if found.owner != user.actor and not policy.can_see_all_jobs(user):
        deny(request, user, f"job {job} was started by someone else", f"jobs/{job}")
    return item(found, language(request))
