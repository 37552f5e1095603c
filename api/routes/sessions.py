"""Sessions: list, detail, one-key start of a live recording, stop, markers ("bookmark this moment")."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Optional, Union

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from accounts import policy
from accounts.types import User
from api.auth.deps import client_address, require, session_access
from api.routes.answers import Marker, Rooms, SessionRecord
from api.routes.deps import actor, get_archive, transcriber_of
from api.routes.errors import ApiError
from api.routes.openapi_errors import ERROR
from api.routes.record_answers import SessionDetail
from api.routes.session_watch import session_watch
from archive.layout import SessionPaths
from archive.store import Archive, open_archive
from archive.types import STATUSES, Session
from service.sources import choose

log = logging.getLogger("xunlu.web.sessions")
router = APIRouter(prefix="/api", tags=["sessions"])


class StartBody(BaseModel):
    room: Optional[str] = Field(None, max_length=200, description="Interview room (讯问地点)")
    case_id: Optional[str] = Field(None, max_length=200, description="Case id (案件编号)")
    officers: Union[list[str], str] = Field(default_factory=list, description="Officers (讯问人)")
    suspect: Optional[str] = Field(None, max_length=200, description="Person questioned (被讯问人)")
    speakers: Union[list[str], str] = Field(default_factory=list, description="Names of the audio channels")
    vocabulary: Union[list[str], str] = Field(default_factory=list, description="Names and places the recognition "
                                              "should expect (热词), besides the suspect, officers, room and case")
    audio: Optional[str] = Field(None, max_length=1000, description="A microphone from GET /api/devices, or "
                                 "'test' (default: the room's, else the server's)")
    video: Optional[str] = Field(None, max_length=1000, description="A camera from GET /api/devices, or 'test' "
                                 "(default: the room's, else the server's)")
    language: Optional[str] = Field(None, max_length=10)
    duration: Optional[float] = Field(None, gt=0, le=7 * 24 * 3600)
    clock: bool = False
    realtime: bool = True
    video_delay: Optional[float] = Field(None, ge=-5, le=5, description="Seconds a separate camera's picture "
                                         "lags the microphone (default: the server's --video-delay)")


class HeaderBody(BaseModel):
    """The 讯问笔录's header fields beyond the recording; a field left out stays as it is, "" clears it."""

    recorder: Optional[str] = Field(None, max_length=200, description="记录人")
    suspect_gender: Optional[str] = Field(None, max_length=20, description="男, 女 or 未知")
    suspect_birth: Optional[str] = Field(None, max_length=20, description="出生日期, YYYY-MM-DD")
    suspect_id: Optional[str] = Field(None, max_length=200, description="身份证件种类及号码")
    suspect_address: Optional[str] = Field(None, max_length=500, description="现住址")


class MarkerBody(BaseModel):
    at: Optional[float] = Field(None, ge=0, description="Seconds from the start (default: now, while live)")
    label: str = Field("", max_length=500)


