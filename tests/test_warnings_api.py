"""Warnings over HTTP in-process: the list with filters (red first), closing with a reason (audited), badges,
a session's warnings (live ones while it is recorded), signing, and who may do what."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_warnings_archive import make_session

from api.app import create_app
from archive.store import Archive

PASSWORD = "correct-horse-77"


class OneLive:
    """Stand-in for service.live: one running session with a fixed snapshot."""

    def __init__(self):
        self.sid, self.snap = None, {}

    def get_live(self, sid):
        if sid != self.sid:
            return None
        snap = self.snap
        return type("Live", (), {"snapshot": lambda self: snap})()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("warn-api")
    (home / "config.toml").write_text("[auth]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\n"
                                      "argon2_parallelism = 1\n", encoding="utf-8")
    (home / "rules.toml").write_text('[room_not_approved]\napproved = ["讯问室1"]\n', encoding="utf-8")
    archive = Archive(home)
    clean = make_session(archive, started="2026-11-20T09:00:00+08:00", unit="刑侦大队")
    bad = make_session(archive, notice=False, officers=("张三",), room="办公室", suspect="赵六",
                       started="2026-11-21T09:00:00+08:00", unit="经侦大队")
    with archive.new_session("system:test", status="recording", officers=("张三",),
                             speakers=("officer", "suspect"), started_at="2026-11-21T09:00:00+08:00",
                             room="讯问室1") as s:
        running = s.id
    archive.close()
    live = OneLive()
    live.sid = running
    live.snap = {"segments": [{"start": 3, "end": 6, "speaker": "officer", "channel": 0, "text": "开始讯问"}],
                 "status": {"elapsed": 700.0}}
    app = create_app(home, transcriber=object(), live=live)
    auth = app.state.auth
    auth.add_user("super", "supervisor", PASSWORD, "王法制员")
    auth.add_user("zhang", "officer", PASSWORD, "张三")
    auth.add_user("other", "officer", PASSWORD, "钱八")
    with TestClient(app) as client:
        tokens = {}
        for name in ("super", "zhang", "other"):
            r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[name] = {"Authorization": f"Bearer {r.json()['token']}"}
        yield {"c": client, "t": tokens, "clean": clean, "bad": bad, "running": running, "home": home}


def test_list_red_first_and_filters(world):
    c, sup = world["c"], world["t"]["super"]
    r = c.get("/api/warnings", headers=sup, params={"refresh": 1})
    assert r.status_code == 200, r.text
    data = r.json()
    got = {(w["session"], w["rule"]) for w in data["warnings"]}
    assert {(world["bad"], "rights_notice"), (world["bad"], "too_few_officers"),
            (world["bad"], "room_not_approved")} <= got
    levels = [w["level"] for w in data["warnings"]]
    assert levels == sorted(levels, key=lambda lv: lv != "red")
    assert "经侦大队" in data["units"] and "rights_notice" in data["rules"]
    only = c.get("/api/warnings", headers=sup, params={"unit": "经侦大队", "rule": "room_not_approved"}).json()
    assert [(w["session"], w["rule"]) for w in only["warnings"]] == [(world["bad"], "room_not_approved")]
    dated = c.get("/api/warnings", headers=sup, params={"since": "2026-11-21", "until": "2026-11-21"}).json()
    assert dated["warnings"] and all(w["session"] == world["bad"] for w in dated["warnings"])
    for bad in ({"level": "purple"}, {"rule": "nope"}, {"since": "yesterday"}, {"state": "gone"}):
        r = c.get("/api/warnings", headers=sup, params=bad)
        assert r.status_code == 400 and r.json()["detail"]


def test_close_needs_a_reason_and_is_audited(world):
    c, sup = world["c"], world["t"]["super"]
    target = c.get("/api/warnings", headers=sup, params={"rule": "room_not_approved"}).json()["warnings"][0]
    r = c.post(f"/api/warnings/{target['id']}/close", headers=sup, json={"reason": "  "})
    assert r.status_code == 400
    r = c.post(f"/api/warnings/{target['id']}/close", headers=sup, json={"reason": "临时借用，已报批"})
    assert r.status_code == 200 and r.json()["state"] == "closed" and r.json()["closed_by"] == "web:super"
    assert c.post("/api/warnings/999999/close", headers=sup, json={"reason": "x"}).status_code == 404
    everything = c.get("/api/warnings", headers=sup, params={"state": "all"}).json()["warnings"]
    assert any(w["id"] == target["id"] and w["state"] == "closed" for w in everything)
    archive = Archive(world["home"])
    try:
        closes = [e for e in archive.audit_entries() if e.action == "warning.close"]
    finally:
        archive.close()
    assert closes[-1].actor == "web:super" and closes[-1].details["reason"] == "临时借用，已报批"


def test_only_supervisors_see_the_list(world):
    c = world["c"]
    assert c.get("/api/warnings").status_code == 401
    assert c.get("/api/warnings", headers=world["t"]["zhang"]).status_code == 403
    target = c.get("/api/warnings", headers=world["t"]["super"]).json()["warnings"][0]
    assert c.post(f"/api/warnings/{target['id']}/close", headers=world["t"]["zhang"],
                  json={"reason": "mine"}).status_code == 403


def test_badges_and_session_warnings(world):
    c, sup, zhang = world["c"], world["t"]["super"], world["t"]["zhang"]
    badges = c.get("/api/warnings/badges", headers=sup).json()
    assert badges[world["bad"]]["red"] >= 2
    assert world["bad"] not in c.get("/api/warnings/badges", headers=world["t"]["other"]).json()
    r = c.get(f"/api/sessions/{world['bad']}/warnings", headers=zhang)
    assert r.status_code == 200 and r.json()["live"] is False
    assert {w["rule"] for w in r.json()["warnings"]} >= {"rights_notice", "too_few_officers"}
    assert c.get(f"/api/sessions/{world['bad']}/warnings", headers=world["t"]["other"]).status_code == 403


def test_live_session_warnings(world):
    r = world["c"].get(f"/api/sessions/{world['running']}/warnings", headers=world["t"]["zhang"])
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["live"] is True
    assert {w["rule"] for w in data["warnings"]} == {"rights_notice", "too_few_officers"}


def test_sign_and_fields(world):
    c, zhang, sup = world["c"], world["t"]["zhang"], world["t"]["super"]
    sid = world["clean"]
    assert c.post(f"/api/sessions/{sid}/sign", headers=world["t"]["other"], json={}).status_code == 403
    r = c.post(f"/api/sessions/{sid}/supervision", headers=zhang, json={"check_in_at": "not a time"})
    assert r.status_code == 400 and "not a date" in r.json()["detail"]
    r = c.post(f"/api/sessions/{sid}/supervision", headers=zhang, json={"night_reason": "案情紧急"})
    assert r.status_code == 202 and r.json()["pending"] == {"night_reason": "案情紧急"}   # a supervisor confirms it
    r = c.post(f"/api/sessions/{sid}/supervision/confirm", headers=sup, json={"accept": True, "reason": "核实属实"})
    assert r.status_code == 200 and r.json()["night_reason"] == "案情紧急"
    r = c.post(f"/api/sessions/{sid}/sign", headers=zhang, json={"signer": "王五", "at": "2026-11-20T11:00:00+08:00"})
    assert r.status_code == 202 and r.json()["pending"]["signed_at"].startswith("2026-11-20T11:00")
    r = c.post(f"/api/sessions/{sid}/supervision/confirm", headers=sup, json={"accept": True, "reason": "见原件"})
    assert r.status_code == 200 and r.json()["signed_at"].startswith("2026-11-20T11:00")
    assert c.post(f"/api/sessions/{sid}/sign", headers=zhang, json={}).status_code == 400
    rules = {w["rule"] for w in c.get(f"/api/sessions/{sid}/warnings", headers=zhang).json()["warnings"]
             if w["state"] == "open"}
    assert "unsigned_record" not in rules


def test_an_officer_cannot_clear_a_warning_with_a_time_alone(world):
    """The attack: an officer backdates the signature to before the questioning, or moves the check-in time
    so that the detention looks shorter. Impossible times are refused; possible ones wait for a supervisor,
    and the warning stays until one confirms; a refusal leaves the session as it was."""
    c, zhang, sup = world["c"], world["t"]["zhang"], world["t"]["super"]
    sid = world["bad"]   # started 2026-11-21T09:00
    r = c.post(f"/api/sessions/{sid}/sign", headers=zhang, json={"at": "2026-11-21T08:00:00+08:00"})
    assert r.status_code == 400 and "before the questioning ended" in r.json()["detail"]
    r = c.post(f"/api/sessions/{sid}/supervision", headers=zhang, json={"check_in_at": "2026-11-21T10:00:00+08:00"})
    assert r.status_code == 400 and "after the questioning started" in r.json()["detail"]
    r = c.post(f"/api/sessions/{sid}/supervision", headers=zhang, json={"check_in_at": "2026-11-21T08:30:00+08:00"})
    assert r.status_code == 202
    before = "2026-11-21T08:00:00+08:00"
    assert c.get(f"/api/sessions/{sid}", headers=zhang).json()["check_in_at"] == before   # not applied
    pending = c.get(f"/api/sessions/{sid}/supervision/pending", headers=sup).json()
    assert pending["pending"] == {"check_in_at": "2026-11-21T08:30:00+08:00"} and pending["proposed_by"] == "web:zhang"
    assert c.post(f"/api/sessions/{sid}/supervision/confirm", headers=zhang,
                  json={"accept": True, "reason": "自己确认"}).status_code == 403   # an officer confirms nothing
    r = c.post(f"/api/sessions/{sid}/supervision/confirm", headers=sup, json={"accept": False, "reason": "与登记不符"})
    assert r.status_code == 200 and r.json()["check_in_at"] == before
    assert c.get(f"/api/sessions/{sid}/supervision/pending", headers=sup).json()["pending"] == {}
    actions = [e["action"] for e in c.get(f"/api/sessions/{sid}/audit", headers=sup).json()]
    assert "session.propose" in actions and "session.reject" in actions


def test_page_is_served(world):
    r = world["c"].get("/warnings.html")
    assert r.status_code == 200 and "js/warnings.js" in r.text


def test_bad_rules_file_is_a_clear_error(world):
    rules = world["home"] / "rules.toml"
    good = rules.read_text(encoding="utf-8")
    rules.write_text(good + "[detention]\nmax_hours = \"a day\"\n", encoding="utf-8")
    try:
        r = world["c"].get("/api/warnings", headers=world["t"]["super"], params={"refresh": 1})
        assert r.status_code == 503 and "line 4" in r.json()["detail"] and "max_hours" in r.json()["detail"]
    finally:
        rules.write_text(good, encoding="utf-8")
