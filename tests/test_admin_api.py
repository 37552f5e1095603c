"""The administrator's settings over HTTP: rooms and their devices written to config.toml, the centre's time
zone, the integrity check, and the audit trail in words (names not ids, readable actions, filters, CSV).
Officers and supervisors are refused all of it (403)."""
from __future__ import annotations

import csv
import io
import sys

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from test_warnings_archive import make_session

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from archive.store import Archive
from core.config import read

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ZH, EN = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import warnings

    from api.app import create_app

    home = tmp_path_factory.mktemp("admin-home")
    (home / "config.toml").write_text('# the site\'s own notes stay\n[rooms."讯问室3"]\naudio = "pulse:room3"\n'
                                      'video = "/dev/video3"\n', encoding="utf-8")
    fast_auth(home)
    archive = Archive(home)
    sid = make_session(archive, started="2026-11-21T09:00:00+08:00")
    archive.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(home, transcriber=object(), recover=False)
    with TestClient(app) as client:
        users = {"officer": login_as(client, app, "zhangsan", OFFICER, "张三"),
                 "sup": login_as(client, app, "fazhi", SUPERVISOR, "王法制员"),
                 "admin": login_as(client, app, "root", ADMIN, "李管理员")}
        yield {"client": client, "home": home, "sid": sid, "app": app, **users}


ADMIN_ROUTES = [("get", "/api/admin/rooms", None), ("put", "/api/admin/rooms/讯问室9", {"audio": "test"}),
                ("delete", "/api/admin/rooms/讯问室3", None), ("put", "/api/admin/centre", {"timezone": "UTC"}),
                ("get", "/api/admin/verify", None), ("post", "/api/admin/verify", None),
                ("get", "/api/admin/audit", None)]


@pytest.mark.parametrize("who", ["officer", "sup"])
@pytest.mark.parametrize("method,path,body", ADMIN_ROUTES)
def test_only_admins(world, who, method, path, body):
    kwargs = {"json": body} if body is not None else {}
    r = world["client"].request(method.upper(), path, headers=world[who], **kwargs)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert read(world["home"]).rooms.keys() >= {"讯问室3"} and read(world["home"]).centre.timezone is None


def audit(world, action):
    return [e for e in world["app"].state.auth.archive.audit_entries() if e.action == action]


def test_rooms_are_added_changed_and_removed_in_config_toml(world):
    c, home = world["client"], world["home"]
    listed = c.get("/api/admin/rooms", headers=world["admin"]).json()
    assert listed["rooms"] == [{"name": "讯问室3", "audio": "pulse:room3", "video": "/dev/video3", "speakers": None,
                                "rtsp_transport": None, "cameras": [], "pip": None}]
    assert "test" in {s["id"] for s in listed["audio"]}
    r = c.put("/api/admin/rooms/讯问室1", json={"audio": "test", "video": "rtsp://10.0.0.8/cam1",
                                              "speakers": "officer，suspect"}, headers=world["admin"])
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "讯问室1", "audio": "test", "video": "rtsp://10.0.0.8/cam1",
                        "speakers": "officer,suspect", "rtsp_transport": None, "cameras": [], "pip": None}
    text = (home / "config.toml").read_text(encoding="utf-8")
    assert text.startswith("# the site's own notes stay") and "argon2_time_cost" in text
    data = tomllib.loads(text)
    assert data["rooms"]["讯问室1"] == {"audio": "test", "video": "rtsp://10.0.0.8/cam1",
                                       "speakers": ["officer", "suspect"]}
    # an officer's console sees the room at once, with its devices
    rooms = c.get("/api/rooms", headers=world["officer"]).json()
    assert rooms["devices"]["讯问室1"]["video"] == "rtsp://10.0.0.8/cam1"
    # a device the room already had is kept, even one the web could not set; renamed in place
    r = c.put("/api/admin/rooms/讯问室3", json={"audio": "pulse:room3", "video": "/dev/video3", "rename": "讯问室 3"},
              headers=world["admin"])
    assert r.status_code == 200, r.text
    assert list(read(home).rooms) == ["讯问室 3", "讯问室1"]
    # a file or an ffmpeg filter is refused: only devices here, the test signal, network cameras
    for bad in ("/etc/passwd", "lavfi:sine", "../x.wav"):
        r = c.put("/api/admin/rooms/讯问室2", json={"audio": bad}, headers={**world["admin"], **ZH})
        assert r.status_code == 400 and r.json()["code"] == "bad_device", bad
    assert "讯问室2" not in read(home).rooms
    r = c.put("/api/admin/rooms/讯问室1", json={"rename": "讯问室 3"}, headers=world["admin"])
    assert r.status_code == 400 and r.json()["code"] == "room_exists"
    r = c.put('/api/admin/rooms/a"b', json={}, headers=world["admin"])
    assert r.status_code == 400 and r.json()["code"] == "bad_room"
    r = c.delete("/api/admin/rooms/讯问室1", headers=world["admin"])
    assert r.status_code == 200 and [x["name"] for x in r.json()] == ["讯问室 3"]
    r = c.delete("/api/admin/rooms/讯问室1", headers={**world["admin"], **EN})
    assert r.status_code == 404 and r.json() == {**r.json(), "code": "unknown_room", "message": "There is no such room."}
    changes = audit(world, "config.room")
    assert [e.target for e in changes] == ["rooms/讯问室1", "rooms/讯问室 3", "rooms/讯问室1"]
    assert {e.actor for e in changes} == {"web:root"} and changes[-1].details["removed"] is True


