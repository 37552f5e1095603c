"""The auth layer over HTTP, in-process: login for scripts and browsers, cookie flags, CSRF, logout and
revocation at once, failed-login waits as 429, admin user management, per-session checks, WebSocket logins."""
from __future__ import annotations

import pytest
from fastapi import Depends, WebSocket
from fastapi.testclient import TestClient
from helpers.auth import PASSWORD, auth_app, bearer
from starlette.websockets import WebSocketDisconnect

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from api.auth import session_access
from archive.store import Archive


@pytest.fixture()
def env(tmp_path):
    app = auth_app(tmp_path)

    @app.get("/api/sessions/{sid}")
    def view(session=Depends(session_access("view"))):
        return {"id": session.id}

    @app.post("/api/sessions/{sid}/transcript")
    def edit(session=Depends(session_access("edit"))):
        return {"edited": session.id}

    @app.websocket("/api/sessions/{sid}/live")
    async def live(websocket: WebSocket, session=Depends(session_access("view"))):
        await websocket.accept()
        await websocket.send_json({"session": session.id})
        await websocket.close()

    auth = app.state.auth
    for name, role, display in (("zhangsan", OFFICER, "张三"), ("lisi", OFFICER, None),
                                ("fazhi", SUPERVISOR, None), ("root", ADMIN, None)):
        auth.add_user(name, role, PASSWORD, display)
    archive = Archive(tmp_path)
    with archive.new_session("system:test", status="complete", officers=("张三",)) as s:
        own = s.id
    with archive.new_session("system:test", status="complete", officers=("lisi",)) as s:
        other = s.id
    archive.close()
    with TestClient(app) as client:
        yield client, app, own, other


def audit_actions(app, action):
    return [e for e in app.state.auth.archive.audit_entries() if e.action == action]


def cookie_login(client, name="zhangsan"):
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD, "cookie": True})
    assert r.status_code == 200, r.text
    return r


