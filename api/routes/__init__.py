"""The API's routers, one per file. `ROUTERS` is what the app factory includes, in order; a login
dependency can be added per router (`app.include_router(r, dependencies=[Depends(current_user)])`)."""
from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from api.routes import audit, exports, importing, live, media, search, sessions, transcript

    return [sessions.router, transcript.router, media.router, exports.router, search.router,
            importing.router, audit.router, live.router]