def test_the_centre_time_zone(world):
    c, home = world["client"], world["home"]
    assert c.get("/api/centre", headers=world["officer"]).json() == {
        "timezone": "Asia/Shanghai", "utc_offset": "+08:00", "configured": False}          # zh: Beijing time
    r = c.put("/api/admin/centre", json={"timezone": "Mars/Olympus"}, headers={**world["admin"], **ZH})
    assert r.status_code == 400 and r.json()["code"] == "unknown_timezone"
    r = c.put("/api/admin/centre", json={"timezone": "Asia/Urumqi"}, headers=world["admin"])
    assert r.json() == {"timezone": "Asia/Urumqi", "utc_offset": "+06:00", "configured": True}
    assert tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))["centre"] == {"timezone": "Asia/Urumqi"}
    from supervise.config import load_rules

    assert load_rules(home).timezone == "Asia/Urumqi"                                  # the rules follow
    last = audit(world, "config.centre")[-1]
    assert (last.actor, last.details["timezone"], last.details["before"]) == ("web:root", "Asia/Urumqi", "Asia/Shanghai")
    r = c.put("/api/admin/centre", json={"timezone": None}, headers=world["admin"])
    assert r.json()["timezone"] == "Asia/Shanghai" and r.json()["configured"] is False


def test_the_integrity_check(world):
    c = world["client"]
    before = c.get("/api/admin/verify", headers=world["admin"]).json()
    r = c.post("/api/admin/verify", headers={**world["admin"], **ZH})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"] is True and report["problems"] == [] and report["sessions"] >= 1 and report["files"] >= 2
    assert report["last"]["actor_name"] == "李管理员" and report["last"]["summary"] == "完整"
    status = c.get("/api/admin/verify", headers=world["admin"]).json()
    assert status["ok"] is True and status["last"]["seq"] == report["last"]["seq"]
    assert before["last"] is None or before["last"]["seq"] < status["last"]["seq"]


