"""Media: a session's recording with HTTP Range (RFC 9110: 206, multipart/byteranges, 416, If-Range),
and the live HLS playlist and segments while a session is being recorded."""
from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path
from typing import Iterator, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from api import live_playlist
from api.auth.deps import audit_media, current_login, session_access
from api.http_range import ByteRange, http_date, ranges_for
from api.routes.deps import get_archive
from api.routes.errors import ApiError
from api.routes.openapi_errors import ERROR
from archive.store import Archive
from archive.types import NotFound

router = APIRouter(prefix="/api/sessions/{sid}", tags=["media"], dependencies=[Depends(session_access("view"))])
CHUNK = 256 * 1024
PLAYLIST_POLL_S = 0.03   # how often a blocking playlist request looks for the segment it waits for
LIVE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.(m3u8|ts|m4s|mp4|aac)$")
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".m4s": "video/iso.segment",
         ".mp4": "video/mp4", ".aac": "audio/aac", ".wav": "audio/wav", ".m4a": "audio/mp4",
         ".mp3": "audio/mpeg", ".mkv": "video/x-matroska", ".flac": "audio/flac"}
# How the document describes these answers (the routes send files, not JSON: response_class=Response keeps
# FastAPI from announcing a JSON body): each type a file can be sent as; a HEAD answer has no body.
BINARY = {"schema": {"type": "string", "format": "binary"}}
FILE_TYPES = {t: BINARY for t in sorted(set(TYPES.values()) | {"application/octet-stream"})}
MEDIA_ERRORS = {410: ERROR("The session's media file is missing from the archive (run xunlu verify)"),
                416: ERROR("Range not satisfiable; Content-Range gives the size")}
PARTIAL = "Partial content: the byte range(s) asked for with Range"
MEDIA_ANSWERS = {200: {"content": FILE_TYPES},
                 206: {"description": PARTIAL, "content": {**FILE_TYPES, "multipart/byteranges": BINARY}},
                 **MEDIA_ERRORS}
MEDIA_HEAD_ANSWERS = {206: {"description": PARTIAL}, **MEDIA_ERRORS}
# read from request.headers by ranged_file (not parameters of the route, which would only pass them on)
RANGE_HEADERS = {"parameters": [
    {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "bytes=first-last[, ...] (RFC 9110): 206, or 416 when none can be served"},
    {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "the ETag or Last-Modified seen before: the range only if unchanged"}]}


def inside(path: Path, folder: Path) -> bool:
    """`path` is no symlink and really lies under `folder` (nothing reached through a link)."""
    try:
        return not path.is_symlink() and path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def content_type(path: Path) -> str:
    """An audio or video type by the file's suffix, else octet-stream: never a type a browser renders as a
    document (an original named evidence.html is still bytes to download)."""
    return TYPES.get(path.suffix.lower(), "application/octet-stream")


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            block = f.read(min(CHUNK, left))
            if not block:
                return  # the file shrank: the client sees a short body and retries
            left -= len(block)
            yield block


def _multipart(path: Path, ranges: tuple[ByteRange, ...], size: int, ctype: str,
               boundary: str) -> tuple[Iterator[bytes], int]:
    heads = [f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: {r.content_range(size)}\r\n\r\n".encode()
             for r in ranges]
    tail = f"\r\n--{boundary}--\r\n".encode()
    total = sum(len(h) + r.length for h, r in zip(heads, ranges)) + 2 * (len(ranges) - 1) + len(tail)

    def body() -> Iterator[bytes]:
        for i, (head, r) in enumerate(zip(heads, ranges)):
            yield (b"\r\n" if i else b"") + head
            yield from _read(path, r.start, r.length)
        yield tail

    return body(), total


def ranged_file(request: Request, path: Path, etag: str) -> Response:
    """Serve `path` honouring Range and If-Range; HEAD gets the same headers and no body."""
    stat = path.stat()
    size = stat.st_size
    last_modified = http_date(stat.st_mtime)
    ctype = content_type(path)
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Last-Modified": last_modified,
               "Cache-Control": "private, no-cache"}
    if ctype == "application/octet-stream":
        headers["Content-Disposition"] = "attachment"
    ranges = ranges_for(request.headers.get("range"), request.headers.get("if-range"), size, etag, last_modified)
    head = request.method == "HEAD"
    if ranges is None:
        headers["Content-Length"] = str(size)
        if head:
            return Response(status_code=200, headers=headers, media_type=ctype)
        return StreamingResponse(_read(path, 0, size), status_code=200, headers=headers, media_type=ctype)
    if len(ranges) == 1:
        r = ranges[0]
        headers.update({"Content-Range": r.content_range(size), "Content-Length": str(r.length)})
        if head:
            return Response(status_code=206, headers=headers, media_type=ctype)
        return StreamingResponse(_read(path, r.start, r.length), status_code=206, headers=headers,
                                 media_type=ctype)
    boundary = secrets.token_hex(12)
    body, total = _multipart(path, ranges, size, ctype, boundary)
    headers["Content-Length"] = str(total)
    mtype = f"multipart/byteranges; boundary={boundary}"
    if head:
        return Response(status_code=206, headers=headers, media_type=mtype)
    return StreamingResponse(body, status_code=206, headers=headers, media_type=mtype)


