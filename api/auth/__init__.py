"""The web side of authentication: FastAPI dependencies (deps.py: logins from cookies or bearer tokens, CSRF,
roles, session access, audit of evidence reads) and `install`, which puts an AuthService on the app.
Users, passwords, tokens, lockout and the access policy live in `accounts`, shared with the CLI."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from accounts.service import AuthService
from accounts.types import AuthSettings
from api.auth.deps import (  # noqa: F401
    Login,
    audit_event,
    audit_media,
    current_login,
    current_user,
    get_auth,
    optional_user,
    require,
    require_role,
    session_access,
)


def install(app, home: Path, settings: Optional[AuthSettings] = None, archive=None) -> AuthService:
    """Create the app's AuthService (app.state.auth); settings default to config.toml's [auth]. With no
    `archive` the service opens its own connection to the catalog for audit entries and session look-ups
    (recommended: it serialises its audit appends on that connection)."""
    from accounts.config import load_settings

    service = AuthService(home, settings or load_settings(home), archive)
    app.state.auth = service
    return service
