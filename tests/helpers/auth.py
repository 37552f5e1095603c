"""Shared by the auth tests: cheap Argon2 settings, an app with the auth layer, logins."""
from __future__ import annotations

from pathlib import Path

from accounts.types import AuthSettings

FAST = AuthSettings(argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)
PASSWORD = "correct-horse-77"


def auth_app(home: Path, settings: AuthSettings = FAST):
    """A bare FastAPI app with only the auth layer and its routes."""
    from fastapi import FastAPI

    from api.auth import install
    from api.routes import auth as auth_routes

    app = FastAPI()
    install(app, home, settings)
    app.include_router(auth_routes.router)
    return app


def bearer(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def login_as(client, app, username: str, role: str, display_name: str | None = None) -> dict[str, str]:
    """For API tests of the real app: make the user if needed and return its bearer headers, e.g.
    `client.headers.update(login_as(client, app, "zhangsan", "officer", "张三"))`. An officer sees the
    sessions whose officers name them (by login or display name) and the ones they start or import."""
    auth = app.state.auth
    if auth.store.get(username) is None:
        auth.add_user(username, role, PASSWORD, display_name)
    return bearer(client, username)


def fast_auth(home: Path) -> Path:
    """Cheap Argon2 for a test home: appends an [auth] section to <home>/config.toml (call before create_app,
    after writing any other config). Returns the home."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    section = "".join(f"{k} = {getattr(FAST, k)}\n" for k in
                      ("argon2_time_cost", "argon2_memory_kib", "argon2_parallelism"))
    path.write_text(old + ("\n" if old and not old.endswith("\n") else "") + "[auth]\n" + section, encoding="utf-8")
    return home


def add_users(app, *users: tuple[str, str, str | None]) -> None:
    """Users (name, role, display name) with PASSWORD, on a running app (e.g. server.server.config.app)."""
    auth = app.state.auth
    for name, role, display in users:
        if auth.store.get(name) is None:
            auth.add_user(name, role, PASSWORD, display)


def browser_login(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log a Playwright page's context in with the session cookie (and the xunlu_csrf cookie), as the login
    page does; a later call switches user."""
    r = page.request.post(base_url + "/api/auth/login",
                          data={"username": username, "password": password, "cookie": True})
    assert r.status == 200, r.text()


def http_client(base_url: str, username: str, password: str = PASSWORD):
    """An httpx client logged in with a bearer token."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=30)
    client.headers.update(bearer(client, username, password))
    return client
