"""The sources an officer may record from: configured rooms, this machine's microphones and cameras, the
server's defaults and the test signal (service/sources.py). A start request names one of these ids."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from accounts import policy
from accounts.types import User
from api.auth.deps import require
from api.routes.answers import Answer
from service.sources import available

router = APIRouter(prefix="/api", tags=["sessions"])


class SourceAnswer(Answer):
    id: str = Field(description="what POST /api/sessions takes as audio or video")
    label: str
    origin: str = Field(description="room, server, device or test")


class DevicesAnswer(Answer):
    audio: list[SourceAnswer]
    video: list[SourceAnswer]
    rooms: dict[str, dict[str, str]] = Field(description="room -> its configured audio, video, speakers")


@router.get("/devices", summary="What a recording may be started from (rooms, devices, test signal)",
            response_model=DevicesAnswer)
async def devices(request: Request, user: User = Depends(require(policy.can_record, "start a recording"))):
    app = request.app
    found = await run_in_threadpool(available, app.state.home, app.state.defaults)
    return {"audio": [{"id": s.id, "label": s.label, "origin": s.origin} for s in found.audio],
            "video": [{"id": s.id, "label": s.label, "origin": s.origin} for s in found.video],
            "rooms": {name: dict(spec) for name, spec in found.rooms.items()}}
