"""The admin's room editor with several cameras (PUT/GET /api/admin/rooms): a room of config.toml with
`cameras = [...]`, `pip = {...}` and `rtsp_transport` is listed with every camera (passwords masked), edited
camera by camera (add, remove, rename, reorder, each one's RTSP transport and picture delay) with its
picture-in-picture layout, and never loses a camera nor a stored password: a save that leaves the cameras
out keeps them, and a masked URL sent back unchanged keeps the password it stands for, whichever row it is in.
Wrong values are refused with a code and a message in the page's language, and nothing is written."""
from __future__ import annotations

import json
import sys

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as

from accounts.types import ADMIN
from core.cameras import PipLayout, RoomCamera
from core.config import read
from core.messages import MESSAGES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ZH, EN = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}
WIDE, CLOSE = "rtsp://admin:wide-secret@10.0.0.7/ch1", "rtsp://viewer:close-secret@10.0.0.8/ch1"
SECRETS = ("wide-secret", "close-secret", "new-secret", "one-secret")
ROOM = f'''[rooms."讯问室1"]
audio = "test"
speakers = ["officer", "suspect"]
rtsp_transport = "tcp"
cameras = [{{ name = "全景", video = "{WIDE}" }},
           {{ name = "特写", video = "{CLOSE}", rtsp_transport = "udp", video_delay = 0.08 }}]
pip = {{ main = "全景", inset = "特写", position = "bottom-left", size = 0.25 }}

[rooms."讯问室2"]
video = "rtsp://admin:one-secret@10.0.0.9/ch1"
'''


