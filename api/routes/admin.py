"""The administrator's settings (/api/admin/...): interview rooms and their devices (one camera or several,
with their picture-in-picture layout: service/rooms.py), the centre's time zone, the integrity check of the
whole archive, and the audit trail without evidence content. Users are managed under /api/users
(api/routes/auth.py). Every change is written to `<home>/config.toml` and to the audit chain. GET /api/centre
tells every logged-in page the centre's time zone, in which it shows every time. POST /api/admin/cameras finds
the ONVIF cameras on the network for the room editor (capture/discovery.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from accounts import policy
from accounts.types import User
from api.auth.deps import client_address, current_user, get_auth, require
from api.routes.answers import Answer, AuditEntry
from api.routes.audit import CSV, FORMAT, audit_filter, names_of, trail
from api.routes.deps import get_archive
from api.routes.errors import language
from archive.store import Archive
from core.config import read, zone
from core.config_edit import set_centre
from service import rooms as room_service
from service.audit_trail import readable
from service.sources import available

router = APIRouter(prefix="/api", tags=["admin"])
ADMIN = require(policy.can_admin, "change the centre's settings")


class Centre(Answer):
    timezone: str = Field(description="IANA name, e.g. Asia/Shanghai: the clock of every rule and every page")
    utc_offset: str = Field(description="its offset now, e.g. +08:00")
    configured: bool = Field(description="false: the default (Asia/Shanghai for Chinese)")


class CentreChange(BaseModel):
    timezone: Optional[str] = Field(None, max_length=64, description="null: back to the default")


class CameraRecord(Answer):
    name: str = Field(description="what people see (the player's switch); the picture-in-picture names it")
    video: str = Field(description="its source; a URL's password shows as ***")
    rtsp_transport: Optional[str] = Field(None, description="null: the room's")
    video_delay: Optional[float] = Field(None, description="seconds its picture lags the sound; null: the recording's")


class PipRecord(Answer):
    main: Optional[str] = Field(description="the camera that fills the picture; null: the first")
    inset: Optional[str] = Field(description="the camera drawn over it; null: the second")
    position: str = Field(description="top-left, top-right, bottom-left or bottom-right")
    size: float = Field(description="the inset's width, a share of the main picture's")
    margin: float = Field(description="its distance from the edges, a share of the main picture's height")


class RoomRecord(Answer):
    name: str
    audio: Optional[str] = Field(description="a camera URL's password shows as ***")
    video: Optional[str] = Field(description="the room's one camera; null when it has several (cameras)")
    speakers: Optional[str] = Field(description="comma-separated channel names")
    rtsp_transport: Optional[str] = Field(None, description="auto (null), tcp, udp or udp_multicast")
    cameras: list[CameraRecord] = Field([], description="the room's cameras when it has several, the first the "
                                                        "main one (recorded with the sound)")
    pip: Optional[PipRecord] = Field(None, description="their picture-in-picture layout; null: the defaults")


class RoomSource(Answer):
    id: str
    label: str
    origin: str


class RoomsAnswer(Answer):
    rooms: list[RoomRecord]
    audio: list[RoomSource] = Field(description="the microphones and sources a room may use")
    video: list[RoomSource]


class CameraChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Optional[str] = Field(None, max_length=32, description="null: camera1, camera2, ...")
    video: Optional[str] = Field(None, max_length=500, description="a source id of this server, or a URL (its "
                                 "masked form as listed: the camera's URL as it is)")
    rtsp_transport: Optional[str] = Field(None, max_length=20, description="auto, tcp, udp, udp_multicast; null: "
                                          "the room's")
    video_delay: Optional[float] = Field(None, allow_inf_nan=False, description="seconds its picture lags the sound "
                                         "(at most ±5)")


class PipChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    main: Optional[str] = Field(None, max_length=32, description="a camera's name; null: the first")
    inset: Optional[str] = Field(None, max_length=32, description="a camera's name; null: the second")
    position: Optional[str] = Field(None, max_length=20, description="top-left, top-right (default), bottom-left, "
                                    "bottom-right")
    size: Optional[float] = Field(None, allow_inf_nan=False, description="0.1 to 0.6 (default 0.3)")
    margin: Optional[float] = Field(None, allow_inf_nan=False, description="0 to 0.2 (default 0.03)")


class RoomChange(BaseModel):
    audio: Optional[str] = Field(None, max_length=500, description="a source id of this server, or a URL")
    video: Optional[str] = Field(None, max_length=500, description="the room's one camera")
    cameras: Optional[list[CameraChange]] = Field(None, max_length=16, description="several cameras (2 to 4), the "
                                                  "first the main one; [] : none (one camera is `video`); null: "
                                                  "as they are")
    pip: Optional[PipChange] = Field(None, description="their picture-in-picture layout; null: as it is")
    speakers: Optional[str] = Field(None, max_length=200, description="officer,suspect")
    rename: Optional[str] = Field(None, max_length=64, description="a new name for the room")
    rtsp_transport: Optional[str] = Field(None, max_length=20, description="how to ask the room's network camera "
                                          "for its stream: auto, tcp, udp, udp_multicast; null: as it is")


class VerifyStatus(Answer):
    last: Optional[AuditEntry] = Field(description="the latest integrity check in the audit trail")
    ok: Optional[bool]
    summary: Optional[str] = None
    problems: list[str] = []
    sessions: Optional[int] = None
    files: Optional[int] = None
    audit_entries: Optional[int] = None


def _centre(request: Request) -> dict:
    from zoneinfo import ZoneInfo

    settings = read(request.app.state.home)
    offset = datetime.now(ZoneInfo(settings.timezone)).strftime("%z")
    return {"timezone": settings.timezone, "utc_offset": f"{offset[:3]}:{offset[3:]}",
            "configured": settings.centre.timezone is not None}


def _audit(request: Request, user: User, action: str, target: str, details: dict) -> None:
    get_auth(request).audit(user.actor, action, target, {**details, "address": client_address(request)})


@router.get("/centre", summary="The centre's time zone (every logged-in page shows times in it)",
            response_model=Centre)
def centre(request: Request, _user: User = Depends(current_user)):
    return _centre(request)


@router.put("/admin/centre", summary="Set the centre's time zone (config.toml [centre]); null: the default",
            response_model=Centre)
def change_centre(body: CentreChange, request: Request, user: User = Depends(ADMIN)):
    before = _centre(request)["timezone"]
    set_centre(request.app.state.home, (body.timezone or "").strip() or None)
    after = _centre(request)
    _audit(request, user, "config.centre", "config/centre", {"timezone": after["timezone"], "before": before})
    return after


def _sources(request: Request):
    return available(request.app.state.home, request.app.state.defaults)


@router.get("/admin/rooms", summary="The interview rooms with their devices, and the devices they may use",
            response_model=RoomsAnswer)
async def list_rooms(request: Request, _user: User = Depends(ADMIN)):
    found = await run_in_threadpool(_sources, request)
    shown = [s for s in (*found.audio, *found.video) if s.origin != "room"]
    return {"rooms": room_service.rooms(request.app.state.home),
            "audio": [{"id": s.id, "label": s.label, "origin": s.origin} for s in shown if s.kind == "audio"],
            "video": [{"id": s.id, "label": s.label, "origin": s.origin} for s in shown if s.kind == "video"]}


@router.put("/admin/rooms/{name}", summary="Add or change a room (config.toml [rooms]): its microphone, its one "
            "camera or several with their picture-in-picture layout; audited",
            response_model=RoomRecord)
def put_room(name: str, body: RoomChange, request: Request, user: User = Depends(ADMIN)):
    cameras = None if body.cameras is None else tuple(c.model_dump() for c in body.cameras)
    change = room_service.RoomChange(name, body.audio, body.video, body.speakers, body.rename, body.rtsp_transport,
                                     cameras, None if body.pip is None else body.pip.model_dump())
    settings = room_service.save(request.app.state.home, request.app.state.defaults, change, _sources(request))
    final = (body.rename or name).strip()
    shown = room_service.record(final, settings.rooms[final])     # passwords masked
    _audit(request, user, "config.room", f"rooms/{final}",
           {**shown, **({"before": name.strip()} if final != name.strip() else {})})
    return shown


@router.delete("/admin/rooms/{name}", summary="Remove a room from config.toml (its recordings stay); audited",
               response_model=list[RoomRecord])
def delete_room(name: str, request: Request, user: User = Depends(ADMIN)):
    room_service.remove(request.app.state.home, name)
    _audit(request, user, "config.room", f"rooms/{name.strip()}", {"name": name.strip(), "removed": True})
    return room_service.rooms(request.app.state.home)


class CameraSearch(BaseModel):
    timeout: float = Field(2.0, ge=0.5, le=10, description="seconds to wait for the cameras' answers")
    username: Optional[str] = Field(None, max_length=64, description="to ask the cameras their stream addresses")
    password: Optional[str] = Field(None, max_length=128, description="never kept, logged nor sent back")


class FoundStream(Answer):
    profile: str
    uri: str = Field(description="as the camera gives it (a password in it shows as ***)")


class FoundCamera(Answer):
    address: str = Field(description="its ONVIF device service")
    host: str
    name: Optional[str]
    hardware: Optional[str]
    streams: list[FoundStream]
    guess: str = Field(description="rtsp://HOST:554/, where cameras usually serve, when it gave no address")
    problem: Optional[str] = Field(description="why there is no stream address (the operator's words)")
    needs_login: bool = Field(description="the camera wants a (another) user name and password")


class CamerasAnswer(Answer):
    cameras: list[FoundCamera]


@router.post("/admin/cameras", summary="Find the ONVIF cameras on the network (WS-Discovery) and their stream "
             "addresses, for a room's camera; a POST because it sends a probe and may carry a password",
             response_model=CamerasAnswer)
async def find_cameras(body: CameraSearch, request: Request, user: User = Depends(ADMIN)):
    from dataclasses import replace

    from capture.discovery import DiscoveryOptions, discover
    from core.urls import redact

    options = DiscoveryOptions(timeout=body.timeout, username=(body.username or "").strip() or None,
                               password=body.password)
    targets = getattr(request.app.state, "camera_probe", None)     # tests: a fake camera's address
    if targets:
        options = replace(options, targets=tuple(targets))
    cams = await run_in_threadpool(discover, options)
    _audit(request, user, "config.cameras_found", "config/cameras",
           {"timeout": body.timeout, "with_login": bool(options.username), "found": [c.host for c in cams]})
    return {"cameras": [{"address": redact(c.address), "host": c.host, "name": c.name, "hardware": c.hardware,
                         "streams": [{"profile": s.profile, "uri": redact(s.uri)} for s in c.streams],
                         "guess": c.guess, "problem": c.problem and redact(c.problem), "needs_login": c.needs_login}
                        for c in cams]}


def _last_check(request: Request, archive: Archive) -> Optional[dict]:
    """The latest `verify` entry, in words."""
    last = None
    for entry in archive.audit_entries():
        if entry.action == "verify":
            last = entry
    return readable(last, names_of(request), language(request), True, zone(request.app.state.home)) if last else None


@router.get("/admin/verify", summary="The latest integrity check (from the audit trail)",
            response_model=VerifyStatus)
def verify_status(request: Request, archive: Archive = Depends(get_archive), _user: User = Depends(ADMIN)):
    last = _last_check(request, archive)
    return {"last": last, "ok": last["details"].get("ok") if last else None}


@router.post("/admin/verify", summary="Check the whole archive now: every file's SHA-256 and the audit chain "
             "(takes as long as reading every recording)", response_model=VerifyStatus)
def verify_all(request: Request, archive: Archive = Depends(get_archive), user: User = Depends(ADMIN)):
    from archive.verify import verify as run

    report = run(archive, None)
    archive.audit(user.actor, "verify", "*", {"ok": report.ok, "problems": len(report.problems),
                                              "address": client_address(request)})
    return {"last": _last_check(request, archive), "ok": report.ok, "summary": report.summary(),
            "problems": list(report.problems), "sessions": report.sessions, "files": report.files,
            "audit_entries": report.audit_entries}


@router.get("/admin/audit", summary="The audit trail for an administrator: who did what and when, without "
            "what the evidence says (search words, marker notes, closing reasons); format=csv for a file",
            response_model=list[AuditEntry], responses=CSV)
def admin_audit(request: Request, session: Optional[str] = None,
                action: Optional[str] = Query(None, description="an action (user.add) or a family (user)"),
                actor: Optional[str] = Query(None, description="user name, display name or full actor"),
                since: Optional[str] = Query(None, description="YYYY-MM-DD (on the centre's clock)"),
                until: Optional[str] = Query(None, description="YYYY-MM-DD (the whole day)"),
                limit: int = Query(500, ge=1, le=100000), format: str = FORMAT,
                archive: Archive = Depends(get_archive), user: User = Depends(ADMIN)):
    return trail(request, archive, user, audit_filter(session, action, actor, since, until, limit), format,
                 for_admin=True)
