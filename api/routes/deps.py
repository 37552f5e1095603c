"""What routes share: the archive (one connection per request), who is acting, the model, live recording."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

from fastapi import Depends, Request

from api.auth.deps import Login, current_login
from archive.store import Archive, open_archive


def home_of(request: Request) -> Path:
    return request.app.state.home


def get_archive(request: Request) -> Iterator[Archive]:
    """A fresh catalog connection per request (SQLite or PostgreSQL): transactions of concurrent requests never
    share one."""
    archive = open_archive(request.app.state.home)
    try:
        yield archive
    finally:
        archive.close()


def actor(login: Login = Depends(current_login)) -> str:
    """Who does this: the logged-in user as the audit chain names them (web:<name>); 401 when anonymous."""
    return login.user.actor


def transcriber_of(app: Any):
    """One Transcriber per app, loaded on first use (the model takes seconds to load) and then shared."""
    state = app.state
    if state.transcriber is None:
        with state.transcriber_lock:
            if state.transcriber is None:
                from asr.pipeline import load_transcriber
                from core.config import load_config

                cfg = load_config(state.home)
                state.transcriber = load_transcriber(cfg.model, state.home, cfg.device, cfg.compute_type)
    return state.transcriber


def new_lock() -> threading.Lock:
    return threading.Lock()
