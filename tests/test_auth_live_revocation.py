"""The attack: keep watching a live interview after one's login was ended. Against a real uvicorn server
(api.server.start_in_thread) with the scripted live backend: a viewer whose login is logged out, revoked (by
themselves or an admin), whose user is disabled, re-roled or has their password set by an admin, or whose user
is disabled by another process (the CLI on the server), stops receiving within a second: the socket is closed
with 1008 (policy violation), and the end is audited. Other viewers go on receiving."""
from __future__ import annotations

import contextlib
import itertools
import json
import time

import pytest
import websockets.sync.client as websockets_sync
from helpers.auth import add_users, fast_auth, http_client
from test_web_fakes import FakeLive, script
from websockets.exceptions import ConnectionClosed

from accounts.types import ADMIN, OFFICER, SUPERVISOR

LINES = script([(1.0 + 3 * i, 3.0 + 3 * i, "officer" if i % 2 == 0 else "suspect", f"第{i}句话说的是仓库")
                for i in range(60)])
NAMES = itertools.count(1)
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.server import ServeOptions, start_in_thread

    home = fast_auth(tmp_path_factory.mktemp("live-revocation-home"))
    running = start_in_thread(home, ServeOptions(port=0), transcriber=object(), live=FakeLive(home, LINES, 4.0))
    app = running.server.config.app
    add_users(app, ("zhangsan", OFFICER, "张三"), ("root", ADMIN, None))
    officer, admin = http_client(running.url, "zhangsan"), http_client(running.url, "root")
    started = []

    def new_session(*officers: str) -> str:
        r = officer.post("/api/sessions", json={"audio": "test", "case_id": "WS-AUTH",
                                                "officers": list(officers)})
        assert r.status_code == 201, r.text
        started.append(r.json()["id"])
        return r.json()["id"]

    try:
        yield {"url": running.url, "app": app, "home": home, "officer": officer, "admin": admin,
               "new_session": new_session, "sid": new_session()}
    finally:
        for sid in started:
            officer.post(f"/api/sessions/{sid}/stop")
        officer.close()
        admin.close()
        running.stop()


def ws_url(server, sid: str) -> str:
    return server["url"].replace("http://", "ws://") + f"/api/sessions/{sid}/live"


@contextlib.contextmanager
def viewer(server, sid: str, token: str):
    with websockets_sync.connect(ws_url(server, sid), additional_headers={"Authorization": f"Bearer {token}"},
                                 open_timeout=10, max_size=None) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] in ("snapshot", "recording"), first
        yield ws


def login(server, name: str) -> str:
    client = http_client(server["url"], name)
    token = client.headers["Authorization"].split()[1]
    client.close()
    return token


def new_user(server, role: str, display: str | None = None) -> tuple[str, str]:
    name = f"{role[:3]}{next(NAMES)}"
    add_users(server["app"], (name, role, display))
    return name, login(server, name)


def receiving(ws, within: float = 5.0) -> bool:
    """Whether the socket gets an event within `within` seconds (status events come every 0.2 s)."""
    try:
        ws.recv(timeout=within)
        return True
    except TimeoutError:
        return False


def closed_within(ws, seconds: float) -> tuple[float, int]:
    """Read until the server closes: (seconds it took, close code); fails when it is still open after `seconds`."""
    t0 = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            left = seconds - (time.monotonic() - t0)
            assert left > 0, f"still receiving {seconds} s after the login ended"
            try:
                ws.recv(timeout=left)
            except TimeoutError:
                raise AssertionError(f"the socket stayed open {seconds} s after the login ended") from None
    return time.monotonic() - t0, closed.value.rcvd.code if closed.value.rcvd else None


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def end_login(server, how: str, name: str, token: str) -> None:
    """Each of the ways a login ends or loses its rights, as the web app does it."""
    import httpx

    admin = server["admin"]
    if how == "logout":
        r = httpx.post(server["url"] + "/api/auth/logout", headers=bearer(token))
    elif how == "revoke own":
        me = httpx.get(server["url"] + "/api/auth/me", headers=bearer(token)).json()
        r = httpx.post(server["url"] + f"/api/auth/tokens/{me['login']}/revoke", headers=bearer(token))
    elif how == "admin revokes the token":
        login_id = admin.get(f"/api/users/{name}/tokens").json()[0]["id"]
        r = admin.post(f"/api/auth/tokens/{login_id}/revoke")
    elif how == "admin revokes every login":
        r = admin.post(f"/api/users/{name}/revoke")
    elif how == "disable":
        r = admin.post(f"/api/users/{name}/disable")
    elif how == "role change":
        r = admin.post(f"/api/users/{name}/role", json={"role": OFFICER})
    elif how == "admin sets the password":
        r = admin.post(f"/api/users/{name}/password", json={})
    else:
        raise AssertionError(how)
    assert r.status_code == 200, r.text