@router.head("/media", operation_id="media_head", summary="Headers of the recording (size, validators)",
             response_class=Response, responses=MEDIA_HEAD_ANSWERS, openapi_extra=RANGE_HEADERS)
@router.get("/media", summary="The recording, with HTTP Range for seeking", response_class=Response,
            responses=MEDIA_ANSWERS, openapi_extra=RANGE_HEADERS)
def media(sid: str, request: Request, role: Optional[str] = Query(None, pattern="^(playable|original|pip|video[2-9])$"),
          archive: Archive = Depends(get_archive)):
    session = archive.get(sid)
    chosen = session.file(role) if role else (session.file("playable") or session.file("original"))
    if chosen is None:
        what = f"no {role} media" if role else "no media yet"
        hint = " (it is being recorded: watch it live)" if session.status == "recording" else ""
        raise NotFound(f"session {sid} has {what}{hint}")
    folder = archive.folder(sid)
    path = folder / chosen.path
    if not path.is_file():
        raise ApiError(410, f"the media file of {sid} is missing from the archive; run xunlu verify", "media_missing")
    if not inside(path, folder):
        raise ApiError(403, f"the media file of {sid} points outside its session folder; run xunlu verify")
    audit_media(request, current_login(request), sid, chosen.role)
    return ranged_file(request, path, f'"{chosen.sha256[:32]}"')


@router.head("/live/{name}", operation_id="live_file_head", summary="Headers of a live file",
             response_class=Response)
@router.get("/live/{name}", summary="Live HLS playlist and segments; the playlist is the newest segments and "
            "answers `_HLS_msn=N` once segment N is listed (blocking reload)", response_class=Response,
            responses={200: {"content": FILE_TYPES}})
async def live_file(sid: str, name: str, request: Request, archive: Archive = Depends(get_archive),
                    hls_msn: Optional[str] = Query(None, alias="_HLS_msn", max_length=20,
                                                   description="answer once this segment is listed")):
    if not LIVE_NAME.match(name):
        raise ApiError(400, f"not a live playlist or segment name: {name!r}")
    path = archive.paths(sid).live / name
    if not path.is_file() or not inside(path, path.parent):
        await asyncio.to_thread(archive.get, sid)  # 404 for an unknown session first
        raise NotFound(f"session {sid} has no live file {name} (not recording, or not yet written)")
    ctype = content_type(path)
    if name.endswith(".m3u8"):
        try:
            msn = live_playlist.msn_of(hls_msn)
        except live_playlist.BadDirective as exc:
            raise ApiError(400, str(exc)) from None
        await asyncio.to_thread(audit_media, request, current_login(request), sid, "live")
        text = await _playlist_when(path, msn)
        return Response(text, media_type=ctype, headers={"Cache-Control": "no-cache, no-store"})
    stat = path.stat()
    return FileResponse(path, media_type=ctype, headers={"Cache-Control": "private, max-age=3600"},
                        stat_result=os.stat_result(stat))


async def _playlist_when(path: Path, msn: Optional[int]) -> str:
    """The viewer's playlist once it lists segment `msn` (or the recording ended); after three target
    durations without it, as it is (RFC 8216bis 6.2.5.2)."""
    loop = asyncio.get_running_loop()
    started, seen, text = loop.time(), None, ""
    while True:
        try:
            st = path.stat()
            if (st.st_mtime_ns, st.st_size) != seen:
                seen = (st.st_mtime_ns, st.st_size)
                text = await asyncio.to_thread(path.read_text, "utf-8", "replace")
        except OSError:   # the recording was just closed and its working files removed
            if text:
                break
            raise NotFound(f"no live playlist at {path.parent.parent.name}") from None
        playlist = live_playlist.parse(text)
        if live_playlist.ready(playlist, msn) or loop.time() - started > 3 * max(playlist.target, 1.0):
            break
        await asyncio.sleep(PLAYLIST_POLL_S)
    return live_playlist.for_viewer(text)
