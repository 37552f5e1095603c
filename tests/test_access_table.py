"""Every route of the real app against an access table kept here: anonymous, an officer on a session they
took part in ("own"), an officer on someone else's session ("other"), a supervisor and an admin.

The routes come from the app itself (the OpenAPI paths plus the WebSocket routes), so a new route without an
entry in ACCESS fails `test_every_route_has_an_entry`. Expected: anonymous -> 401 unless public; a principal
not allowed -> 403 (and an `auth.denied` audit entry); an allowed one -> anything but 401/403 (the request
is made deliberately invalid where it would change something, so an allowed call answers 4xx from
validation, never a change of state). Media and live files are also tried with path traversal and symlinks.
"""
from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient
from helpers.auth import FAST, PASSWORD
from starlette.websockets import WebSocketDisconnect

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from archive.store import Archive

ANON, OWN, OTHER, SUP, ADM = "anonymous", "officer-own", "officer-other", "supervisor", "admin"
PRINCIPALS = (ANON, OWN, OTHER, SUP, ADM)
OFFICERS = {OWN, OTHER}       # on routes without a session both are simply "an officer"

PUBLIC = frozenset(PRINCIPALS)
ANY_USER = frozenset({OWN, OTHER, SUP, ADM})
VIEW = frozenset({OWN, SUP})                 # policy.can_view_session
EDIT = frozenset({OWN})                      # policy.can_edit_transcript / can_stop_session
RECORD = frozenset(OFFICERS)                 # policy.can_record
IMPORT = frozenset(OFFICERS | {ADM})         # policy.can_import
READ = frozenset(OFFICERS | {SUP})           # policy.can_search / can_list_sessions (officers see their own)
AUDIT = frozenset({SUP})                     # policy.can_read_audit / can_see_warnings
VERIFY = frozenset({SUP, ADM})
ADMIN_ONLY = frozenset({ADM})                # policy.can_admin
SECOND_PERSON = frozenset({SUP, ADM})        # policy.can_see_grants / can_confirm_grant (separation of duties)

