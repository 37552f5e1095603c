"""Receiving a finished session from a room recorder on another machine (`xunlu push SESSION --to URL`):
begin, send each file in chunks at the offset the centre has (resumable), commit. The work is
service/receive.py's; these routes only parse, authorise (an account that may import: an officer, or an
admin as batch operator) and map errors."""
from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from accounts import policy
from accounts.types import User
from api.auth.deps import require
from api.routes.deps import actor
from api.routes.errors import ApiError
from api.routes.openapi_errors import ERROR
from archive.store import open_archive
from service import receive

router = APIRouter(prefix="/api/push", tags=["push"])
UPLOAD = Path(..., pattern=r"^[0-9a-f]{32}$", description="the upload's id, as `POST /api/push` answered")
CHUNK_BODY = {"requestBody": {"required": True, "description": "the next bytes of the file",
                              "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                  "format": "binary"}}}}}


class PushBegin(BaseModel):
    origin: str = Field("", max_length=200, description="the room recorder (its name or address)")
    manifest: dict[str, Any] = Field(..., description="the session's record as its manifest.json has it")
    files: list[dict[str, Any]] = Field(..., max_length=receive.MAX_FILES,
                                        description="[{path, sha256, size}] of every media and transcript file")


@router.post("", summary="Begin (or resume) pushing a finished session to this centre",
             responses={400: ERROR("The list of files does not match the session's manifest"),
                        507: ERROR("Not enough disk space")})
def begin(body: PushBegin, request: Request, who: str = Depends(actor),
          _: User = Depends(require(policy.can_import, "push a session"))):
    with contextlib.closing(open_archive(request.app.state.home)) as archive:
        return receive.begin(request.app.state.home, archive, who, body.origin, body.manifest, body.files).to_dict()


@router.put("/{upload}/files/{index}", summary="The next chunk of one file of a push, at the offset received",
            openapi_extra=CHUNK_BODY,
            responses={409: ERROR("The centre has another offset of this file (the answer says which)"),
                       413: ERROR("The chunk is larger than 16 MiB")})
async def chunk(request: Request, upload: str = UPLOAD, index: int = Path(..., ge=0, le=receive.MAX_FILES),
                offset: int = Query(..., ge=0), _: User = Depends(require(policy.can_import, "push a session"))):
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > receive.MAX_CHUNK):
        raise ApiError(413, f"a chunk is at most {receive.MAX_CHUNK} bytes", "too_large")
    try:
        data = await request.body()
    except ClientDisconnect:
        raise ApiError(400, "the chunk was cut off", "upload_truncated") from None
    if len(data) > receive.MAX_CHUNK:
        raise ApiError(413, f"a chunk is at most {receive.MAX_CHUNK} bytes", "too_large")
    received = await run_in_threadpool(receive.receive, request.app.state.home, upload, index, offset, iter([data]))
    return {"received": received}


@router.post("/{upload}/commit", summary="Check every file's SHA-256 and add the session to the catalog",
             responses={400: ERROR("A file is incomplete or not what the list says (nothing was added)")})
def commit(request: Request, upload: str = UPLOAD, who: str = Depends(actor),
           _: User = Depends(require(policy.can_import, "push a session"))):
    with contextlib.closing(open_archive(request.app.state.home)) as archive:
        sid = receive.commit(request.app.state.home, archive, who, upload)
    return {"upload": upload, "session": sid, "state": "complete"}
