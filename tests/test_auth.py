"""The auth layer below HTTP: Argon2 hashing, the users store, tokens, lockout, audit, the access policy."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
from helpers.auth import FAST, PASSWORD

from accounts import policy
from accounts.passwords import Hasher, check_password, generate_password
from accounts.service import AuthService
from accounts.store import UserStore
from accounts.types import ADMIN, OFFICER, SUPERVISOR, AuthError, AuthSettings, LoginRefused, User
from archive.audit import check_chain
from archive.store import Archive


@pytest.fixture()
def service(tmp_path, catalog_backend):
    svc = AuthService(tmp_path, FAST)
    yield svc
    svc.close()


def actions(home, target=None):
    archive = Archive(home)
    try:
        return [(e.actor, e.action, e.target, e.details) for e in archive.audit_entries(target)]
    finally:
        archive.close()


# -- passwords ------------------------------------------------------------------------------------------
def test_argon2id_hash_verifies_only_the_right_password():
    hasher = Hasher(FAST)
    stored = hasher.hash("Tiananmen-42-xyz")
    assert stored.startswith("$argon2id$") and "Tiananmen" not in stored
    assert hasher.verify(stored, "Tiananmen-42-xyz")
    assert not hasher.verify(stored, "tiananmen-42-xyz")
    assert not hasher.verify(None, "anything")          # unknown user: still False
    assert not hasher.verify("not-a-hash", "anything")
    assert hasher.hash("same") != hasher.hash("same")    # salted


def test_stronger_settings_ask_for_a_rehash():
    weak = Hasher(FAST).hash("Tiananmen-42-xyz")
    assert Hasher(AuthSettings(argon2_time_cost=2, argon2_memory_kib=8192, argon2_parallelism=1)).needs_rehash(weak)
    assert not Hasher(FAST).needs_rehash(weak)


@pytest.mark.parametrize("password", ["short", "alice-is-my-name", "aaaaaaaaaaaa", " padded-password-1 "])
def test_password_rule_refuses_weak_passwords(password):
    with pytest.raises(AuthError):
        check_password(password, "alice")


def test_generated_passwords_pass_the_rule_and_differ():
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    for p in passwords:
        check_password(p, "admin")


# -- users store ----------------------------------------------------------------------------------------
def test_names_are_unique_across_login_and_display_names(service):
    service.add_user("zhangsan", OFFICER, PASSWORD, display_name="张三")
    for name, display in (("ZhangSan", None), ("张三", None), ("lisi", "张三"), ("lisi", "zhangsan")):
        with pytest.raises(AuthError, match="already used"):
            service.add_user(name, OFFICER, PASSWORD, display_name=display)
    assert service.store.get("ZHANGSAN").username == "zhangsan"


@pytest.mark.parametrize("name", ["", "system", "a b", "x" * 40, "system:root", "../etc", "-dash", "名字;drop"])
def test_bad_user_names_are_refused(service, name):
    with pytest.raises(AuthError):
        service.add_user(name, OFFICER, PASSWORD)


def test_unknown_role_is_refused(service):
    with pytest.raises(AuthError, match="role"):
        service.add_user("bob", "superuser", PASSWORD)


def test_store_is_wal_private_and_never_holds_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("XUNLU_DATABASE_URL", raising=False)
    service = AuthService(tmp_path, FAST)
    service.add_user("alice", OFFICER, PASSWORD)
    secret, csrf, _, _ = service.login("alice", PASSWORD, "10.0.0.1", kind="cookie")
    path = tmp_path / "users.sqlite"
    assert (path.stat().st_mode & 0o777) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("users.sqlite*"))
    assert secret.encode() not in blob and csrf.encode() not in blob and PASSWORD.encode() not in blob
    service.close()


def test_the_users_store_on_postgresql_never_holds_secrets(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("XUNLU_DATABASE_URL", postgres.new_database())
    service = AuthService(tmp_path, FAST)
    service.add_user("alice", OFFICER, PASSWORD)
    secret, csrf, _, _ = service.login("alice", PASSWORD, "10.0.0.1", kind="cookie")
    assert not list(tmp_path.glob("users.sqlite*"))            # nothing of the store in the home
    rows = [tuple(r) for table in ("users", "tokens", "login_attempts")
            for r in service.store.conn.execute(f"SELECT * FROM {table}").fetchall()]
    held = repr(rows)
    assert "alice" in held and secret not in held and csrf not in held and PASSWORD not in held
    service.close()


def test_last_enabled_admin_cannot_be_disabled_or_demoted(service):
    service.add_user("root1", ADMIN, PASSWORD)
    with pytest.raises(AuthError, match="last"):
        service.set_disabled("root1", True)
    with pytest.raises(AuthError, match="last"):
        service.set_role("root1", OFFICER)
    service.add_user("root2", ADMIN, PASSWORD)
    assert service.set_disabled("root1", True).disabled


# -- tokens ---------------------------------------------------------------------------------------------
def test_token_lifetime_revocation_and_disable(service):
    service.add_user("alice", OFFICER, PASSWORD)
    secret, csrf, token, user = service.login("alice", PASSWORD, "10.0.0.1")
    assert csrf is None and token.kind == "bearer" and user.username == "alice"
    assert service.authenticate(secret)[1].username == "alice"
    assert service.authenticate(secret + "x") is None
    assert service.store.lookup(secret, now=token.expires_at + 1) is None      # expired
    service.store.revoke(token.id)
    assert service.authenticate(secret) is None                                # revoked at once
    secret2, *_ = service.login("alice", PASSWORD, "10.0.0.1")
    service.set_disabled("alice", True)
    assert service.authenticate(secret2) is None
    service.set_disabled("alice", False)
    assert service.authenticate(secret2) is None                               # stays revoked
    secret3, *_ = service.login("alice", PASSWORD, "10.0.0.1")
    service.set_password("alice", "another-good-pass-9")
    assert service.authenticate(secret3) is None


def test_revocation_is_seen_by_another_process_store(tmp_path, service):
    service.add_user("alice", OFFICER, PASSWORD)
    secret, _, token, _ = service.login("alice", PASSWORD, "10.0.0.1")
    other = UserStore(tmp_path)      # a second server process on the same home
    assert other.lookup(secret) is not None
    service.store.revoke(token.id)
    assert other.lookup(secret) is None
    other.close()


# -- lockout and rate limits ------------------------------------------------------------------------------
def test_failures_make_that_address_wait_longer_and_longer_then_it_expires(tmp_path, catalog_backend):
    service = AuthService(tmp_path, replace(FAST, address_failures=1000))   # only the name's backoff here
    service.add_user("alice", OFFICER, PASSWORD)
    t0 = time.time()
    for i in range(FAST.max_failures):                      # the first tries from an address are free
        with pytest.raises(LoginRefused) as info:
            service.login("alice", "wrong-password-1", "10.0.0.1", now=t0 + i)
        assert info.value.retry_after is None and "wrong user name or password" in str(info.value)
    with pytest.raises(LoginRefused) as info:              # then even the right password waits, from there
        service.login("alice", PASSWORD, "10.0.0.1", now=t0 + FAST.max_failures)
    assert info.value.retry_after and info.value.retry_after <= FAST.backoff
    waits = []
    t = t0 + 10
    for _ in range(12):                                     # each failure doubles the wait, up to `lockout`
        with pytest.raises(LoginRefused):
            service.login("alice", "wrong-password-1", "10.0.0.1", now=t)
        with pytest.raises(LoginRefused) as info:
            service.login("alice", PASSWORD, "10.0.0.1", now=t + 0.5)
        waits.append(info.value.retry_after)
        t += info.value.retry_after + 1
    assert waits == sorted(waits) and waits[1] >= 2 * waits[0] - 1 and max(waits) == FAST.lockout
    assert service.store.get("alice").locked_until > t0
    secret, *_ = service.login("alice", PASSWORD, "10.0.0.1", now=t + FAST.lockout + 1)
    assert service.authenticate(secret)
    assert service.store.get("alice").failed_logins == 0
    got = [(a, t, d.get("reason")) for _, a, t, d in actions(service.home, "users/alice")]
    assert ("auth.login_failed", "users/alice", "wrong password") in got
    assert ("auth.backoff", "users/alice", None) in got
    assert any(a == "auth.login_failed" and "wait" in r for a, _, r in got)
    assert got[-1][0] == "auth.login"
    service.close()


def test_failures_from_other_addresses_never_keep_the_right_password_out(service):
    service.add_user("root", ADMIN, PASSWORD)
    t0 = time.time()
    for i in range(200):   # an attacker from many addresses, as fast as they are let
        with pytest.raises(LoginRefused):
            service.login("root", "wrong-password-1", f"10.6.{i // 250}.{i % 250}", now=t0 + i / 10)
    assert service.login("root", PASSWORD, "10.0.0.2", now=t0 + 21)[0]   # a new address, not waiting


def test_unknown_names_wait_like_real_ones(service):
    service.add_user("alice", OFFICER, PASSWORD)
    t0 = time.time()
    for name in ("ghost", "alice"):
        for i in range(FAST.max_failures):
            with pytest.raises(LoginRefused) as info:
                service.login(name, "wrong-password-1", "10.0.0.9", now=t0 + i)
            assert "wrong user name or password" in str(info.value)
        with pytest.raises(LoginRefused) as info:
            service.login(name, "wrong-password-1", "10.0.0.9", now=t0 + FAST.max_failures)
        assert info.value.retry_after and "try again" in str(info.value)


def test_admin_unlock_lifts_a_wait(service):
    service.add_user("alice", OFFICER, PASSWORD)
    for _ in range(FAST.max_failures + 3):
        with pytest.raises(LoginRefused):
            service.login("alice", "wrong-password-1", "10.0.0.1")
    service.unlock("alice", actor="web:root")
    assert service.login("alice", PASSWORD, "10.0.0.1")[0]


def test_one_address_trying_many_names_is_slowed_down(tmp_path, catalog_backend):
    settings = AuthSettings(argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1, address_failures=4)
    svc = AuthService(tmp_path, settings)
    svc.add_user("alice", OFFICER, PASSWORD)
    t0 = time.time()
    for i in range(4):
        with pytest.raises(LoginRefused):
            svc.login(f"user{i}", "wrong-password-1", "10.9.9.9", now=t0 + i)
    with pytest.raises(LoginRefused) as info:
        svc.login("alice", PASSWORD, "10.9.9.9", now=t0 + 5)
    assert info.value.retry_after and "address" in str(info.value)
    for i in range(50):   # a flood is refused without hashing and without flooding the audit chain
        with pytest.raises(LoginRefused):
            svc.login("alice", "wrong-password-1", "10.9.9.9", now=t0 + 6 + i / 100)
    limited = [d for _, a, _, d in actions(tmp_path) if a == "auth.login_failed" and "rate" in d["reason"]]
    assert len(limited) == 1
    with pytest.raises(LoginRefused):   # a flood that goes on is noted again once per window
        svc.login("alice", "wrong-password-1", "10.9.9.9", now=t0 + 6 + settings.address_window / 2)
    svc._address_failures.hit("10.9.9.9", t0 + 7 + settings.address_window)
    for _ in range(3):
        svc._address_failures.hit("10.9.9.9", t0 + 8 + settings.address_window)
    with pytest.raises(LoginRefused):
        svc.login("alice", "wrong-password-1", "10.9.9.9", now=t0 + 9 + settings.address_window)
    limited = [d for _, a, _, d in actions(tmp_path) if a == "auth.login_failed" and "rate" in d["reason"]]
    assert len(limited) == 2
    assert svc.login("alice", PASSWORD, "10.1.1.1", now=t0 + 5)[0]                       # other addresses fine
    assert svc.login("alice", PASSWORD, "10.9.9.9", now=t0 + 2 * settings.address_window + 20)[0]
    svc.close()


def test_disabled_user_cannot_log_in_and_it_is_audited(service):
    service.add_user("alice", OFFICER, PASSWORD)
    service.set_disabled("alice", True)
    with pytest.raises(LoginRefused, match="disabled"):
        service.login("alice", PASSWORD, "10.0.0.1")
    assert ("auth.login_failed", {"address": "10.0.0.1", "reason": "disabled"}) in \
        [(a, d) for _, a, _, d in actions(service.home)]


# -- audit ------------------------------------------------------------------------------------------------
def test_media_views_are_audited_once_per_viewing(service):
    user = User("alice", OFFICER)
    assert service.audit_media_view(user, "login1", "s-20261122-0001", "playable", "10.0.0.1")
    for _ in range(5):   # the player's byte ranges
        assert not service.audit_media_view(user, "login1", "s-20261122-0001", "playable", "10.0.0.1")
    assert service.audit_media_view(user, "login2", "s-20261122-0001", "playable", "10.0.0.1")
    views = [a for _, a, _, _ in actions(service.home) if a == "media.view"]
    assert len(views) == 2


def test_audit_chain_still_verifies_after_auth_events(service):
    service.add_user("alice", OFFICER, PASSWORD)
    service.login("alice", PASSWORD, "10.0.0.1")
    with pytest.raises(LoginRefused):
        service.login("alice", "nope-nope-nope", "10.0.0.1")
    archive = Archive(service.home)
    report = check_chain(archive.conn, archive.head_file)
    archive.close()
    assert report.entries >= 3 and not report.problems


# -- policy -----------------------------------------------------------------------------------------------
ZHANG = User("zhangsan", OFFICER, display_name="张三")
LI = User("lisi", OFFICER)
SUP = User("fazhi", SUPERVISOR)
ROOT = User("root", ADMIN)
GONE = User("wangwu", OFFICER, disabled=True)
OWN = SimpleNamespace(id="s-20261122-0001", officers=("张三", "赵六"))
OTHER = SimpleNamespace(id="s-20261122-0002", officers=("lisi",))

# (function, user, session) -> allowed
POLICY = [
    ("can_view_session", ZHANG, OWN, True), ("can_view_session", ZHANG, OTHER, False),
    ("can_view_session", LI, OTHER, True), ("can_view_session", SUP, OWN, True),
    ("can_view_session", ROOT, OWN, False), ("can_view_session", None, OWN, False),
    ("can_view_session", GONE, SimpleNamespace(officers=("wangwu",)), False),
    ("can_edit_transcript", ZHANG, OWN, True), ("can_edit_transcript", ZHANG, OTHER, False),
    ("can_edit_transcript", SUP, OWN, False), ("can_edit_transcript", ROOT, OWN, False),
    ("can_stop_session", ZHANG, OWN, True), ("can_stop_session", SUP, OWN, False),
    ("can_stop_session", LI, OWN, False),
]
ROLE_POLICY = [
    ("can_record", ZHANG, True), ("can_record", SUP, False), ("can_record", ROOT, False),
    ("can_record", None, False), ("can_record", GONE, False),
    ("can_import", ZHANG, True), ("can_import", ROOT, True), ("can_import", SUP, False),
    ("can_search", ZHANG, True), ("can_search", SUP, True), ("can_search", ROOT, False),
    ("can_read_audit", SUP, True), ("can_read_audit", ZHANG, False), ("can_read_audit", ROOT, False),
    ("can_admin", ROOT, True), ("can_admin", SUP, False), ("can_admin", ZHANG, False),
    ("can_delete_evidence", ROOT, False), ("can_delete_evidence", SUP, False), ("can_delete_evidence", ZHANG, False),
]


@pytest.mark.parametrize("fn,user,session,allowed", POLICY)
def test_session_policy(fn, user, session, allowed):
    assert getattr(policy, fn)(user, session) is allowed


@pytest.mark.parametrize("fn,user,allowed", ROLE_POLICY)
def test_role_policy(fn, user, allowed):
    assert getattr(policy, fn)(user) is allowed


def test_officer_names_match_login_or_display_name_case_insensitively():
    assert policy.took_part(ZHANG, SimpleNamespace(officers=("ZhangSan",)))
    assert not policy.took_part(ZHANG, SimpleNamespace(officers=("张三丰",)))
    assert policy.visible(ZHANG, [OWN, OTHER]) == [OWN]
    assert policy.visible(SUP, [OWN, OTHER]) == [OWN, OTHER]


def test_creator_is_added_to_the_officers():
    assert policy.with_officer(ZHANG, ["赵六"]) == ("张三", "赵六")
    assert policy.with_officer(ZHANG, ["zhangsan"]) == ("zhangsan",)
    assert policy.with_officer(ROOT, ["赵六"]) == ("赵六",)
    assert policy.took_part(LI, SimpleNamespace(officers=policy.with_officer(LI, [])))


# -- settings and serving ---------------------------------------------------------------------------------
@pytest.mark.parametrize("host,tls,warns", [("127.0.0.1", False, False), ("localhost", False, False),
                                            ("::1", False, False), ("[::1]", False, False),
                                            ("0.0.0.0", False, True), ("192.168.1.20", False, True),
                                            ("::", False, True), ("0.0.0.0", True, False)])
def test_bind_warning_only_beyond_loopback_without_tls(host, tls, warns):
    from accounts.setup import bind_warning

    message = bind_warning(host, tls)
    assert (message is not None) is warns
    if warns:
        assert host in message and "TLS" in message


def test_auth_settings_come_from_config_toml(tmp_path):
    from accounts.config import load_settings

    assert load_settings(tmp_path) == AuthSettings()
    (tmp_path / "config.toml").write_text("[asr]\nmodel = 'base'\n[auth]\nmax_failures = 3\nlockout = 60\n"
                                          "secure_cookies = true\n", encoding="utf-8")
    settings = load_settings(tmp_path)
    assert (settings.max_failures, settings.lockout, settings.secure_cookies) == (3, 60, True)
    for bad in ("[auth]\nmax_failure = 3\n", "[auth]\nlockout = -1\n", "[auth]\nsecure_cookies = 1\n",
                "[auth]\nlockout = 'x'\n", "auth = 3\n", "[auth\n"):
        (tmp_path / "config.toml").write_text(bad, encoding="utf-8")
        with pytest.raises(AuthError):
            load_settings(tmp_path)


def test_demo_users_are_made_once(tmp_path):
    from accounts.setup import ensure_demo_users

    svc = AuthService(tmp_path, FAST)
    made = ensure_demo_users(tmp_path, svc)
    assert {role for _, role, _ in made} == {OFFICER, SUPERVISOR} and all(p for _, _, p in made)
    name, _, password = made[0]
    assert svc.login(name, password, "127.0.0.1")[0]
    assert all(p is None for _, _, p in ensure_demo_users(tmp_path, svc))
    svc.close()