def test_script_login_gives_a_bearer_token(env):
    client, *_ = env
    r = client.post("/api/auth/login", json={"username": "zhangsan", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token"].startswith("xlt_")
    assert "set-cookie" not in r.headers
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert me["user"]["username"] == "zhangsan" and me["via"] == "bearer"
    assert me["permissions"] == {"record": True, "import": True, "search": True, "audit": False,
                                 "warnings": False, "admin": False}


@pytest.mark.parametrize("body,status", [({"username": "zhangsan", "password": "wrong-password"}, 401),
                                         ({"username": "nobody", "password": PASSWORD}, 401),
                                         ({"username": "zhangsan"}, 422), ({}, 422)])
def test_bad_logins_are_json_errors(env, body, status):
    client, app, *_ = env
    r = client.post("/api/auth/login", json=body)
    assert r.status_code == status and isinstance(r.json()["detail"], (str, list)) and "token" not in r.json()


def test_login_must_be_json_so_no_other_site_can_post_a_form(env):
    client, *_ = env
    r = client.post("/api/auth/login", data={"username": "zhangsan", "password": PASSWORD})
    assert r.status_code == 415


def test_anonymous_and_bad_credentials_get_401_json(env):
    client, _, own, _ = env
    for headers in ({}, {"Authorization": "Basic emhhbmdzYW46eA=="}, {"Authorization": "Bearer nope"},
                    {"Authorization": "Bearer "}):
        r = client.get(f"/api/sessions/{own}", headers=headers)
        assert r.status_code == 401 and r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"


def test_browser_login_sets_httponly_samesite_strict_cookies(env):
    client, *_ = env
    r = cookie_login(client)
    cookies = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    session, csrf = cookies["xunlu_session"], cookies["xunlu_csrf"]
    assert "httponly" in session and "samesite=strict" in session and "path=/" in session
    assert "secure" not in session                          # plain http on this machine
    assert "httponly" not in csrf and "samesite=strict" in csrf
    assert "token" not in r.json() and r.json()["csrf_token"]


def test_cookies_are_secure_over_https(tmp_path):
    app = auth_app(tmp_path)
    app.state.auth.add_user("zhangsan", OFFICER, PASSWORD)
    with TestClient(app, base_url="https://testserver") as client:
        r = cookie_login(client)
        assert all("; secure" in c.lower() for c in r.headers.get_list("set-cookie"))


def test_csrf_header_required_for_unsafe_cookie_requests(env):
    client, app, own, _ = env
    csrf = cookie_login(client).json()["csrf_token"]
    assert client.get(f"/api/sessions/{own}").status_code == 200          # reading needs no token
    r = client.post(f"/api/sessions/{own}/transcript")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert client.post(f"/api/sessions/{own}/transcript", headers={"X-CSRF-Token": "guess"}).status_code == 403
    assert client.post(f"/api/sessions/{own}/transcript", headers={"X-CSRF-Token": csrf}).status_code == 200
    denied = audit_actions(app, "auth.denied")
    assert len(denied) == 2 and all("CSRF" in e.details["reason"] and e.actor == "web:zhangsan" for e in denied)


def test_bearer_requests_need_no_csrf_token(env):
    client, _, own, _ = env
    headers = bearer(client, "zhangsan")
    assert client.post(f"/api/sessions/{own}/transcript", headers=headers).status_code == 200


def test_a_bearer_token_is_not_accepted_as_a_cookie(env):
    client, _, own, _ = env
    token = bearer(client, "zhangsan")["Authorization"].split()[1]
    client.cookies.set("xunlu_session", token)
    assert client.get(f"/api/sessions/{own}").status_code == 401


def test_logout_ends_a_bearer_token_at_once(env):
    client, app, own, _ = env
    headers = bearer(client, "zhangsan")
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    assert client.get(f"/api/sessions/{own}", headers=headers).status_code == 401
    assert audit_actions(app, "auth.logout")


def test_logout_ends_a_browser_session_and_clears_its_cookies(env):
    client, _, own, _ = env
    csrf = cookie_login(client).json()["csrf_token"]
    stolen = client.cookies.get("xunlu_session")
    assert client.post("/api/auth/logout").status_code == 403                 # logout needs the CSRF token too
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert any(c.startswith("xunlu_session=") and "max-age=0" in c.lower() for c in r.headers.get_list("set-cookie"))
    client.cookies.set("xunlu_session", stolen)                                # a copy of the cookie is dead
    assert client.get(f"/api/sessions/{own}").status_code == 401


def test_tokens_list_and_revoke_own_not_others(env):
    client, app, own, _ = env
    mine, spare = bearer(client, "zhangsan"), bearer(client, "zhangsan")
    theirs = bearer(client, "lisi")
    listed = client.get("/api/auth/tokens", headers=mine).json()
    assert len(listed) == 2 and sum(t["current"] for t in listed) == 1
    spare_id = client.get("/api/auth/me", headers=spare).json()["login"]
    assert client.post(f"/api/auth/tokens/{spare_id}/revoke", headers=mine).status_code == 200
    assert client.get(f"/api/sessions/{own}", headers=spare).status_code == 401
    their_id = client.get("/api/auth/me", headers=theirs).json()["login"]
    assert client.post(f"/api/auth/tokens/{their_id}/revoke", headers=mine).status_code == 404
    assert client.get("/api/auth/me", headers=theirs).status_code == 200
    admin = bearer(client, "root")
    assert client.post(f"/api/auth/tokens/{their_id}/revoke", headers=admin).status_code == 200
    assert client.get("/api/auth/me", headers=theirs).status_code == 401


def test_repeated_failures_make_that_address_wait_with_429(env):
    client, app, *_ = env
    for _ in range(app.state.auth.settings.max_failures):
        assert client.post("/api/auth/login", json={"username": "lisi", "password": "bad-password-x"}
                           ).status_code == 401
    r = client.post("/api/auth/login", json={"username": "lisi", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "try again" in r.json()["detail"]
    with TestClient(app, client=("10.20.30.40", 5555)) as elsewhere:      # another address is not kept out
        assert elsewhere.post("/api/auth/login", json={"username": "lisi", "password": PASSWORD}).status_code == 200
    admin = bearer(client, "root")
    assert client.get("/api/users/lisi", headers=admin).json()["locked_until"]
    assert client.post("/api/users/lisi/unlock", headers=admin).status_code == 200
    assert client.post("/api/auth/login", json={"username": "lisi", "password": PASSWORD}).status_code == 200


def test_per_session_checks(env):
    client, app, own, other = env
    zhang, li, sup, root = (bearer(client, n) for n in ("zhangsan", "lisi", "fazhi", "root"))
    assert client.get(f"/api/sessions/{own}", headers=zhang).status_code == 200
    assert client.get(f"/api/sessions/{other}", headers=zhang).status_code == 403
    assert client.get(f"/api/sessions/{other}", headers=li).status_code == 200
    assert client.get(f"/api/sessions/{own}", headers=sup).status_code == 200
    assert client.get(f"/api/sessions/{own}", headers=root).status_code == 403
    assert client.post(f"/api/sessions/{own}/transcript", headers=sup).status_code == 403
    assert client.get("/api/sessions/s-20990101-0001", headers=sup).status_code == 404
    assert client.get("/api/sessions/..%2F..%2Fetc", headers=sup).status_code == 404
    denied = [(e.actor, e.target) for e in audit_actions(app, "auth.denied")]
    assert ("web:zhangsan", other) in denied and ("web:root", own) in denied and ("web:fazhi", own) in denied


def test_admin_manages_users_and_others_may_not(env):
    client, app, own, _ = env
    officer, admin = bearer(client, "zhangsan"), bearer(client, "root")
    assert client.get("/api/users", headers=officer).status_code == 403
    assert client.post("/api/users", json={"username": "x1", "role": "admin"}, headers=officer).status_code == 403
    assert [e.details["path"] for e in audit_actions(app, "auth.denied")] == ["/api/users", "/api/users"]
    r = client.post("/api/users", json={"username": "wangwu", "role": "officer", "display_name": "王五"},
                    headers=admin)
    assert r.status_code == 201 and r.json()["password"]
    new = bearer(client, "wangwu", r.json()["password"])
    assert client.post("/api/users", json={"username": "wangwu", "role": "officer"}, headers=admin).status_code == 400
    assert client.post("/api/users", json={"username": "b", "role": "boss"}, headers=admin).status_code == 400
    assert client.post("/api/users/nobody/disable", headers=admin).status_code == 404
    assert client.post("/api/users/wangwu/disable", headers=admin).json()["disabled"] is True
    assert client.get("/api/auth/me", headers=new).status_code == 401                  # at once
    assert client.post("/api/users/root/disable", headers=admin).status_code == 400     # last admin
    r = client.post("/api/users/zhangsan/password", json={}, headers=admin)
    assert r.status_code == 200 and r.json()["password"]
    assert client.get("/api/auth/me", headers=officer).status_code == 401              # logins ended
    actions = [e.action for e in app.state.auth.archive.audit_entries() if e.actor == "web:root"]
    assert {"user.add", "user.disable", "user.passwd"} <= set(actions)


def test_change_own_password(env):
    client, *_ = env
    headers = bearer(client, "fazhi")
    r = client.post("/api/auth/password", json={"old_password": "wrong-one-xx", "new_password": "new-secret-55"},
                    headers=headers)
    assert r.status_code == 403
    r = client.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "short"}, headers=headers)
    assert r.status_code == 400
    r = client.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "new-secret-55"},
                    headers=headers)
    assert r.status_code == 200
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    bearer(client, "fazhi", "new-secret-55")


