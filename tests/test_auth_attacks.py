"""Evidence boundaries, written as the attacks (each attack must fail), in-process over HTTP:

- locking the admin out by typing wrong passwords under their name, from one address or from many;
- hiding behind a spoofed X-Forwarded-For (it counts only from a configured proxy);
- an admin giving themselves, a new account, or an account whose password they set, evidence access alone
  (a second person, another admin or a supervisor, must confirm);
- and how many passwords an attacker gets to try against one account, from one address and from many
  (`test_brute_force_rates`, printed with -s).
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from helpers.auth import FAST, PASSWORD, auth_app, bearer

from accounts.addresses import address_key, client_address, parse_networks
from accounts.service import AuthService
from accounts.types import ADMIN, OFFICER, PENDING, SUPERVISOR, AuthError, AuthSettings, LoginRefused
from api.auth import session_access
from archive.store import Archive

WRONG = {"username": "root", "password": "wrong-password-1"}
RIGHT = {"username": "root", "password": PASSWORD}


def make_app(home, settings: AuthSettings = FAST):
    app = auth_app(home, settings)

    @app.get("/api/sessions/{sid}")
    def view(session=Depends(session_access("view"))):
        return {"id": session.id}

    auth = app.state.auth
    for name, role, display in (("root", ADMIN, None), ("root2", ADMIN, None), ("fazhi", SUPERVISOR, None),
                                ("zhangsan", OFFICER, "张三")):
        auth.add_user(name, role, PASSWORD, display)      # as the CLI does: in effect at once
    archive = Archive(home)
    with archive.new_session("system:test", status="complete", officers=("张三",)) as s:
        app.state.sid = s.id
    archive.close()
    return app


def addresses_in_audit(app, action):
    return [e.details.get("address") for e in app.state.auth.archive.audit_entries() if e.action == action]


# -- locking the admin out -------------------------------------------------------------------------------------
def test_an_attacker_cannot_lock_the_admin_out_from_another_address(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app, client=("198.51.100.7", 40000)) as attacker, \
            TestClient(app, client=("192.0.2.10", 40001)) as admin:
        codes = [attacker.post("/api/auth/login", json=WRONG).status_code for _ in range(30)]
        assert codes[:FAST.max_failures] == [401] * FAST.max_failures and set(codes[FAST.max_failures:]) == {429}
        r = admin.post("/api/auth/login", json=RIGHT)
        assert r.status_code == 200, r.text                        # the admin is not locked out
        assert attacker.post("/api/auth/login", json=RIGHT).status_code == 429  # the attacker's address waits
        for _ in range(3):                                          # and again, however long it goes on
            attacker.post("/api/auth/login", json=WRONG)
            assert admin.post("/api/auth/login", json=RIGHT).status_code == 200


def test_an_attacker_with_many_addresses_cannot_lock_the_admin_out(tmp_path):
    app = make_app(tmp_path, replace(FAST, trusted_proxies=("10.0.0.5",)))
    with TestClient(app, client=("10.0.0.5", 443)) as proxy:   # every address reaches us through the proxy
        for i in range(60):
            r = proxy.post("/api/auth/login", json=WRONG, headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert r.status_code == 401
        for i in range(60):                                         # their second tries must wait now
            r = proxy.post("/api/auth/login", json=WRONG, headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert r.status_code == 429
        r = proxy.post("/api/auth/login", json=RIGHT, headers={"X-Forwarded-For": "192.0.2.10"})
        assert r.status_code == 200, r.text


def test_an_ipv6_attacker_cannot_get_a_fresh_address_for_each_try():
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.1.2.3") == "10.1.2.3" and address_key(None) == "-"


# -- X-Forwarded-For -------------------------------------------------------------------------------------------
def test_a_spoofed_x_forwarded_for_is_ignored(tmp_path):
    app = make_app(tmp_path)                                        # no trusted proxies: the default
    with TestClient(app, client=("127.0.0.1", 40000)) as local:    # even from this machine
        codes = [local.post("/api/auth/login", json=WRONG, headers={"X-Forwarded-For": f"10.9.{i}.1"}).status_code
                 for i in range(FAST.max_failures + 3)]
        assert codes[-1] == 429, codes                              # a new "address" each try gains nothing
        r = local.post("/api/auth/login", json={"username": "fazhi", "password": PASSWORD},
                       headers={"X-Forwarded-For": "10.1.1.1"})
        assert r.status_code == 200
        tokens = local.get("/api/auth/tokens", headers={"Authorization": f"Bearer {r.json()['token']}",
                                                        "X-Forwarded-For": "10.1.1.1"}).json()
    assert {t["address"] for t in tokens} == {"127.0.0.1"}
    assert set(addresses_in_audit(app, "auth.login_failed")) == {"127.0.0.1"}
    assert set(addresses_in_audit(app, "auth.login")) == {"127.0.0.1"}


def test_x_forwarded_for_counts_only_from_a_configured_proxy(tmp_path):
    app = make_app(tmp_path, replace(FAST, trusted_proxies=("10.0.0.5", "10.0.1.0/24")))
    login = {"username": "fazhi", "password": PASSWORD}
    with TestClient(app, client=("10.0.0.5", 443)) as proxy, TestClient(app, client=("10.0.0.6", 1)) as other:
        # the client wrote "6.6.6.6" itself; the proxies appended what they saw: the right-most untrusted counts
        assert proxy.post("/api/auth/login", json=login,
                          headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.20, 10.0.1.7"}).status_code == 200
        assert other.post("/api/auth/login", json=login,
                          headers={"X-Forwarded-For": "198.51.100.21"}).status_code == 200
        assert proxy.post("/api/auth/login", json=login).status_code == 200   # no header: the proxy itself
    assert addresses_in_audit(app, "auth.login") == ["198.51.100.20", "10.0.0.6", "10.0.0.5"]


@pytest.mark.parametrize("peer, header, expected", [
    ("10.0.0.5", ["1.2.3.4"], "1.2.3.4"),
    ("10.0.0.5", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),
    ("10.0.0.5", ["6.6.6.6", "1.2.3.4"], "1.2.3.4"),         # two header lines are one list
    ("10.0.0.5", ["1.2.3.4, 10.0.0.5"], "1.2.3.4"),          # trusted hops are skipped
    ("10.0.0.5", ["not-an-ip"], "10.0.0.5"),                  # garbage: the proxy itself
    ("10.0.0.5", ["1.2.3.4, garbage"], "10.0.0.5"),
    ("10.0.0.5", ["[2001:db8::1]:4711"], "2001:db8::1"),
    ("10.0.0.5", [], "10.0.0.5"),
    ("10.0.0.9", ["1.2.3.4"], "10.0.0.9"),                    # not a proxy: ignored
    ("127.0.0.1", ["1.2.3.4"], "127.0.0.1"),
    ("testclient", ["1.2.3.4"], "testclient"),
])
def test_client_address_rules(peer, header, expected):
    assert client_address(peer, header, parse_networks(["10.0.0.5"])) == expected


def test_trusted_proxies_come_from_config_toml(tmp_path):
    from accounts.config import load_settings

    assert load_settings(tmp_path).trusted_proxies == ()
    (tmp_path / "config.toml").write_text('[auth]\ntrusted_proxies = ["10.0.0.5", "fd00::/8"]\nbackoff = 1\n'
                                          "account_failures = 20\naccount_window = 1800\n", encoding="utf-8")
    settings = load_settings(tmp_path)
    assert settings.trusted_proxies == ("10.0.0.5", "fd00::/8") and settings.backoff == 1
    assert (settings.account_failures, settings.account_window) == (20, 1800)
    for bad in ('[auth]\ntrusted_proxies = "10.0.0.5"\n', '[auth]\ntrusted_proxies = ["proxy.example"]\n',
                "[auth]\ntrusted_proxies = [5]\n", "[auth]\nbackoff = 0\n"):
        (tmp_path / "config.toml").write_text(bad, encoding="utf-8")
        with pytest.raises(AuthError):
            load_settings(tmp_path)


# -- separation of duties --------------------------------------------------------------------------------------
@pytest.fixture()
def sod(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app) as client:
        yield client, app, app.state.sid


def audit(app, action):
    return [e for e in app.state.auth.archive.audit_entries() if e.action == action]


def test_an_admin_cannot_give_a_new_account_evidence_access_alone(sod):
    client, app, sid = sod
    root = bearer(client, "root")
    r = client.post("/api/users", json={"username": "mole", "role": "supervisor"}, headers=root)
    assert r.status_code == 201
    assert (r.json()["user"]["role"], r.json()["user"]["pending_role"]) == (PENDING, SUPERVISOR)
    mole = bearer(client, "mole", r.json()["password"])            # the admin knows the password ...
    me = client.get("/api/auth/me", headers=mole).json()
    assert me["user"]["role"] == PENDING and not any(me["permissions"].values())
    assert client.get(f"/api/sessions/{sid}", headers=mole).status_code == 403   # ... and reads nothing
    assert client.post("/api/grants/mole/confirm", json={"role": "supervisor"}, headers=root).status_code == 403
    assert client.post("/api/grants/mole/confirm", json={"role": "supervisor"}, headers=mole).status_code == 403
    assert client.get(f"/api/sessions/{sid}", headers=mole).status_code == 403
    fazhi = bearer(client, "fazhi")                                  # a second person looks and confirms
    assert [u["username"] for u in client.get("/api/grants", headers=fazhi).json()] == ["mole"]
    r = client.post("/api/grants/mole/confirm", json={"role": "supervisor"}, headers=fazhi)
    assert r.status_code == 200 and r.json()["role"] == SUPERVISOR
    assert client.get(f"/api/sessions/{sid}", headers=mole).status_code == 200
    added = [e for e in audit(app, "user.add") if e.target == "users/mole"]
    assert added[0].actor == "web:root" and added[0].details["pending"] is True
    confirmed = audit(app, "user.confirm")
    assert [(e.actor, e.details["role"], e.details["requested_by"]) for e in confirmed] == \
        [("web:fazhi", SUPERVISOR, ["web:root"])]
    denied = [e for e in audit(app, "auth.denied") if "mole" in e.target]
    assert {e.actor for e in denied} == {"web:root", "web:mole"}


def test_an_admin_cannot_give_themselves_evidence_access_alone(sod):
    client, app, sid = sod
    root = bearer(client, "root")
    r = client.post("/api/users/root/role", json={"role": "supervisor"}, headers=root)
    assert r.status_code == 200 and r.json()["role"] == PENDING
    assert client.get("/api/auth/me", headers=root).status_code == 401              # that login ended
    root = bearer(client, "root")
    assert client.get(f"/api/sessions/{sid}", headers=root).status_code == 403      # no evidence ...
    assert client.get("/api/users", headers=root).status_code == 403                # ... nor admin while pending
    assert client.post("/api/grants/root/confirm", json={"role": "supervisor"}, headers=root).status_code == 403
    r = client.post("/api/grants/root/confirm", json={"role": "supervisor"}, headers=bearer(client, "root2"))
    assert r.status_code == 200
    assert client.get(f"/api/sessions/{sid}", headers=root).status_code == 200


def test_the_last_admin_cannot_ask_for_their_own_evidence_role(sod):
    client, app, _ = sod
    app.state.auth.set_disabled("root2", True)
    root = bearer(client, "root")
    r = client.post("/api/users/root/role", json={"role": "officer"}, headers=root)
    assert r.status_code == 400 and "last" in r.json()["detail"]
    assert client.get("/api/auth/me", headers=root).json()["user"]["role"] == ADMIN


def test_an_admin_cannot_take_over_an_evidence_account_by_setting_its_password(sod):
    client, app, sid = sod
    root = bearer(client, "root")
    r = client.post("/api/users/fazhi/password", json={}, headers=root)
    assert r.status_code == 200 and r.json()["user"]["pending_role"] == SUPERVISOR
    taken = bearer(client, "fazhi", r.json()["password"])
    assert client.get(f"/api/sessions/{sid}", headers=taken).status_code == 403
    assert client.post("/api/grants/fazhi/confirm", json={"role": "supervisor"}, headers=root).status_code == 403
    r = client.post("/api/grants/fazhi/confirm", json={"role": "supervisor"}, headers=bearer(client, "root2"))
    assert r.status_code == 200
    assert client.get(f"/api/sessions/{sid}", headers=taken).status_code == 200
    r = client.post("/api/users/root/password", json={"password": "my-own-new-pass-1"}, headers=root)
    assert r.status_code == 200 and r.json()["user"]["role"] == ADMIN               # one's own: nothing to confirm


def test_a_sock_puppet_admin_cannot_confirm(sod):
    client, app, sid = sod
    root = bearer(client, "root")
    puppet = client.post("/api/users", json={"username": "puppet", "role": "admin"}, headers=root).json()
    mole = client.post("/api/users", json={"username": "mole", "role": "officer"}, headers=root).json()
    assert puppet["user"]["role"] == PENDING and mole["user"]["role"] == PENDING
    as_puppet = bearer(client, "puppet", puppet["password"])
    assert client.get("/api/grants", headers=as_puppet).status_code == 403
    assert client.post("/api/grants/mole/confirm", json={"role": "officer"}, headers=as_puppet).status_code == 403
    assert client.post("/api/users/mole/role", json={"role": "officer"}, headers=as_puppet).status_code == 403
    assert app.state.auth.store.get("mole").role == PENDING


def test_a_confirmation_names_the_role_it_confirms(sod):
    client, app, _ = sod
    root, fazhi = bearer(client, "root"), bearer(client, "fazhi")
    assert client.post("/api/users/zhangsan/role", json={"role": "supervisor"}, headers=root).status_code == 200
    waiting = bearer(client, "zhangsan")
    assert client.get("/api/grants", headers=waiting).status_code == 403
    r = client.post("/api/grants/zhangsan/confirm", json={"role": "officer"}, headers=fazhi)
    assert r.status_code == 409                                       # not what was asked: look again
    assert client.post("/api/grants/fazhi/confirm", json={"role": "supervisor"}, headers=root).status_code == 409
    assert client.post("/api/grants/nobody/confirm", json={"role": "officer"}, headers=fazhi).status_code == 404
    assert client.post("/api/grants/zhangsan/confirm", json={"role": "supervisor"}, headers=fazhi).status_code == 200
    assert client.get("/api/grants", headers=waiting).json() == []


def test_cli_and_demo_users_take_effect_at_once(tmp_path):
    from accounts.setup import ensure_admin, ensure_demo_users

    svc = AuthService(tmp_path, FAST)
    admin, _ = ensure_admin(tmp_path, None, svc)
    assert admin.role == ADMIN and admin.pending_role is None
    for name, role, _ in ensure_demo_users(tmp_path, svc):
        assert svc.store.get(name).role == role
    web, _ = svc.add_user("mole", SUPERVISOR, PASSWORD, actor="web:admin", pending=True)
    assert web.role == PENDING
    assert svc.confirm("mole", None, SUPERVISOR, actor="system:root").role == SUPERVISOR
    svc.close()


# -- how fast can one guess? ------------------------------------------------------------------------------------
def guesses(svc: AuthService, addresses: list[str], seconds: float, t0: float, name: str = "root") -> int:
    """An attacker who tries as soon as each address is let (honouring Retry-After, 0.05 s per try):
    how many passwords they get checked against one account within `seconds`."""
    next_try = {a: t0 for a in addresses}
    checked = 0
    while True:
        address, t = min(next_try.items(), key=lambda kv: kv[1])
        if t >= t0 + seconds:
            return checked
        try:
            svc.login(name, "wrong-password-1", address, now=t)
        except LoginRefused as exc:
            if exc.retry_after:
                next_try[address] = t + exc.retry_after
                continue
            checked += 1
        next_try[address] = t + 0.05


@pytest.mark.parametrize("n_addresses, seconds, at_most", [
    (1, 60, 10), (1, 3600, 20), (1, 24 * 3600, 120),
    (100, 60, 120), (20, 3600, 120),
])
def test_brute_force_rates(tmp_path, n_addresses, seconds, at_most):
    import time

    svc = AuthService(tmp_path, FAST)
    svc.add_user("root", ADMIN, PASSWORD)
    addresses = [f"203.0.{i // 250}.{i % 250}" for i in range(n_addresses)]
    checked = guesses(svc, addresses, seconds, time.time())
    print(f"\n{n_addresses} address(es), {seconds / 60:g} min: {checked} passwords checked "
          f"({checked / (seconds / 60):.2f}/min)")
    assert checked <= at_most
    assert svc.login("root", PASSWORD, "192.0.2.10", now=time.time() + seconds)[0]   # the admin still gets in
    svc.close()


def test_a_spoofed_x_forwarded_for_is_ignored_by_the_real_server(tmp_path):
    """The same through uvicorn as `xunlu serve` runs it: a client on this machine cannot pick its address."""
    import httpx
    from helpers.auth import add_users, fast_auth

    from api.server import ServeOptions, start_in_thread

    running = start_in_thread(fast_auth(tmp_path), ServeOptions(port=0), transcriber=object())
    try:
        add_users(running.server.config.app, ("fazhi", SUPERVISOR, None))
        spoof = {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"}
        r = httpx.post(running.url + "/api/auth/login", json={"username": "fazhi", "password": PASSWORD,
                                                              "cookie": True}, headers=spoof)
        assert r.status_code == 200
        assert all("secure" not in c.lower() for c in r.headers.get_list("set-cookie"))   # still plain http
        tokens = httpx.get(running.url + "/api/auth/tokens", headers=spoof, cookies=r.cookies).json()
        assert {t["address"] for t in tokens} == {"127.0.0.1"}
    finally:
        running.stop()
