"""The web app factory: routers, error mapping, static pages. State lives on `app.state`, nothing global."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.auth import install as install_auth
from api.headers import SecurityHeaders
from api.routes import errors, routers
from api.routes.deps import new_lock, transcriber_of
from service import live as live_service
from service import startup
from service.job_queue import RedisJobs, queue_options
from service.jobs import JobRegistry
from service.warnings import Refresher

log = logging.getLogger("xunlu.web")
STATIC = Path(__file__).resolve().parents[1] / "player_web" / "static"
DEFAULT_MAX_UPLOAD = 64 * 1024 ** 3  # 64 GiB: a day of HD video; the free disk space is checked as well


class LiveBackend:
    """Live recording as the app sees it: service.live (capture + streaming ASR). Tests inject another object
    with the same functions."""

    def start_live(self, home, archive, req, transcriber, actor):
        return live_service.start_live(home, archive, req, transcriber, actor)

    def get_live(self, session_id: str):
        return live_service.get_live(session_id)

    def request_type(self):
        return live_service.RecordRequest


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI served from player_web/static/vendor (no CDN: sites often have no Internet)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="讯录 xunlu API",
                                   swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/vendor/swagger-ui/favicon-32x32.png")


def create_app(home: Path, transcriber: Any = None, live: Any = None, max_upload: int = DEFAULT_MAX_UPLOAD,
               defaults: Optional[dict[str, Any]] = None, recover: bool = True,
               broker: Optional[str] = None) -> FastAPI:
    """`transcriber`: a loaded asr Transcriber to share (else one is loaded on first need); `live`: the live
    backend (start_live/get_live); `defaults`: what the console pre-fills (audio, video, language...);
    `recover`: close recordings a crash interrupted, in the background; `broker`: a Redis URL, to run
    imports on `xunlu worker` processes (service/job_queue.py) instead of in this one."""
    home = Path(home).expanduser()
    startup.tidy_home(home)
    app = FastAPI(title="讯录 xunlu", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Interrogation-room recordings: live sessions, transcripts, search, media.")
    _offline_docs(app)
    app.state.home = home
    app.state.transcriber = transcriber
    app.state.transcriber_lock = new_lock()
    app.state.live = live or LiveBackend()
    app.state.max_upload = max_upload
    app.state.defaults = dict(defaults or {})
    app.state.fanouts = {}  # live session id -> its WebSocket fan-out (api/routes/live.py)
    # background imports (api/routes/importing.py): on the job queue when there is one, else in this process
    app.state.jobs = RedisJobs(broker, queue_options(home)).check() if broker else JobRegistry()
    app.state.warnings_refresher = Refresher(home)
    errors.install(app)
    install_auth(app, home)  # app.state.auth: users, logins, audit of who did what (api/auth/)
    for router in routers():
        app.include_router(router)
    app.mount("/", StaticFiles(directory=str(STATIC), html=True), name="static")
    app.add_middleware(SecurityHeaders)
    if recover:
        startup.recover_in_background(home, lambda: transcriber_of(app))
        startup.repair_index_in_background(home)
    return app
