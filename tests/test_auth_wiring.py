"""The real app with the auth layer wired in: what users see is limited by the policy, and what they do is in
the audit chain with their name and address (session views, media once per viewing, search, export)."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.auth import PASSWORD

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from archive.store import Archive
from archive.types import MediaFile

USERS = (("zhangsan", OFFICER, "张三"), ("fazhi", SUPERVISOR, None), ("root", ADMIN, None))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from helpers.archive import scripted_transcribe

    from api.app import create_app
    from archive.fsutil import sha256_file
    from archive.transcripts import add_version
    from service.indexing import index_session

    home = tmp_path_factory.mktemp("wiring-home")
    (home / "config.toml").write_text(
        "[auth]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\nargon2_parallelism = 1\n", encoding="utf-8")
    archive = Archive(home)
    sessions = {}
    for who, officers in (("own", ("张三",)), ("other", ("李四",))):
        with archive.new_session("system:test", status="complete", officers=officers, case_id="A-1") as s:
            sid = sessions[who] = s.id
        add_version(archive, sid, scripted_transcribe(Path("x.wav"), ("officer", "suspect")), "asr", "system:test")
        media = archive.folder(sid) / "media" / "playable.mp4"
        media.parent.mkdir(parents=True, exist_ok=True)
        media.write_bytes(os.urandom(200_000))
        archive.add_media(sid, MediaFile("playable", "media/playable.mp4", sha256_file(media), 200_000))
        archive.write_manifest(sid)
        index_session(home, archive, sid)
    archive.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(home)
    for name, role, display in USERS:
        app.state.auth.add_user(name, role, PASSWORD, display)
    with TestClient(app) as client:
        yield client, app, home, sessions


def login(client, name):
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def entries(app, action):
    return [e for e in app.state.auth.archive.audit_entries() if e.action == action]


def test_a_session_view_is_audited_with_user_and_address(world):
    client, app, _, sessions = world
    r = client.get(f"/api/sessions/{sessions['own']}", headers=login(client, "zhangsan"))
    assert r.status_code == 200
    last = entries(app, "session.view")[-1]
    assert (last.actor, last.target, last.details.get("address")) == ("web:zhangsan", sessions["own"], "testclient")


def test_media_byte_ranges_are_one_view_in_the_audit(world):
    client, app, _, sessions = world
    headers = login(client, "fazhi")
    before = len(entries(app, "media.view"))
    for start in (0, 65536, 131072):
        r = client.get(f"/api/sessions/{sessions['other']}/media",
                       headers={**headers, "Range": f"bytes={start}-{start + 999}"})
        assert r.status_code == 206 and len(r.content) == 1000
    views = entries(app, "media.view")
    assert len(views) == before + 1
    assert (views[-1].actor, views[-1].target, views[-1].details.get("address")) == \
        ("web:fazhi", sessions["other"], "testclient")
    client.get(f"/api/sessions/{sessions['other']}/media", headers={**login(client, "fazhi"), "Range": "bytes=0-9"})
    assert len(entries(app, "media.view")) == before + 2       # a new login is a new viewing


def test_officers_list_and_find_only_their_sessions(world):
    client, app, _, sessions = world
    officer, supervisor = login(client, "zhangsan"), login(client, "fazhi")

    def ids(answer):
        items = answer if isinstance(answer, list) else answer.get("sessions", answer.get("items", []))
        return {s["id"] for s in items}

    assert ids(client.get("/api/sessions", headers=officer).json()) == {sessions["own"]}
    assert ids(client.get("/api/sessions", headers=supervisor).json()) == set(sessions.values())
    hits = client.get("/api/search", params={"q": "王五"}, headers=officer).json()["hits"]
    assert {h["session"] for h in hits} == {sessions["own"]}
    hits = client.get("/api/search", params={"q": "王五"}, headers=supervisor).json()["hits"]
    assert {h["session"] for h in hits} == set(sessions.values())
    searches = entries(app, "search")
    assert searches[-2].actor == "web:zhangsan" and searches[-2].details.get("address") == "testclient"


def test_an_export_is_audited(world):
    client, app, _, sessions = world
    r = client.get(f"/api/sessions/{sessions['own']}/export", params={"format": "txt"},
                   headers=login(client, "zhangsan"))
    assert r.status_code == 200 and "王五" in r.text
    last = entries(app, "export")[-1]
    assert (last.actor, last.target, last.details.get("address")) == ("web:zhangsan", sessions["own"], "testclient")


def test_supervisors_filter_the_audit_trail(world):
    from core.config import on_clock, zone

    client, _, home, sessions = world
    headers = login(client, "fazhi")
    found = client.get("/api/audit", params={"action": "auth.login"}, headers=headers).json()
    items = found if isinstance(found, list) else found.get("entries", [])
    assert items and all(e["action"] == "auth.login" for e in items)
    mine = client.get("/api/audit", params={"actor": "fazhi"}, headers=headers).json()
    assert mine and all(e["actor"].endswith("fazhi") for e in mine)
    assert any(e["action"] == "auth.login" for e in mine)
    today = on_clock(mine[-1]["at"], zone(home))[:10]   # a day on the centre's clock (UTC+8 by default)
    again = client.get("/api/audit", params={"actor": "fazhi", "since": today, "until": today},
                       headers=headers).json()
    assert [e for e in again if e["action"] != "audit.read"] == [e for e in mine if e["action"] != "audit.read"]
    assert len([e for e in again if e["action"] == "audit.read"]) > len([e for e in mine if e["action"] == "audit.read"])
    assert client.get("/api/audit", params={"since": "2000-01-01", "until": "2000-01-02"}, headers=headers).json() == []
    bad = client.get("/api/audit", params={"since": "yesterday"}, headers=headers)
    assert bad.status_code == 400 and "not a date" in bad.json()["detail"]
    assert client.get("/api/audit", headers=login(client, "root")).status_code == 403


def test_verify_still_checks_the_chain_after_web_activity(world):
    _, _, home, _ = world
    exe = Path(sys.executable).with_name("xunlu")
    r = subprocess.run([str(exe), "verify"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "XUNLU_HOME": str(home)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "unbroken" in r.stdout