# "METHOD path" (as in the OpenAPI document; WS for WebSocket routes) -> who may call it
ACCESS: dict[str, frozenset] = {
    "GET /api/sessions": READ,
    "POST /api/sessions": RECORD,
    "GET /api/sessions/{sid}": VIEW,
    "POST /api/sessions/{sid}/stop": EDIT,
    "GET /api/sessions/{sid}/markers": VIEW,
    "POST /api/sessions/{sid}/markers": VIEW,
    "GET /api/rooms": READ,
    "GET /api/devices": RECORD,
    "GET /api/sessions/{sid}/transcript": VIEW,
    "PATCH /api/sessions/{sid}/transcript": EDIT,
    "GET /api/sessions/{sid}/transcript/versions": VIEW,
    "GET /api/sessions/{sid}/transcript/diff": VIEW,
    "GET /api/sessions/{sid}/transcript/corrections": VIEW,
    "GET /api/sessions/{sid}/record": VIEW,
    "POST /api/sessions/{sid}/record-header": EDIT,
    "GET /api/sessions/{sid}/media": VIEW,
    "HEAD /api/sessions/{sid}/media": VIEW,
    "GET /api/sessions/{sid}/live/{name}": VIEW,
    "HEAD /api/sessions/{sid}/live/{name}": VIEW,
    "GET /api/sessions/{sid}/export": VIEW,
    "WS /api/sessions/{sid}/live": VIEW,
    "WS /api/sessions/watch": READ,                 # says only "the list changed": the list is GET /api/sessions
    "GET /api/search": READ,
    "POST /api/import": IMPORT,
    "GET /api/import/jobs/{job}": IMPORT,           # and only the job's starter: test_import_jobs_are_their_owners
    "GET /api/jobs": IMPORT,                        # officers: their own jobs; admins: all (tests/test_web_jobs.py)
    "GET /api/jobs/{job}": IMPORT,
    "POST /api/push": IMPORT,                       # a session from a room recorder (tests/test_push.py)
    "PUT /api/push/{upload}/files/{index}": IMPORT,
    "POST /api/push/{upload}/commit": IMPORT,
    "GET /api/audit": AUDIT,
    "GET /api/sessions/{sid}/audit": AUDIT,
    "GET /api/verify/{sid}": VERIFY,
    "GET /api/warnings": AUDIT,
    "POST /api/warnings/{wid}/close": AUDIT,
    "GET /api/warnings/badges": READ,
    "GET /api/sessions/{session_id}/warnings": VIEW,
    "POST /api/sessions/{session_id}/sign": EDIT,
    "POST /api/sessions/{session_id}/supervision": EDIT,
    "GET /api/sessions/{session_id}/supervision/pending": VIEW,
    "POST /api/sessions/{session_id}/supervision/confirm": AUDIT,
    "POST /api/auth/login": PUBLIC,
    "POST /api/auth/logout": ANY_USER,
    "GET /api/auth/me": ANY_USER,
    "GET /api/auth/tokens": ANY_USER,
    "POST /api/auth/tokens/{token_id}/revoke": ANY_USER,
    "POST /api/auth/password": ANY_USER,
    "GET /api/users": ADMIN_ONLY,
    "POST /api/users": ADMIN_ONLY,
    "GET /api/users/{username}": ADMIN_ONLY,
    "POST /api/users/{username}/disable": ADMIN_ONLY,
    "POST /api/users/{username}/enable": ADMIN_ONLY,
    "POST /api/users/{username}/unlock": ADMIN_ONLY,
    "POST /api/users/{username}/password": ADMIN_ONLY,
    "POST /api/users/{username}/role": ADMIN_ONLY,
    "GET /api/users/{username}/tokens": ADMIN_ONLY,
    "POST /api/users/{username}/revoke": ADMIN_ONLY,
    "GET /api/grants": SECOND_PERSON,
    "POST /api/grants/{username}/confirm": SECOND_PERSON,
    "GET /api/audit/actions": ANY_USER,
    "GET /api/centre": ANY_USER,
    "PUT /api/admin/centre": ADMIN_ONLY,
    "GET /api/admin/rooms": ADMIN_ONLY,
    "PUT /api/admin/rooms/{name}": ADMIN_ONLY,
    "DELETE /api/admin/rooms/{name}": ADMIN_ONLY,
    "POST /api/admin/cameras": ADMIN_ONLY,          # sends a probe on the network: never an officer's
    "GET /api/admin/verify": ADMIN_ONLY,
    "POST /api/admin/verify": ADMIN_ONLY,
    "GET /api/admin/audit": ADMIN_ONLY,
}

# officer-own and officer-other are the same officer, 张三: on their session and on 李四's
LOGINS = {OWN: ("zhangsan", OFFICER, "张三"), OTHER: ("zhangsan", OFFICER, "张三"),
          SUP: ("fazhi", SUPERVISOR, None), ADM: ("root", ADMIN, None)}
SESSION_PARAM = re.compile(r"\{(sid|session_id|id)\}")


class FakeLive:
    """Nothing is recorded here: an allowed POST /api/sessions never reaches it (its body is invalid)."""

    def start_live(self, *args, **kwargs):
        raise AssertionError("the access test must not start a recording")

    def get_live(self, session_id):
        return None

    def request_type(self):
        raise AssertionError("the access test must not start a recording")


