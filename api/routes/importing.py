"""Import a recording made elsewhere: the request body is the file, streamed to disk (any size), then
kept byte for byte, hashed, made playable, transcribed and indexed like `xunlu import`.

    curl --data-binary @room2.mp4 -H 'Content-Type: application/octet-stream' \
         'http://127.0.0.1:8000/api/import?filename=room2.mp4&case=A123'

The answer comes when the import is done (201, the session). With `background=true` it comes as soon as the
upload is received and looks like media (202, a job to poll at /api/import/jobs/{job}): long recordings
take minutes to transcribe, longer than a proxy in front of the server may wait.

With a job queue (`xunlu serve --broker`), the upload is kept under the home folder (`uploads/job-<id>/`) and
the import runs on a worker (`xunlu worker`) that shares the home; the job's state is in Redis, so it goes on
and can still be polled after the server restarts. Without one, it runs in a thread of this process.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Optional

import anyio
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from accounts import policy
from accounts.types import User
from api.auth.deps import deny, require
from api.routes.answers import ImportJob, SessionRecord, StartedImport
from api.routes.deps import actor, transcriber_of
from api.routes.errors import ApiError, language
from api.routes.openapi_errors import ERROR
from archive.fsutil import remove_tree
from archive.store import open_archive
from core.config import read
from core.errors import XunluError
from core.messages import message
from service.importing import ImportRequest, check_input, check_request, import_recording, safe_name
from service.job_queue import RedisJobs
from service.jobs import Job, JobRegistry, ProgressOf
from service.queued import queue_import

log = logging.getLogger("xunlu.web.import")
router = APIRouter(prefix="/api", tags=["import"])
DISK_MARGIN = 512 * 1024 ** 2  # keep this much free beyond the upload (the archive copies it once more)
# the route reads the body itself (request.stream(), any size): FastAPI cannot see it, so it is declared here
UPLOAD_BODY = {"requestBody": {"required": True, "description": "the recording's bytes, as they are",
                               "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                   "format": "binary"}}}}}


FIELDS = frozenset({"filename", "case", "room", "officers", "suspect", "speakers", "started_at", "unit", "check_in",
                    "recorder", "suspect_gender", "suspect_birth", "suspect_id", "suspect_address", "vocabulary",
                    "language", "background"})


def _names(value: Optional[str]) -> tuple[str, ...]:
    """A list as a form gives it: comma-separated (Chinese commas and 、 too) or one a line."""
    return tuple(n.strip() for n in re.split(r"[,，、;；\n]", value or "") if n.strip())


def _text(value: Optional[str]) -> Optional[str]:
    return value.strip() if value and value.strip() else None


async def receive_to(request: Request, folder: Path, filename: str, limit: int) -> Path:
    """Stream the body into `folder/filename`; 413 past `limit`, 400 when the body is short or empty."""
    declared = request.headers.get("content-length")
    expected = None
    if declared is not None:
        try:
            expected = int(declared)
        except ValueError:
            raise ApiError(400, f"bad Content-Length {declared!r}") from None
        if expected > limit:
            raise ApiError(413, f"the file is {expected} bytes; this server accepts at most {limit} bytes")
    free = shutil.disk_usage(folder).free
    if expected is not None and expected + DISK_MARGIN > free // 2:
        raise ApiError(507, f"not enough disk space for a {expected}-byte upload (archive needs about twice "
                            f"that; {free} bytes free)")
    target = folder / filename
    received = 0
    with open(target, "wb") as f:
        try:
            async for chunk in request.stream():
                if not chunk:
                    continue
                received += len(chunk)
                if received > limit:
                    raise ApiError(413, f"the upload is larger than this server's limit of {limit} bytes")
                await anyio.to_thread.run_sync(f.write, chunk)
        except ClientDisconnect:
            raise ApiError(400, f"upload truncated: the connection closed after {received} bytes",
                           "upload_truncated") from None
    if received == 0:
        raise ApiError(400, "empty upload: send the recording as the request body", "upload_empty")
    if expected is not None and received != expected:
        raise ApiError(400, f"upload truncated: got {received} of {expected} bytes", "upload_truncated")
    return target


@router.post("/import", status_code=201, summary="Upload a recording (the body is the file) and import it",
             response_model=SessionRecord, openapi_extra=UPLOAD_BODY,
             responses={202: {"description": "background=true: the upload looks like media; a job to poll",
                              "model": StartedImport},
                        409: ERROR("This recording is already in the archive (`session` names it)"),
                        413: ERROR("The upload is larger than the server's --max-upload-gb"),
                        415: ERROR("Not a recording ffmpeg can read, or sent as a multipart form"),
                        500: ERROR("The server's config.toml is wrong (an administrator must fix it)"),
                        503: ERROR("The speech model cannot be found or loaded"),
                        507: ERROR("Not enough disk space for the upload")})
async def import_upload(request: Request,
                        filename: str = Query(..., min_length=1, max_length=200, description="original name"),
                        case: Optional[str] = Query(None, max_length=200, description="案件编号"),
                        room: Optional[str] = Query(None, max_length=200, description="讯问地点"),
                        officers: Optional[str] = Query(None, max_length=1000, description="讯问人, comma-separated"),
                        suspect: Optional[str] = Query(None, max_length=200, description="被讯问人"),
                        speakers: Optional[str] = Query(None, max_length=1000,
                                                        description="the speaker of each audio channel, in order"),
                        started_at: Optional[str] = Query(None, max_length=40,
                                                          description="when the interview began, ISO 8601"),
                        unit: Optional[str] = Query(None, max_length=200, description="单位 of the officers"),
                        check_in: Optional[str] = Query(None, max_length=40,
                                                        description="when the person arrived in the centre"),
                        recorder: Optional[str] = Query(None, max_length=200, description="记录人"),
                        suspect_gender: Optional[str] = Query(None, max_length=20, description="男, 女 or 未知"),
                        suspect_birth: Optional[str] = Query(None, max_length=20, description="YYYY-MM-DD"),
                        suspect_id: Optional[str] = Query(None, max_length=200, description="身份证件种类及号码"),
                        suspect_address: Optional[str] = Query(None, max_length=500, description="现住址"),
                        vocabulary: Optional[str] = Query(None, max_length=8000,
                                                          description="names and places to expect, comma-separated"),
                        language: Optional[str] = Query(None, max_length=10),
                        background: bool = Query(False, description="202 at once with a job to poll"),
                        who: str = Depends(actor),
                        user: User = Depends(require(policy.can_import, "import recordings"))):
    from fastapi.responses import JSONResponse

    unknown = sorted(set(request.query_params) - FIELDS)
    if unknown:  # a misspelt field would be dropped without a word, and the 笔录 printed without it
        raise ApiError(400, f"unknown field(s) {', '.join(map(repr, unknown))}: an import takes "
                            f"{', '.join(sorted(FIELDS))}", "unknown_field", {"field": ", ".join(unknown)})
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/"):
        raise ApiError(415, "send the file itself as the body (Content-Type: application/octet-stream), "
                            "not a multipart form")
    fields = ImportRequest(input=Path(filename), case_id=case or None, room=_text(room),
                           officers=policy.with_officer(user, _names(officers)), suspect=_text(suspect),
                           speakers=_names(speakers), started_at=_text(started_at), unit=_text(unit),
                           check_in=_text(check_in), recorder=_text(recorder), suspect_gender=_text(suspect_gender),
                           suspect_birth=_text(suspect_birth), suspect_id=_text(suspect_id),
                           suspect_address=_text(suspect_address), vocabulary=_names(vocabulary))
    fields = check_request(fields, language)  # a value that cannot be used: 400 before the upload is taken
    app = request.app
    uploads = app.state.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    folder = uploads / f".up-{os.getpid()}-{secrets.token_hex(8)}"  # the pid: see drop_stale_uploads
    folder.mkdir()
    handed_over = False
    try:
        path = await receive_to(request, folder, safe_name(Path(filename).name), app.state.max_upload)
        req = replace(fields, input=path)
        try:
            queued = isinstance(app.state.jobs, RedisJobs)
            if background or queued:
                await run_in_threadpool(check_input, req, read(app.state.home).limits)  # not media: refused now, not in the job
            if queued:
                job = await run_in_threadpool(_queue_job, app, req, language, who, folder, Path(filename).name)
                handed_over = True
                if not background:  # the answer a synchronous import gives, once a worker has done it
                    return session_answer(request, await run_in_threadpool(_outcome, app, job.job))
            elif background:
                job = _start_job(app, req, language, who, folder, Path(filename).name)
                handed_over = True
            if background:
                return JSONResponse(job.public() | {"status_url": f"/api/import/jobs/{job.job}"}, status_code=202)
            session = await run_in_threadpool(_import, app, req, language, who)
        except XunluError as exc:  # name the upload, not the server's temp folder
            exc.args = (str(exc).replace(str(path), Path(filename).name),) + exc.args[1:]
            if exc.code == "bad_input":  # the page says which file it could not read
                exc.code, exc.params = "bad_upload", {**exc.params, "file": Path(filename).name}
            raise
    finally:
        if not handed_over:
            with contextlib.suppress(OSError):
                remove_tree(folder)
    return session_answer(request, session)


def session_answer(request: Request, session):
    from api.routes.sessions import session_json

    return session_json(request, session)


def _queue_job(app, req: ImportRequest, language: Optional[str], who: str, folder: Path, name: str) -> Job:
    """Keep the upload under the home folder, where a worker on the same shared path reads it, and queue the
    import. The folder no longer carries this process's pid: a server restart leaves it to its job."""
    return queue_import(app.state.home, app.state.jobs, req, language, who, name=name, move_from=folder)