def _names(value: Union[list[str], str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    names = tuple(n.strip() for n in items if n and n.strip())
    for n in names:
        if len(n) > 100:
            raise ApiError(400, f"name too long: {n[:20]}...", "name_too_long")
    return names


def session_json(request: Request, session: Session) -> dict[str, Any]:
    d = session.to_dict()
    live = request.app.state.live.get_live(session.id)
    media = session.file("playable") or session.file("original")
    d["live"] = live is not None
    d["media_url"] = f"/api/sessions/{session.id}/media" if media else None
    playlist = SessionPaths.of(request.app.state.home, session.id).playlist
    d["hls_url"] = f"/api/sessions/{session.id}/live/{playlist.name}" if playlist.is_file() else None
    d["latest_version"] = session.latest.version if session.latest else None
    return d


@router.get("/sessions", summary="List sessions, newest first", response_model=list[SessionRecord])
def list_sessions(request: Request, case: Optional[str] = None, status: Optional[str] = None,
                  limit: int = Query(200, ge=1, le=5000), archive: Archive = Depends(get_archive),
                  user: User = Depends(require(policy.can_list_sessions, "list sessions"))):
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"unknown status {status!r}: use one of {', '.join(STATUSES)}", "unknown_status")
    sessions = policy.visible(user, archive.list(case_id=case, status=status))
    sessions.sort(key=lambda s: (s.started_at or s.created_at, s.id), reverse=True)
    shown = sessions[:limit]
    archive.audit(user.actor, "session.list", "*", {"case": case, "status": status, "sessions": len(shown),
                                                    "address": client_address(request)})
    return [session_json(request, s) for s in shown]


@router.get("/sessions/{sid}", summary="One session: record, files, versions, live state, the 笔录's signing",
            response_model=SessionDetail)
def get_session(sid: str, request: Request, archive: Archive = Depends(get_archive), who: str = Depends(actor),
                session: Session = Depends(session_access("view"))):
    from service.multicam import views
    from service.record import signature

    archive.audit(who, "session.view", sid, {"address": client_address(request)})
    shown = [{**v, "url": f"/api/sessions/{sid}/media?role={v['role']}"} for v in views(archive, session)]
    return {**session_json(request, session), "signature": signature(archive, sid).to_dict(), "views": shown}


@router.post("/sessions/{sid}/record-header", summary="Complete the 讯问笔录's header: 记录人 and the person's "
             "identity (officers who took part; not once it is signed)", response_model=SessionDetail,
             responses={409: ERROR("The 笔录 was confirmed signed: its header cannot change")})
def set_record_header(sid: str, body: HeaderBody, request: Request, archive: Archive = Depends(get_archive),
                      who: str = Depends(actor), _: Session = Depends(session_access("stop"))):
    from service.record import set_header, signature

    session = set_header(archive, sid, who, body.model_dump())
    return {**session_json(request, session), "signature": signature(archive, sid).to_dict()}


def _video_delay(body: StartBody, audio: Optional[str], video: Optional[str], defaults: dict) -> float:
    """The request's camera delay; else the server's, for a recording with a camera apart from its
    microphone (one source carrying both keeps its own sync, and a delay is refused there)."""
    if body.video_delay is not None:
        return body.video_delay
    return float(defaults.get("video_delay", 0.0)) if audio and video and audio != video else 0.0


def _default_language(defaults: dict) -> str:
    """The server's language for a start that names none; `auto` (a server started so) cannot be used live."""
    language = str(defaults.get("language") or "zh")
    if language == "auto":
        raise ApiError(400, "no language given, and the server's default language is auto, which live "
                            "transcription cannot use: send language (zh or en), or start the server with a "
                            "language", "default_language_auto")
    return language


def _vocabulary(given: Union[list[str], str]) -> tuple[str, ...]:
    from asr import vocabulary

    words = vocabulary.parse(given) if isinstance(given, str) else vocabulary.tidy(given)
    if len(words) < len([w for w in (given if isinstance(given, list) else []) if w and w.strip()]):
        raise ApiError(400, f"too many words in the vocabulary: at most {vocabulary.MAX_WORDS} words, "
                            f"{vocabulary.MAX_CHARS} characters in all", "bad_field",
                       {"field": "热词", "name": "vocabulary",
                        "value": f"at most {vocabulary.MAX_WORDS} words / 最多{vocabulary.MAX_WORDS}个"})
    return words


@router.post("/sessions", status_code=201, summary="One-key start: audio, video and transcription together",
             response_model=SessionRecord,
             responses={500: ERROR("The server's config.toml is wrong (an administrator must fix it)"),
                        503: ERROR("The speech model cannot be found or loaded"),
                        507: ERROR("The disk is full")})
def start_session(body: StartBody, request: Request, who: str = Depends(actor),
                  user: User = Depends(require(policy.can_record, "start a recording"))):
    app = request.app
    defaults = app.state.defaults
    audio, video, room_speakers = choose(app.state.home, defaults, body.room, body.audio, body.video)
    if not audio and not video:
        raise ApiError(400, "no source to record: choose a room with devices, a microphone or camera from "
                            "GET /api/devices, or the test signal", "no_source")
    backend = app.state.live
    request_type = backend.request_type()
    req = request_type(audio=audio, video=video, duration=body.duration, case_id=body.case_id, room=body.room,
                       officers=policy.with_officer(user, _names(body.officers)),
                       suspect=body.suspect, speakers=_names(body.speakers) or _names(room_speakers or ""),
                       language=body.language or _default_language(defaults), clock=body.clock,
                       realtime=body.realtime, video_delay=_video_delay(body, audio, video, defaults),
                       vocabulary=_vocabulary(body.vocabulary))
    transcriber = transcriber_of(app)
    archive = open_archive(app.state.home)  # owned by the live session for as long as it runs
    try:
        live = backend.start_live(app.state.home, archive, req, transcriber, who)
    except BaseException:
        archive.close()
        raise
    log.info("live session %s started by %s", live.session_id, who)
    session_watch(app).changed()   # pages listing the sessions hear of it at once
    with contextlib.closing(open_archive(app.state.home)) as a:
        return session_json(request, a.get(live.session_id))


@router.post("/sessions/{sid}/stop", summary="Stop a live session: media joined, transcript v1 frozen",
             response_model=SessionRecord,
             responses={409: ERROR("The session is not being recorded here (finished, or recorded by another "
                                   "process)")})
def stop_session(sid: str, request: Request, archive: Archive = Depends(get_archive), who: str = Depends(actor),
                 _: Session = Depends(session_access("stop"))):
    session = archive.get(sid)
    live = request.app.state.live.get_live(sid)
    if live is None:
        if session.status == "recording":
            raise ApiError(409, f"session {sid} is being recorded by another process (xunlu record): stop it "
                                "there", "recording_elsewhere")
        raise ApiError(409, f"session {sid} is not being recorded (status: {session.status})", "not_recording")
    live.stop()
    archive.audit(who, "session.stop.request", sid)
    session_watch(request.app).changed()
    return session_json(request, archive.get(sid))


@router.post("/sessions/{sid}/markers", status_code=201, summary="Bookmark a moment (kept in the audit trail)",
             response_model=Marker)
def add_marker(sid: str, body: MarkerBody, request: Request, archive: Archive = Depends(get_archive),
               who: str = Depends(actor), session: Session = Depends(session_access("view"))):
    at = body.at
    if at is None:
        live = request.app.state.live.get_live(sid)
        if live is None:
            raise ApiError(400, "give the time of the marker (at, in seconds): the session is not live",
                           "marker_needs_time")
        at = float(live.snapshot().get("status", {}).get("elapsed") or 0.0)
    return marker_json(archive.add_marker(who, sid, at, body.label), request)


def marker_json(entry, request: Optional[Request] = None) -> dict[str, Any]:
    """A marker as the API shows it: `actor` is the login (web:zhang), `actor_name` the name people know
    them by (张三), in the request's language for the system."""
    from api.routes.audit import names_of
    from api.routes.errors import language
    from service.audit_trail import actor_name

    names = names_of(request) if request is not None else {}
    return {"seq": entry.seq, "at": entry.details.get("at"), "label": entry.details.get("label", ""),
            "actor": entry.actor, "actor_name": actor_name(entry.actor, names, language(request)),
            "created_at": entry.at}


@router.get("/sessions/{sid}/markers", summary="The session's markers, in time order",
            response_model=list[Marker])
def list_markers(sid: str, request: Request, archive: Archive = Depends(get_archive), who: str = Depends(actor),
                 _: Session = Depends(session_access("view"))):
    found = archive.markers(sid)
    archive.audit(who, "marker.list", sid, {"markers": len(found), "address": client_address(request)})
    return [marker_json(e, request) for e in found]


def room_devices(home) -> dict[str, dict[str, str]]:
    """`[rooms."讯问室1"] audio = "...", video = "..."` in <home>/config.toml: each room's microphone and
    camera, so that choosing the room is all the console needs for a one-key start."""
    from core.config import read

    return {name: room.devices() for name, room in read(home).rooms.items()}


def approved_rooms(home) -> tuple[str, ...]:
    try:
        from supervise.config import load_rules

        return tuple(load_rules(home).room_not_approved.approved)
    except Exception:  # no rules, or a bad rules file: the warnings page reports that
        return ()


@router.get("/rooms", summary="Rooms (configured, approved, seen before) with their devices; cases; defaults",
            response_model=Rooms,
            responses={500: ERROR("The server's config.toml is wrong (an administrator must fix it)")})
def rooms(request: Request, archive: Archive = Depends(get_archive),
          user: User = Depends(require(policy.can_list_sessions, "list sessions"))):
    sessions = policy.visible(user, archive.list())
    home = request.app.state.home
    devices = room_devices(home)
    return {"rooms": sorted({s.room for s in sessions if s.room} | set(devices) | set(approved_rooms(home))),
            "devices": devices,
            "cases": sorted({s.case_id for s in sessions if s.case_id}),
            "officers": sorted({o for s in sessions for o in s.officers}),
            "defaults": {k: v for k, v in request.app.state.defaults.items() if isinstance(v, (str, int, float))}}