WAYS = ["logout", "revoke own", "admin revokes the token", "admin revokes every login", "disable", "role change",
        "admin sets the password"]


@pytest.mark.parametrize("how", WAYS)
def test_a_supervisor_whose_login_ends_stops_receiving_within_a_second(server, how):
    name, token = new_user(server, SUPERVISOR)
    control = login(server, "zhangsan")
    with viewer(server, server["sid"], control) as other, viewer(server, server["sid"], token) as ws:
        assert receiving(ws)
        t0 = time.monotonic()
        end_login(server, how, name, token)
        took, code = closed_within(ws, 1.0)
        assert code == 1008, code
        print(f"\n{how}: closed {time.monotonic() - t0:.3f} s after the request was sent ({took:.3f} s after "
              "its answer)")
        assert receiving(other)                                  # the officer's view goes on
    ended = [e for e in server["app"].state.auth.archive.audit_entries()
             if e.action == "auth.denied" and e.actor == f"web:{name}"]
    assert ended and "live view ended" in ended[-1].details["reason"]


def test_a_disabled_officer_of_the_session_stops_receiving(server):
    name, token = new_user(server, OFFICER, "李四")
    sid = server["new_session"]("李四")
    with viewer(server, sid, token) as ws:
        assert receiving(ws)
        end_login(server, "disable", name, token)
        assert closed_within(ws, 1.0)[1] == 1008
    with pytest.raises(Exception):                               # and cannot come back
        with viewer(server, sid, token):
            pass


def test_a_user_disabled_by_another_process_stops_receiving(server):
    """`xunlu users disable` on the server changes the users store from another process: the socket notices at
    its next re-check (api/auth/watch.RECHECK_S)."""
    from accounts.store import UserStore
    from api.auth.watch import RECHECK_S

    name, token = new_user(server, SUPERVISOR)
    with viewer(server, server["sid"], token) as ws:
        assert receiving(ws)
        store = UserStore(server["home"])                        # as the CLI would open it
        try:
            store.set_disabled(name, True)
        finally:
            store.close()
        assert closed_within(ws, RECHECK_S + 1.0)[1] == 1008


def test_a_viewer_of_a_recording_in_another_process_stops_receiving_too(server):
    """The journal-following view (api/routes/live_tail.py) of a session that `xunlu record` records."""
    from archive.store import Archive

    archive = Archive(server["home"])
    birth = archive.new_session("system:record", status="recording", officers=("张三",))
    sid = birth.__enter__().id
    try:
        name, token = new_user(server, SUPERVISOR)
        with viewer(server, sid, token) as ws:
            end_login(server, "logout", name, token)
            assert closed_within(ws, 1.0)[1] == 1008
    finally:
        archive.update_session(sid, status="complete")
        with contextlib.suppress(Exception):
            birth.__exit__(None, None, None)
        archive.close()


def test_a_new_login_of_the_same_user_keeps_watching(server):
    """Only the login that ended is cut off: the same user's other login goes on."""
    name, token = new_user(server, SUPERVISOR)
    second = login(server, name)
    with viewer(server, server["sid"], second) as stays, viewer(server, server["sid"], token) as ws:
        end_login(server, "logout", name, token)
        assert closed_within(ws, 1.0)[1] == 1008
        assert receiving(stays)


def test_an_officer_taken_off_the_session_is_cut_off_at_the_next_session_check():
    """The re-check also reads the session again (every SESSION_EVERY checks): an officer no longer among its
    officers may no longer watch."""
    from types import SimpleNamespace

    from accounts.types import Token, User
    from api.auth.deps import Login
    from api.auth.watch import why_ended

    user = User("lisi", OFFICER, display_name="李四")
    token = Token("t1", "lisi", "bearer", 0.0, time.time() + 3600)
    before = SimpleNamespace(id="s-20261206-0001", officers=("张三", "李四"))
    after = SimpleNamespace(id="s-20261206-0001", officers=("张三",))
    auth = SimpleNamespace(store=SimpleNamespace(login_of=lambda _id: (token, user)), session=lambda _sid: after)
    login = Login(user, token, "bearer")
    assert why_ended(auth, login, before, reread_session=False) == (None, before)
    reason, session = why_ended(auth, login, before, reread_session=True)
    assert session is after and "may no longer view" in reason
    gone = SimpleNamespace(store=SimpleNamespace(login_of=lambda _id: None), session=lambda _sid: before)
    assert "login ended" in why_ended(gone, login, before, reread_session=False)[0]
    promoted = SimpleNamespace(store=SimpleNamespace(login_of=lambda _id: (token, User("lisi", SUPERVISOR))),
                               session=lambda _sid: before)
    assert "role changed" in why_ended(promoted, login, before, reread_session=False)[0]
