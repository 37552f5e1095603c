"""The web app factory: routers, error mapping, static pages. State lives on `app.state`, nothing global."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI

log = logging.getLogger("xunlu.web")
STATIC = Path(__file__).resolve().parents[1] / "player_web" / "static"
DEFAULT_MAX_UPLOAD = 64 * 1024 ** 3  # 64 GiB: a day of HD video; the free disk space is checked as well
OPTIONAL_ROUTERS = ("auth", "warnings")  # written by other parts of the project; included when present


class LiveBackend:
    """Live recording as the app sees it: `api.live` (capture + streaming ASR), imported on first use.
    Tests inject another object with the same two functions."""

    def _module(self):
        from api.routes.errors import ApiError

        try:
            return importlib.import_module("api.live")
        except ImportError as exc:
            raise ApiError(503, f"live recording is not available in this installation ({exc})") from exc

    def start_live(self, home, archive, req, transcriber, actor):
        return self._module().start_live(home, archive, req, transcriber, actor)

    def get_live(self, session_id: str):
        try:
            module = importlib.import_module("api.live")
        except ImportError:
            return None
        return module.get_live(session_id)

    def request_type(self):
        return self._module().RecordRequest


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI served from player_web/static/vendor (no CDN: sites often have no Internet)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="讯录 xunlu API",
                                   swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/vendor/swagger-ui/favicon-32x32.png")


def _recover_recordings(app: FastAPI) -> None:
    """Recordings a crash interrupted (segments on disk, writer gone) are closed in the background at start:
    media joined from the segments, the transcript completed with the shared model."""
    import contextlib
    import threading

    from archive.store import open_archive

    try:
        from api.live import recover_recordings
        from api.live_finish import pending
    except ImportError:
        return
    home = app.state.home
    with contextlib.closing(open_archive(home)) as archive:
        if not pending(archive):
            return

    def run() -> None:
        from api.routes.deps import transcriber_of

        try:
            with contextlib.closing(open_archive(home)) as archive:
                for sid in recover_recordings(home, archive, transcriber_of(app), "system:serve",
                                              say=lambda m: log.warning("%s", m)):
                    log.warning("session %s recovered from its segments", sid)
        except Exception:
            log.exception("recovering interrupted recordings failed; run xunlu recover")

    threading.Thread(target=run, name="xunlu-recover", daemon=True).start()


def _repair_index(app: FastAPI) -> None:
    """A crash between saving a transcript version and indexing it leaves the index behind the archive:
    such sessions are indexed again in the background at start."""
    import contextlib
    import threading

    from archive.store import open_archive

    def run() -> None:
        from api.indexing import repair_index

        try:
            with contextlib.closing(open_archive(app.state.home)) as archive:
                repair_index(app.state.home, archive, lambda m: log.warning("%s", m))
        except Exception:
            log.exception("checking the search index against the archive failed; run xunlu reindex")

    threading.Thread(target=run, name="xunlu-index-repair", daemon=True).start()


def create_app(home: Path, transcriber: Any = None, live: Any = None, max_upload: int = DEFAULT_MAX_UPLOAD,
               defaults: Optional[dict[str, Any]] = None, recover: bool = True) -> FastAPI:
    """`transcriber`: a loaded asr Transcriber to share (else one is loaded on first need); `live`: the live
    backend (start_live/get_live); `defaults`: what the console pre-fills (audio, video, language...);
    `recover`: close recordings a crash interrupted, in the background."""
    from api.routes import errors, routers
    from api.routes.deps import new_lock
    from archive.store import open_archive

    home = Path(home).expanduser()
    archive = open_archive(home)
    try:
        for sid in archive.recover():
            log.warning("session %s was interrupted before it was finished; marked failed", sid)
    finally:
        archive.close()
    from api.routes.importing import drop_stale_uploads

    for name in drop_stale_uploads(home):
        log.warning("removed %s: an upload interrupted when the server stopped", name)
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
    errors.install(app)
    from api.auth import install as install_auth

    install_auth(app, home)  # app.state.auth: users, logins, audit of who did what (api/auth/)
    for router in routers():
        app.include_router(router)
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(f"api.routes.{name}")
        except ImportError:
            continue
        if hasattr(module, "router"):
            app.include_router(module.router)
    from fastapi.staticfiles import StaticFiles

    app.mount("/", StaticFiles(directory=str(STATIC), html=True), name="static")
    if recover:
        _recover_recordings(app)
        _repair_index(app)
    return app