def test_the_audit_trail_in_words(world):
    c, sid = world["client"], world["sid"]
    c.post(f"/api/sessions/{sid}/markers", json={"at": 12.0, "label": "否认在场"}, headers=world["officer"])
    zh = c.get("/api/audit", params={"session": sid}, headers={**world["sup"], **ZH}).json()
    create = next(e for e in zh if e["action"] == "session.create")
    assert create["action_label"] == "新建讯问录像" and "地点：讯问室1" in create["summary"]
    assert "开始时间：2026-11-21 09:00:00" in create["summary"]                  # on the centre's clock
    marker = next(e for e in zh if e["action"] == "marker")
    assert marker["actor"] == "web:zhangsan" and marker["actor_name"] == "张三"    # a name, not a login id
    assert "否认在场" in marker["summary"] and "{" not in marker["summary"]        # words, not JSON
    asr = next(e for e in zh if e["action"] == "transcript.version")
    assert asr["actor_name"] == "系统（语音识别）" and asr["target_label"] == f"{sid} 第 1 版"
    en = c.get("/api/audit", params={"session": sid}, headers={**world["sup"], **EN}).json()
    assert {e["action"]: e["action_label"] for e in en}["marker"] == "Moment marked"
    assert next(e for e in en if e["action"] == "transcript.version")["actor_name"] == "System (speech recognition)"
    # filters: a user by their display name, an action family, dates on the centre's clock
    mine = c.get("/api/audit", params={"actor": "张三"}, headers=world["sup"]).json()
    assert mine and {e["actor"] for e in mine} == {"web:zhangsan"}
    logins = c.get("/api/audit", params={"action": "auth"}, headers=world["sup"]).json()
    assert logins and {e["action"].split(".")[0] for e in logins} == {"auth"}
    assert c.get("/api/audit", params={"since": "2000-01-01", "until": "2000-01-02"}, headers=world["sup"]).json() == []
    r = c.get("/api/audit", params={"since": "2026-11-22", "until": "2026-11-21"}, headers=world["sup"])
    assert r.status_code == 400 and r.json()["code"] == "since_after_until"


def test_an_admin_reads_the_trail_without_the_evidence(world):
    c, sid = world["client"], world["sid"]
    rows = c.get("/api/admin/audit", params={"session": sid, "action": "marker"}, headers=world["admin"]).json()
    assert rows and all("label" not in r["details"] and r["withheld"] == ["label"] for r in rows)
    assert all("否认在场" not in r["summary"] for r in rows) and "〔不显示〕" in rows[0]["summary"]
    users = c.get("/api/admin/audit", params={"action": "user"}, headers=world["admin"]).json()
    assert all(r["action"].startswith("user.") for r in users)


def test_audit_csv(world):
    c, sid = world["client"], world["sid"]
    r = c.get("/api/audit", params={"session": sid, "format": "csv"}, headers={**world["sup"], **ZH})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-')
    assert r.text.startswith("\ufeff")                                  # spreadsheet programs read it as UTF-8
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == ["序号", "时间", "操作人", "账户", "操作", "操作代码", "对象", "内容", "地址"]
    json_rows = c.get("/api/audit", params={"session": sid}, headers=world["sup"]).json()
    assert [int(x[0]) for x in rows[1:]] == [e["seq"] for e in json_rows[:len(rows) - 1]]
    marker = next(x for x in rows[1:] if x[5] == "marker")
    assert marker[2:5] == ["张三", "web:zhangsan", "标记时刻"]
    assert len(marker[1]) == 19 and marker[1][4] == "-"                 # 2026-12-06 13:34:49, the centre's time
    en = c.get("/api/admin/audit", params={"session": sid, "format": "csv"}, headers={**world["admin"], **EN})
    head = next(csv.reader(io.StringIO(en.text.lstrip("\ufeff"))))
    assert head[:3] == ["seq", "time", "user"] and "否认在场" not in en.text
    assert any(e.action == "audit.export" for e in world["app"].state.auth.archive.audit_entries())


def test_a_csv_cell_is_never_a_formula(world):
    from service.audit_trail import to_csv

    row = {"seq": 1, "at": "2026-11-21T09:00:00+08:00", "actor_name": "=HYPERLINK(\"x\")", "actor": "web:a",
           "action_label": "+1", "action": "marker", "target_label": "-2", "summary": "@SUM(A1)", "address": None}
    cells = next(csv.reader(io.StringIO(to_csv([row], "zh", None).lstrip("\ufeff").split("\r\n", 1)[1])))
    assert [cells[2], cells[4], cells[6], cells[7]] == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)"]