@pytest.fixture(scope="module")
def app_home(tmp_path_factory):
    import warnings

    from api.app import create_app

    home = tmp_path_factory.mktemp("rooms-home")
    (home / "config.toml").write_text(ROOM, encoding="utf-8")
    fast_auth(home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(home, transcriber=object(), recover=False)
    with TestClient(app) as client:
        yield {"client": client, "home": home, "app": app, "admin": login_as(client, app, "root", ADMIN, "李管理员"),
               "config": (home / "config.toml").read_text(encoding="utf-8")}


@pytest.fixture
def world(app_home):
    """The module's app, its config.toml as at the start of each test (the config is read at each request)."""
    (app_home["home"] / "config.toml").write_text(app_home["config"], encoding="utf-8")
    return app_home


def put(world, name, body, lang=ZH):
    return world["client"].put(f"/api/admin/rooms/{name}", json=body, headers={**world["admin"], **lang})


def listed(world, name):
    rooms = world["client"].get("/api/admin/rooms", headers=world["admin"]).json()["rooms"]
    return next(r for r in rooms if r["name"] == name)


def no_secret(*texts):
    for text in texts:
        assert not any(s in text for s in SECRETS), text


def test_a_room_with_several_cameras_is_listed_with_every_camera_masked(world):
    r = world["client"].get("/api/admin/rooms", headers=world["admin"])
    no_secret(r.text)
    room = listed(world, "讯问室1")
    assert room["video"] is None and room["rtsp_transport"] == "tcp"
    assert room["cameras"] == [
        {"name": "全景", "video": "rtsp://admin:***@10.0.0.7/ch1", "rtsp_transport": None, "video_delay": None},
        {"name": "特写", "video": "rtsp://viewer:***@10.0.0.8/ch1", "rtsp_transport": "udp", "video_delay": 0.08}]
    assert room["pip"] == {"main": "全景", "inset": "特写", "position": "bottom-left", "size": 0.25, "margin": 0.03}
    assert listed(world, "讯问室2")["cameras"] == [] and listed(world, "讯问室2")["pip"] is None


def test_a_save_that_leaves_the_cameras_out_keeps_them_and_their_passwords(world):
    before = read(world["home"]).rooms["讯问室1"]
    r = put(world, "讯问室1", {"audio": "test", "video": None, "speakers": "officer,suspect,lawyer"})  # the old page
    assert r.status_code == 200, r.text
    no_secret(r.text)
    after = read(world["home"]).rooms["讯问室1"]
    assert after.cameras == before.cameras and after.pip == before.pip and after.rtsp_transport == "tcp"
    assert after.speakers == "officer,suspect,lawyer"
    assert len(r.json()["cameras"]) == 2
    r = put(world, "讯问室1", {"rename": "讯问室 1"})                 # renamed in place, cameras and all
    assert r.status_code == 200 and read(world["home"]).rooms["讯问室 1"].cameras == before.cameras


def test_the_page_sends_the_masked_cameras_back_edited_and_the_passwords_stay(world):
    room = listed(world, "讯问室1")
    wide, close = room["cameras"]
    body = {"audio": "test", "video": None, "speakers": "officer,suspect", "rtsp_transport": "udp",
            "cameras": [{**close, "name": "特写机", "rtsp_transport": "tcp", "video_delay": -0.1},     # reordered,
                        {**wide, "rtsp_transport": None},                                              # renamed
                        {"name": "门口", "video": "rtsp://guard:new-secret@10.0.0.10/ch1"}],           # a third
            "pip": {"main": "门口", "inset": "特写机", "position": "top-left", "size": 0.2, "margin": None}}
    r = put(world, "讯问室1", body)
    assert r.status_code == 200, r.text
    no_secret(r.text)
    saved = read(world["home"]).rooms["讯问室1"]
    assert saved.cameras == (RoomCamera("特写机", CLOSE, "tcp", -0.1), RoomCamera("全景", WIDE),
                             RoomCamera("门口", "rtsp://guard:new-secret@10.0.0.10/ch1"))
    assert saved.pip == PipLayout("门口", "特写机", "top-left", 0.2) and saved.rtsp_transport == "udp"
    assert saved.video is None and saved.audio == "test"
    data = tomllib.loads((world["home"] / "config.toml").read_text(encoding="utf-8"))["rooms"]["讯问室1"]
    assert [c["video"] for c in data["cameras"]] == [CLOSE, WIDE, "rtsp://guard:new-secret@10.0.0.10/ch1"]
    assert [c["name"] for c in r.json()["cameras"]] == ["特写机", "全景", "门口"]
    assert r.json()["cameras"][2]["video"] == "rtsp://guard:***@10.0.0.10/ch1"
    entry = [e for e in world["app"].state.auth.archive.audit_entries() if e.action == "config.room"][-1]
    no_secret(json.dumps(entry.details, ensure_ascii=False))
    assert [c["name"] for c in entry.details["cameras"]] == ["特写机", "全景", "门口"]


def test_one_camera_becomes_two_and_back_keeping_its_password(world):
    one = listed(world, "讯问室2")["video"]
    assert one == "rtsp://admin:***@10.0.0.9/ch1"
    r = put(world, "讯问室2", {"video": None, "cameras": [{"video": one}, {"name": "特写", "video": "test"}]})
    assert r.status_code == 200, r.text
    saved = read(world["home"]).rooms["讯问室2"]
    assert saved.video is None and saved.pip is None
    assert saved.cameras == (RoomCamera("camera1", "rtsp://admin:one-secret@10.0.0.9/ch1"), RoomCamera("特写", "test"))
    r = put(world, "讯问室2", {"video": r.json()["cameras"][0]["video"], "cameras": []})   # back to one
    assert r.status_code == 200, r.text
    saved = read(world["home"]).rooms["讯问室2"]
    assert (saved.video, saved.cameras, saved.pip) == ("rtsp://admin:one-secret@10.0.0.9/ch1", (), None)
    # a room of several down to one: the layout goes with them
    r = put(world, "讯问室1", {"video": listed(world, "讯问室1")["cameras"][1]["video"], "cameras": []})
    assert r.status_code == 200, r.text
    assert read(world["home"]).rooms["讯问室1"].video == CLOSE and read(world["home"]).rooms["讯问室1"].pip is None
    assert r.json()["cameras"] == [] and r.json()["pip"] is None


TWO = [{"name": "全景", "video": "rtsp://admin:***@10.0.0.7/ch1"}, {"name": "特写", "video": "rtsp://10.0.0.20/ch1"}]


@pytest.mark.parametrize("body,code", [
    ({"video": "rtsp://10.0.0.30/ch1"}, "cameras_or_video"),                    # the old page, a room of several
    ({"video": "rtsp://10.0.0.30/ch1", "cameras": TWO}, "cameras_or_video"),
    ({"cameras": TWO[:1]}, "cameras_or_video"),                                 # one camera is `video`
    ({"cameras": [TWO[0], {**TWO[1], "name": "全景"}]}, "bad_camera"),          # two of one name
    ({"cameras": [TWO[0], {**TWO[1], "name": "a/b"}]}, "bad_camera"),
    ({"cameras": [TWO[0], {"name": "特写"}]}, "bad_camera"),                    # no address
    ({"cameras": [TWO[0], {**TWO[1], "video_delay": 9}]}, "bad_camera"),
    ({"cameras": [*TWO, *({"video": f"rtsp://10.0.0.{i}/c"} for i in range(40, 43))]}, "bad_camera"),   # five
    ({"cameras": [TWO[0], {**TWO[1], "rtsp_transport": "quic"}]}, "bad_rtsp_transport"),
    ({"cameras": [TWO[0], {**TWO[1], "video": "/etc/passwd"}]}, "bad_device"),
    ({"cameras": [TWO[0], {**TWO[1], "video": "lavfi:testsrc"}]}, "bad_device"),
    ({"cameras": [{**TWO[0], "video": "rtsp://admin:***@10.0.0.99/ch1"}, TWO[1]]}, "masked_password"),
    ({"cameras": TWO, "pip": {"position": "middle"}}, "bad_pip"),
    ({"cameras": TWO, "pip": {"size": 0.9}}, "bad_pip"),
    ({"cameras": TWO, "pip": {"main": "门口"}}, "bad_pip"),                      # no such camera
    ({"cameras": TWO, "pip": {"main": "特写", "inset": "特写"}}, "bad_pip"),
    ({"cameras": [TWO[0], {**TWO[1], "name": "近景"}]}, "bad_pip"),             # the kept layout names 特写
    ({"video": "rtsp://10.0.0.30/ch1", "cameras": [], "pip": {"position": "top-left"}}, "bad_pip"),   # one camera
    ({"rtsp_transport": "quic"}, "bad_rtsp_transport"),
])
def test_wrong_values_are_refused_with_a_message_and_nothing_is_written(world, body, code):
    before = (world["home"] / "config.toml").read_text(encoding="utf-8")
    r = put(world, "讯问室1", body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == code and r.json()["message"] == MESSAGES[code][0]
    no_secret(r.text)
    assert (world["home"] / "config.toml").read_text(encoding="utf-8") == before
    assert put(world, "讯问室1", body, EN).json()["message"] == MESSAGES[code][1]


def test_a_camera_with_keys_it_does_not_have_or_no_number_does_not_parse(world):
    r = put(world, "讯问室1", {"cameras": [TWO[0], {**TWO[1], "zoom": 2}]})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    r = put(world, "讯问室1", {"cameras": TWO, "pip": {"corner": "top-left"}})
    assert r.status_code == 422
    before = (world["home"] / "config.toml").read_text(encoding="utf-8")
    r = world["client"].put("/api/admin/rooms/讯问室1", headers={**world["admin"], "Content-Type": "application/json"},
                            content=json.dumps({"cameras": [TWO[0], {**TWO[1], "video_delay": float("nan")}]}))
    assert r.status_code == 422 and (world["home"] / "config.toml").read_text(encoding="utf-8") == before
