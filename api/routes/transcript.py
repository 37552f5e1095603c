"""Transcripts: the latest or any version, the list of versions, a diff, and corrections (a new version)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.auth.deps import client_address, session_access
from api.routes.answers import Transcript, TranscriptVersion
from api.routes.deps import actor, get_archive
from api.routes.openapi_errors import ERROR
from api.routes.record_answers import Corrections, SideBySide
from archive import transcripts
from archive.store import Archive
from service.corrections import correct

router = APIRouter(prefix="/api/sessions/{sid}/transcript", tags=["transcript"])
VIEW, EDIT = session_access("view"), session_access("edit")


class EditBody(BaseModel):
    changes: dict[int, str] = Field(..., description="segment id -> corrected text", min_length=1)
    reason: str = Field(..., min_length=1, max_length=500, description="why (kept with the version)")
    base_version: Optional[int] = Field(None, description="the version the corrections were made on; "
                                                          "refused if another version was saved since")


@router.get("", summary="A transcript version as JSON (latest by default)", response_model=Transcript)
def get_transcript(sid: str, request: Request, version: Optional[int] = Query(None, ge=1),
                   archive: Archive = Depends(get_archive), who: str = Depends(actor), _=Depends(VIEW)):
    transcript = transcripts.read_version(archive, sid, version)
    archive.audit(who, "transcript.view", sid, {"version": transcript.version, "address": client_address(request)})
    return transcript.to_dict()


@router.get("/versions", summary="Every version with author, time, kind and reason",
            response_model=list[TranscriptVersion])
def versions(sid: str, request: Request, archive: Archive = Depends(get_archive), who: str = Depends(actor),
             _=Depends(VIEW)):
    found = archive.get(sid).transcripts
    archive.audit(who, "transcript.versions", sid, {"versions": len(found), "address": client_address(request)})
    return [asdict(t) for t in found]


@router.get("/diff", summary="What changed between two versions: a unified diff (one line per segment) and "
                             "the changed lines side by side", response_model=SideBySide)
def diff(sid: str, request: Request, a: int = Query(..., ge=1), b: int = Query(..., ge=1),
         archive: Archive = Depends(get_archive), who: str = Depends(actor), _=Depends(VIEW)):
    from service.versions import side_by_side

    text = transcripts.diff(archive, sid, a, b)
    rows = side_by_side(transcripts.read_version(archive, sid, a), transcripts.read_version(archive, sid, b))
    archive.audit(who, "transcript.diff", sid, {"a": a, "b": b, "address": client_address(request)})
    return {"session": sid, "a": a, "b": b, "diff": text, "rows": rows}


@router.get("/corrections", summary="The lines of a version (latest by default) that differ from what the "
                                    "speech recognition wrote", response_model=Corrections)
def corrections(sid: str, request: Request, version: Optional[int] = Query(None, ge=1),
                archive: Archive = Depends(get_archive), who: str = Depends(actor), _=Depends(VIEW)):
    from service.versions import corrected

    found = corrected(archive, sid, version)
    archive.audit(who, "transcript.corrections", sid, {"version": found["version"], "lines": len(found["lines"]),
                                                       "address": client_address(request)})
    return found


@router.patch("", status_code=201, summary="Correct segments' text; saved as a new version, old ones kept",
              response_model=TranscriptVersion,
              responses={409: ERROR("The session is still being recorded, or another version was saved since "
                                    "base_version"),
                         507: ERROR("The disk is full")})
def edit(sid: str, body: EditBody, request: Request, archive: Archive = Depends(get_archive),
         who: str = Depends(actor), session=Depends(EDIT)):
    version = correct(request.app.state.home, archive, sid, body.changes, who, body.reason, body.base_version)
    return asdict(version)