def test_websocket_needs_a_login_and_the_right_to_view(env):
    client, _, own, other = env
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect(f"/api/sessions/{own}/live"):
            pass
    assert info.value.code == 4401
    zhang = bearer(client, "zhangsan")
    with client.websocket_connect(f"/api/sessions/{own}/live", headers=zhang) as ws:
        assert ws.receive_json() == {"session": own}
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect(f"/api/sessions/{other}/live", headers=zhang):
            pass
    assert info.value.code == 4403


def test_websocket_with_a_cookie_refuses_other_sites(env):
    client, _, own, _ = env
    cookie_login(client)
    with client.websocket_connect(f"/api/sessions/{own}/live", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json() == {"session": own}
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect(f"/api/sessions/{own}/live", headers={"Origin": "http://evil.example"}):
            pass


def test_concurrent_logins_and_requests_hold_up(env):
    from concurrent.futures import ThreadPoolExecutor

    client, app, own, other = env

    def one(i):
        name = ("zhangsan", "fazhi")[i % 2]
        headers = bearer(client, name)
        codes = [client.get(f"/api/sessions/{own}", headers=headers).status_code,
                 client.get(f"/api/sessions/{other}", headers=headers).status_code,
                 client.post("/api/auth/logout", headers=headers).status_code,
                 client.get("/api/auth/me", headers=headers).status_code]
        return name, codes

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    for name, codes in results:
        assert codes == ([200, 403, 200, 401] if name == "zhangsan" else [200, 200, 200, 401]), (name, codes)
    from archive.audit import check_chain

    archive = app.state.auth.archive
    assert not check_chain(archive.conn, archive.head_file).problems
    assert len([e for e in archive.audit_entries() if e.action == "auth.login"]) == 32
