"""Authentication and authorisation: users and roles, Argon2 passwords, login tokens, cookies with CSRF,
lockout, FastAPI dependencies and the access policy (api/auth/policy.py says who may do what).

Names are imported lazily so that the CLI can use the users store without importing FastAPI."""
from __future__ import annotations

import importlib

_WHERE = {
    "Login": "deps", "audit_event": "deps", "audit_media": "deps", "current_login": "deps",
    "current_user": "deps", "optional_user": "deps", "require": "deps", "require_role": "deps",
    "session_access": "deps", "get_auth": "deps",
    "AuthService": "service",
    "bind_warning": "setup", "ensure_admin": "setup", "ensure_demo_users": "setup", "install": "setup",
    "ADMIN": "types", "OFFICER": "types", "ROLES": "types", "SUPERVISOR": "types", "AuthError": "types",
    "AuthSettings": "types", "User": "types",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"api.auth.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'api.auth' has no attribute {name!r}")