def walk(routes, prefix=""):
    """Leaf routes with their full paths, through FastAPI's included routers (old and new style)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from walk(route.effective_candidates(), prefix)
            continue
        original = getattr(route, "original_route", route)
        path = getattr(route, "path", "") or getattr(route, "path_format", "") or \
            (getattr(getattr(route, "include_context", None), "prefix", "") + getattr(original, "path", ""))
        yield original, path


def route_keys(app) -> list[str]:
    from fastapi.routing import APIWebSocketRoute

    keys = [f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops]
    keys += [f"WS {path}" for original, path in walk(app.routes) if isinstance(original, APIWebSocketRoute)]
    return sorted(set(keys))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import warnings

    from api.app import create_app

    home = tmp_path_factory.mktemp("access-home")
    (home / "config.toml").write_text(
        "[auth]\n" + "".join(f"{k} = {getattr(FAST, k)}\n" for k in
                             ("argon2_time_cost", "argon2_memory_kib", "argon2_parallelism")) +
        "address_failures = 100000\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(home, live=FakeLive())
        app.openapi()
    auth = app.state.auth
    for name, role, display in set(LOGINS.values()):
        auth.add_user(name, role, PASSWORD, display)
    auth.add_user("target", OFFICER, PASSWORD)
    archive = Archive(home)
    sessions = {}
    for who, officers in ((OWN, ("张三", "赵六")), (OTHER, ("李四",))):
        with archive.new_session("system:test", status="complete", officers=officers) as s:
            sessions[who] = s.id
        folder = archive.folder(s.id)
        (folder / "live").mkdir(exist_ok=True)
        (folder / "live" / "index.m3u8").write_text("#EXTM3U\n", encoding="utf-8")
    archive.close()
    with TestClient(app) as client:
        yield client, app, home, sessions


def login(client, who: str) -> dict[str, str]:
    """A fresh bearer token per request, so that logout or revocation never spoils the next request."""
    if who == ANON:
        return {}
    r = client.post("/api/auth/login", json={"username": LOGINS[who][0], "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def concrete(path: str, who: str, sessions: dict[str, str]) -> str:
    sid = sessions[OTHER] if who == OTHER else sessions[OWN]
    path = SESSION_PARAM.sub(sid, path)
    path = (path.replace("{username}", "target").replace("{token_id}", "0" * 16)
            .replace("{name}", "index.m3u8"))
    return re.sub(r"\{[^}]+\}", "1", path)   # any other parameter (a warning id, ...)


def denied_count(app) -> int:
    return sum(1 for e in app.state.auth.archive.audit_entries() if e.action == "auth.denied")


def call(client, key: str, who: str, sessions) -> int:
    method, path = key.split(" ", 1)
    url = concrete(path, who, sessions)
    headers = login(client, who)
    if method == "WS":
        try:
            with client.websocket_connect(url, headers=headers) as ws:
                ws.close()
            return 101
        except WebSocketDisconnect as exc:
            return exc.code - 4000 if 4000 <= exc.code < 5000 else exc.code   # 4401, 4403: as HTTP
        except Exception as exc:  # a denial answered as an HTTP response
            return getattr(exc, "status_code", 500)
    # a JSON array is never a valid body here: an allowed state-changing call stops at validation
    kwargs = {"content": b"[]", "headers": {**headers, "Content-Type": "application/json"}} \
        if method in ("POST", "PUT", "PATCH", "DELETE") else {"headers": headers}
    return client.request(method, url, **kwargs).status_code


def test_every_route_has_an_entry(world):
    _, app, _, _ = world
    missing = [k for k in route_keys(app) if k not in ACCESS]
    assert not missing, f"routes without an entry in the access table of {__file__}: {missing}"


def test_no_route_deletes_or_overwrites_evidence(world):
    _, app, _, _ = world
    evidence = ("/api/sessions", "/api/audit", "/api/import", "/api/verify", "/api/search")
    destructive = [k for k in route_keys(app) if k.split(" ", 1)[0] in ("DELETE", "PUT")
                   and k.split(" ", 1)[1].startswith(evidence)]
    assert not destructive, f"evidence is append-only; these routes delete or overwrite: {destructive}"


def cases():
    return [(key, who) for key in ACCESS for who in PRINCIPALS]


@pytest.mark.parametrize("key,who", cases())
def test_route_access(world, key, who):
    client, app, _, sessions = world
    assert key in route_keys(app), f"the access table lists {key}, which the app does not have: remove the entry"
    allowed = who in ACCESS[key] or (who in OFFICERS and not SESSION_PARAM.search(key) and
                                     bool(ACCESS[key] & OFFICERS))
    before = denied_count(app)
    status = call(client, key, who, sessions)
    if allowed:
        assert status not in (401, 403), f"{who} should be allowed {key}, got {status}"
    elif who == ANON:
        assert status == 401, f"anonymous {key} should get 401, got {status}"
    else:
        assert status == 403, f"{who} should be refused {key} with 403, got {status}"
        assert denied_count(app) > before, f"{who} refused {key} without an auth.denied audit entry"


# -- files outside the session folder ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..%2F..%2Fusers.sqlite", "..%2Fmanifest.json", "%2e%2e%2f%2e%2e%2faudit-head.json",
                                  "....%2F%2Fusers.sqlite", "seg%00.ts", "..\\..\\users.sqlite"])
def test_live_files_refuse_path_traversal(world, name):
    client, _, _, sessions = world
    r = client.get(f"/api/sessions/{sessions[OWN]}/live/{name}", headers=login(client, SUP))
    assert r.status_code in (400, 404, 422), (name, r.status_code)
    assert b"SQLite" not in r.content and b"sha256" not in r.content


def test_live_files_do_not_follow_symlinks_out_of_the_session(world):
    client, _, home, sessions = world
    secret = home / "outside-secret.txt"
    secret.write_text("not evidence of this session", encoding="utf-8")
    live = home / "sessions" / sessions[OWN] / "live"
    for name in ("seg00001.ts", "leak.m3u8"):
        link = live / name
        if not link.is_symlink():
            os.symlink(secret, link)
    for name in ("seg00001.ts", "leak.m3u8"):
        r = client.get(f"/api/sessions/{sessions[OWN]}/live/{name}", headers=login(client, SUP))
        assert r.status_code in (403, 404), (name, r.status_code)
        assert b"not evidence" not in r.content


def test_session_id_guessing_finds_nothing(world):
    client, _, _, sessions = world
    headers = login(client, OWN)
    day, number = sessions[OTHER].rsplit("-", 1)
    for guess in (sessions[OTHER], f"{day}-{int(number) + 1:04d}", "s-20000101-0001", "..%2Fsessions",
                  "s-20261122-0001%2F..%2F..", "%2e%2e"):
        for suffix in ("", "/media", "/transcript", "/export?format=txt", "/live/index.m3u8"):
            r = client.get(f"/api/sessions/{guess}{suffix}", headers=headers)
            assert r.status_code in (400, 403, 404, 422), (guess, suffix, r.status_code)


def test_import_jobs_are_their_owners(world):
    """A background import's job is polled by who started it; another importer gets 403, anonymous 401."""
    from service.jobs import Job

    client, app, _, _ = world
    job = app.state.jobs.add(Job("f" * 16, session="s-20261122-0009", owner="web:zhangsan"))
    url = f"/api/import/jobs/{job.job}"
    r = client.get(url, headers=login(client, OWN))
    assert r.status_code == 200, r.text
    assert r.json()["session"] == "s-20261122-0009" and "owner" not in r.json()
    before = denied_count(app)
    assert client.get(url, headers=login(client, ADM)).status_code == 403
    target = client.post("/api/auth/login", json={"username": "target", "password": PASSWORD}).json()["token"]
    assert client.get(url, headers={"Authorization": f"Bearer {target}"}).status_code == 403
    assert denied_count(app) == before + 2
    assert client.get(url).status_code == 401
    assert client.get("/api/import/jobs/" + "0" * 16, headers=login(client, OWN)).status_code == 404
