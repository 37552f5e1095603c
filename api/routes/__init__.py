"""The API's routers, one per file, included by the app factory in this order. Each is imported here, so a
router that cannot be imported stops the server at start instead of silently missing."""
from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    admin,
    audit,
    auth,
    devices,
    exports,
    importing,
    jobs,
    live,
    media,
    push,
    search,
    session_watch,
    sessions,
    transcript,
    warnings,
)


def routers() -> list[APIRouter]:
    return [sessions.router, devices.router, transcript.router, media.router, exports.router, search.router,
            importing.router, jobs.router, audit.router, live.router, auth.router, warnings.router, admin.router,
            session_watch.router, push.router]