def _outcome(app, job_id: str):
    """Wait for a queued import; its session, or its failure as the synchronous import would have raised it."""
    jobs: RedisJobs = app.state.jobs
    job = jobs.wait(job_id)
    if job.state == "done":
        with contextlib.closing(open_archive(app.state.home)) as archive:
            return archive.get(job.session)
    raise ApiError(job.status or 500, job.detail or "the import failed", job.code, job.params)


def _start_job(app, req: ImportRequest, language: Optional[str], who: str, folder: Path, name: str) -> Job:
    def work(job: Job):
        return _import(app, req, language, who, on_session=lambda sid: setattr(job, "session", sid),
                       say=lambda m: setattr(job, "stage", m),
                       progress=ProgressOf(lambda fraction: setattr(job, "progress", fraction)))

    jobs: JobRegistry = app.state.jobs
    return jobs.start(who, work, cleanup=lambda: remove_tree(folder), target=name,
                      describe=lambda exc: str(exc).replace(str(req.input), name))


@router.get("/import/jobs/{job}", summary="The state of a background import (background=true); its starter only",
            response_model=ImportJob)
def import_job(job: str, request: Request, user: User = Depends(require(policy.can_import, "import recordings"))):
    found = request.app.state.jobs.get(job)
    if found is None or found.kind != "import":
        kept = "in the job queue" if isinstance(request.app.state.jobs, RedisJobs) else "until the server restarts"
        raise ApiError(404, f"no import job {job!r} (jobs are kept {kept})", "unknown_job")
    if found.owner != user.actor:
        deny(request, user, f"import job {job} was started by someone else", f"import/{job}")
    answer = found.public()
    if found.code:  # a failure, in words for the page (api/routes/errors.py)
        answer["message"] = message(found.code, language(request), **found.params)
    return answer


def _import(app, req: ImportRequest, language: Optional[str], who: str, on_session=lambda _sid: None,
            say=lambda _m: None, progress=None):
    def said(message: str) -> None:
        log.info("import: %s", message)
        say(message)

    with contextlib.closing(open_archive(app.state.home)) as archive:
        return import_recording(app.state.home, archive, req, lambda: transcriber_of(app), language, who,
                                say=said, progress=progress, on_session=on_session)
