"""Import a recording made elsewhere: the request body is the file, streamed to disk (any size), then
kept byte for byte, hashed, made playable, transcribed and indexed like `xunlu import`.

    curl --data-binary @room2.mp4 -H 'Content-Type: application/octet-stream' \
         'http://127.0.0.1:8000/api/import?filename=room2.mp4&case=A123'

The answer comes when the import is done (201, the session). With `background=true` it comes as soon as the
upload is received and looks like media (202, a job to poll at /api/import/jobs/{job}): long recordings
take minutes to transcribe, longer than a proxy in front of the server may wait.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import anyio
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.auth import policy
from api.auth.deps import deny, require
from api.auth.types import User
from api.routes.deps import actor, transcriber_of
from api.routes.errors import ApiError
from api.routes.openapi_errors import ERROR
from archive.fsutil import remove_tree
from archive.types import ArchiveError
from asr.errors import XunluError

log = logging.getLogger("xunlu.web.import")
router = APIRouter(prefix="/api", tags=["import"])
DISK_MARGIN = 512 * 1024 ** 2  # keep this much free beyond the upload (the archive copies it once more)
KEEP_JOBS = 200
SID = re.compile(r"s-\d{8}-\d{4,}")


@dataclass
class ImportJob:
    job: str
    state: str = "importing"          # importing, complete or failed
    session: Optional[str] = None     # known once the original is being kept
    status: Optional[int] = None      # the HTTP status a synchronous import would have answered
    detail: Optional[str] = None
    owner: str = field(default="", repr=False)   # the actor who started it: only they may poll it

    def public(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "owner"}


def _names(value: Optional[str]) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


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
            raise ApiError(400, f"upload truncated: the connection closed after {received} bytes") from None
    if received == 0:
        raise ApiError(400, "empty upload: send the recording as the request body")
    if expected is not None and received != expected:
        raise ApiError(400, f"upload truncated: got {received} of {expected} bytes")
    return target


@router.post("/import", status_code=201, summary="Upload a recording (the body is the file) and import it",
             responses={202: {"description": "background=true: the upload looks like media; a job to poll"},
                        409: ERROR("This recording is already in the archive (`session` names it)"),
                        413: ERROR("The upload is larger than the server's --max-upload-gb"),
                        415: ERROR("Not a recording ffmpeg can read, or sent as a multipart form"),
                        507: ERROR("Not enough disk space for the upload")})
async def import_upload(request: Request,
                        filename: str = Query(..., min_length=1, max_length=200, description="original name"),
                        case: Optional[str] = Query(None, max_length=200),
                        room: Optional[str] = Query(None, max_length=200),
                        officers: Optional[str] = Query(None, max_length=1000, description="comma-separated"),
                        suspect: Optional[str] = Query(None, max_length=200),
                        speakers: Optional[str] = Query(None, max_length=1000, description="channel names"),
                        started_at: Optional[str] = Query(None, max_length=40),
                        language: Optional[str] = Query(None, max_length=10),
                        background: bool = Query(False, description="202 at once with a job to poll"),
                        who: str = Depends(actor),
                        user: User = Depends(require(policy.can_import, "import recordings"))):
    from fastapi.responses import JSONResponse

    from api.importing import ImportRequest, _safe_name, check_input

    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/"):
        raise ApiError(415, "send the file itself as the body (Content-Type: application/octet-stream), "
                            "not a multipart form")
    app = request.app
    uploads = app.state.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    folder = uploads / f".up-{os.getpid()}-{secrets.token_hex(8)}"  # the pid: see drop_stale_uploads
    folder.mkdir()
    handed_over = False
    try:
        path = await receive_to(request, folder, _safe_name(Path(filename).name), app.state.max_upload)
        req = ImportRequest(input=path, case_id=case or None, room=room or None, officers=policy.with_officer(user, _names(officers)),
                            suspect=suspect or None, speakers=_names(speakers), started_at=started_at)
        try:
            if background:
                await run_in_threadpool(check_input, req)  # not media: refused now, not in the job
                job = _start_job(app, req, language, who, folder, Path(filename).name)
                handed_over = True
                return JSONResponse(job.public() | {"status_url": f"/api/import/jobs/{job.job}"}, status_code=202)
            session = await run_in_threadpool(_import, app, req, language, who)
        except (XunluError, ArchiveError) as exc:  # name the upload, not the server's temp folder
            exc.args = (str(exc).replace(str(path), Path(filename).name),) + exc.args[1:]
            raise
    finally:
        if not handed_over:
            with contextlib.suppress(OSError):
                remove_tree(folder)
    from api.routes.sessions import session_json

    return session_json(request, session)


def _start_job(app, req, language: Optional[str], who: str, folder: Path, name: str) -> ImportJob:
    from api.routes.errors import status_of

    jobs = _jobs(app)
    job = ImportJob(secrets.token_hex(8), owner=who)
    jobs[job.job] = job
    for old in list(jobs)[:-KEEP_JOBS]:
        if jobs[old].state != "importing":
            del jobs[old]

    def said(message: str) -> None:
        found = SID.search(message)
        if found and job.session is None:
            job.session = found.group(0)

    def run() -> None:
        try:
            session = _import(app, req, language, who, said)
            job.session, job.status, job.state = session.id, 201, "complete"
        except BaseException as exc:  # the job reports it; the session (if any) is marked failed
            job.status = status_of(exc)
            job.detail = (str(exc) or type(exc).__name__).replace(str(req.input), name)
            job.state = "failed"
            if job.status == 500:
                log.exception("import job %s failed", job.job)
        finally:
            with contextlib.suppress(OSError):
                remove_tree(folder)

    threading.Thread(target=run, name=f"import-{job.job}", daemon=True).start()
    return job


def _jobs(app) -> dict[str, ImportJob]:
    if not hasattr(app.state, "import_jobs"):
        app.state.import_jobs = {}
    return app.state.import_jobs


@router.get("/import/jobs/{job}", summary="The state of a background import (background=true); its starter only")
def import_job(job: str, request: Request, user: User = Depends(require(policy.can_import, "import recordings"))):
    found = _jobs(request.app).get(job)
    if found is None:
        raise ApiError(404, f"no import job {job!r} (jobs are kept until the server restarts)")
    if found.owner != user.actor:
        deny(request, user, f"import job {job} was started by someone else", f"import/{job}")
    return found.public()


def _import(app, req, language: Optional[str], who: str, say: Callable[[str], None] = lambda _m: None):
    from api.config import load_config
    from api.importing import check_input, import_file
    from api.indexing import index_session
    from archive.store import open_archive
    from asr.engine import check_language, collect
    from asr.types import TranscribeOptions

    lang = check_language(language or load_config(app.state.home).language)
    check_input(req)  # not media, truncated, wrong speaker count: refused before the model is loaded
    transcriber = transcriber_of(app)

    def transcribe(path: Path, names):
        segments, info = transcriber.transcribe(str(path), TranscribeOptions(language=lang, speakers=tuple(names)))
        return collect(segments, info)

    with contextlib.closing(open_archive(app.state.home)) as archive:
        def progress(message: str) -> None:
            log.info("import: %s", message)
            say(message)

        session = import_file(archive, req, transcribe, who, progress)
        try:
            index_session(app.state.home, archive, session.id)
        except Exception as exc:
            log.warning("%s imported but not yet searchable: %s", session.id, exc)
        return session


def drop_stale_uploads(home: Path) -> list[str]:
    """Remove upload folders left by a server process that is gone (killed during an upload or a background
    import): nothing will finish them, and each holds a whole recording. Returns their names."""
    dropped = []
    for folder in (Path(home) / "uploads").glob(".up-*"):
        pid = folder.name.split("-")[1] if folder.name.count("-") == 2 else ""
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                continue  # its server is still running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        remove_tree(folder)
        dropped.append(folder.name)
    return dropped
