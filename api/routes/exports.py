"""Exports: the DOCX 讯问笔录 for signature, its PDF and print view, subtitles (SRT, WebVTT), text and JSON."""
from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth.deps import client_address, session_access
from api.routes.answers import Transcript
from api.routes.deps import actor, get_archive
from api.routes.openapi_errors import ERROR
from api.routes.record_answers import Record
from archive.store import Archive
from asr.types import FORMATS
from service.exporting import RECORD_FORMATS

router = APIRouter(prefix="/api/sessions/{sid}", tags=["exports"], dependencies=[Depends(session_access("view"))])
EXPORTS = FORMATS + RECORD_FORMATS
MEDIA_TYPES = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               "pdf": "application/pdf",
               "srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8",
               "txt": "text/plain; charset=utf-8", "json": "application/json; charset=utf-8"}
# the 200 answer in the document: the file in each format's type, json as the transcript's schema
EXPORTED = {200: {"description": "The transcript in the format asked for", "model": Transcript,
                  "content": {t.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                              for f, t in MEDIA_TYPES.items() if f != "json"}}}


@router.get("/export", summary="Download the transcript as docx or pdf (笔录), srt, vtt, txt or json",
            response_class=Response,
            responses={**EXPORTED, 503: ERROR("PDF: this server has no Chromium to print with (use the print view)")})
def export(sid: str, request: Request, format: str = Query("docx", pattern="^(" + "|".join(EXPORTS) + ")$"),
           version: Optional[int] = Query(None, ge=1), download: bool = True,
           archive: Archive = Depends(get_archive), who: str = Depends(actor)):
    from archive.transcripts import read_version
    from service.exporting import export as render

    number = read_version(archive, sid, version).version
    data = render(archive, sid, format, number, who, {"address": client_address(request)})
    body = data.encode("utf-8") if isinstance(data, str) else data
    name = f"{sid}-v{number}.{format}"
    label = f"{sid}-v{number}-笔录.{format}" if format in ("docx", "pdf") else name
    disposition = "attachment" if download else "inline"
    headers = {"Content-Disposition": f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{quote(label)}"}
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)


@router.get("/record", summary="The 讯问笔录 as the print view shows it: header, rights notice as read, turns, "
                               "closing statement, signature lines, and its signing", response_model=Record)
def record(sid: str, request: Request, version: Optional[int] = Query(None, ge=1),
           archive: Archive = Depends(get_archive), who: str = Depends(actor)):
    from service.record import record as content

    return content(archive, sid, version, who, {"address": client_address(request)})
