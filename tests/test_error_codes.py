"""Every error a user meets comes with a stable code and a message in the UI language: {"detail", "code",
"message"}, the language from Accept-Language (RFC 9110 12.5.4; Chinese when absent), and no message names a
command-line flag. `detail` stays the operator's text for scripts that read it."""
from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from test_warnings_archive import make_session

from accounts.types import OFFICER, SUPERVISOR
from archive.store import Archive
from core.errors import XunluError
from core.messages import MESSAGES, language_of, message

FLAG = re.compile(r"(^|\s)--?[a-z]")   # --since, -o: what the CLI says and a page must not


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import warnings

    from api.app import create_app

    home = fast_auth(tmp_path_factory.mktemp("codes-home"))
    archive = Archive(home)
    sid = make_session(archive)
    archive.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(home, transcriber=object(), recover=False)
    with TestClient(app) as client:
        officer = login_as(client, app, "zhangsan", OFFICER, "张三")
        sup = login_as(client, app, "fazhi", SUPERVISOR)
        yield {"client": client, "officer": officer, "sup": sup, "sid": sid}


ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}


@pytest.mark.parametrize("header,expected", [
    (None, "zh"), ("", "zh"), ("en", "en"), ("en-GB", "en"), ("zh-CN", "zh"), ("zh-Hant-TW", "zh"),
    ("fr-FR, de;q=0.8", "zh"),                 # neither: the default
    ("fr, en;q=0.5, zh;q=0.4", "en"),          # the most preferred of those offered
    ("zh;q=0.2, en;q=0.8", "en"), ("en;q=0, zh;q=0.1", "zh"),   # q=0: not acceptable
    ("EN-us", "en"), ("en;q=abc, zh", "zh"),
])
def test_accept_language(header, expected):
    assert language_of(header) == expected


def test_every_message_in_both_languages_without_flags():
    for code, (zh, en) in MESSAGES.items():
        assert re.fullmatch(r"[a-z_]+", code)
        assert zh and en and zh != en, code
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{code}: the Chinese message has no Chinese"
        for text in (zh, en):
            assert not FLAG.search(text), f"{code}: a command-line flag in {text!r}"
            assert "/api/" not in text and "xunlu " not in text, f"{code}: a route or a command in {text!r}"
    assert message("duplicate", "en", session="s-1") == "This recording is already in the archive: s-1."
    assert message("no_such_code", "zh") == MESSAGES["error"][0]


def test_every_error_class_has_a_code_with_a_message():
    import accounts
    import api
    import archive
    import capture
    import core
    import index
    import models
    import service
    import supervise

    for package in (accounts, api, archive, capture, core, index, models, service, supervise):
        for mod in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            try:
                importlib.import_module(mod.name)
            except ImportError:   # optional engines (Celery, psycopg) that are not installed
                continue

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = {cls for cls in subclasses(XunluError) if cls.__module__.split(".")[0] != "tests"}
    assert len(found) > 15
    for cls in found:
        assert "code" in vars(cls) or cls.__name__ == "ApiError", f"{cls.__module__}.{cls.__name__} names no code"
        assert cls.code in MESSAGES, f"{cls.__name__}.code {cls.code!r} has no message"


def test_no_source_is_coded_and_localised(world):
    c = world["client"]
    zh = c.post("/api/sessions", json={}, headers={**world["officer"], **ZH})
    assert zh.status_code == 400
    body = zh.json()
    assert body["code"] == "no_source" and "no source" in body["detail"]     # detail kept for scripts
    assert body["message"].startswith("没有可录制的音视频源") and not FLAG.search(body["message"])
    en = c.post("/api/sessions", json={}, headers={**world["officer"], **EN}).json()
    assert en["code"] == "no_source" and en["message"].startswith("Nothing to record from")
    bare = c.post("/api/sessions", json={}, headers=world["officer"]).json()   # no header: Chinese
    assert bare["message"] == body["message"]


def test_live_needs_a_language_not_auto(world):
    r = world["client"].post("/api/sessions", json={"audio": "test", "language": "auto"},
                             headers={**world["officer"], **ZH})
    assert r.status_code == 400
    assert r.json()["code"] == "live_needs_language" and "不能自动识别" in r.json()["message"]
    assert "auto" not in r.json()["message"]


def test_search_dates_the_wrong_way_round(world):
    c = world["client"]
    params = {"q": "经过", "since": "2026-11-22", "until": "2026-11-21"}
    zh = c.get("/api/search", params=params, headers={**world["sup"], **ZH})
    assert zh.status_code == 400 and zh.json()["code"] == "since_after_until"
    assert zh.json()["message"] == "开始日期晚于结束日期。"
    assert "--since" in zh.json()["detail"]                                    # the CLI's words stay in detail
    en = c.get("/api/search", params=params, headers={**world["sup"], **EN}).json()
    assert en["message"] == "The start date is after the end date."
    bad = c.get("/api/search", params={"q": "经过", "since": "yesterday"}, headers={**world["sup"], **ZH}).json()
    assert bad["code"] == "bad_date" and "年-月-日" in bad["message"]


def test_login_refusals(world):
    c = world["client"]
    r = c.post("/api/auth/login", json={"username": "zhangsan", "password": "not-the-password"}, headers=EN)
    assert r.status_code == 401 and r.json()["code"] == "login_wrong"
    assert r.json()["message"] == "Wrong user name or password."
    r = c.post("/api/auth/login", json={"username": "zhangsan", "password": "not-the-password"})
    assert r.json()["message"] == "用户名或密码错误。"
    r = c.post("/api/auth/login", content=b"username=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["code"] == "login_not_json"


@pytest.mark.parametrize("method,path,who,status,code", [
    ("get", "/api/sessions/s-20990101-0001", "sup", 404, "not_found"),
    ("get", "/api/no-such-route", "sup", 404, "page_not_found"),
    ("get", "/api/sessions?limit=x", "sup", 422, "invalid_request"),
    ("get", "/api/sessions?status=done", "sup", 400, "unknown_status"),
    ("get", "/api/audit", "officer", 403, "forbidden"),
    ("get", "/api/audit", None, 401, "login_required"),
    ("get", "/api/search?q=%22open", "sup", 400, "bad_query"),
    ("get", "/api/search?q=x&sort=random", "sup", 400, "bad_sort"),
    ("get", "/api/import/jobs/nope", "officer", 404, "unknown_job"),
])
def test_refusals_carry_a_code_and_a_message(world, method, path, who, status, code):
    headers = {**(world[who] if who else {}), **ZH}
    r = getattr(world["client"], method)(path, headers=headers)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"]
    assert body["message"] == MESSAGES[code][0]


def test_an_admin_refusal_of_a_weak_password_is_coded(world):
    c = world["client"]
    admin = login_as(c, c.app, "root", "admin")
    r = c.post("/api/users", json={"username": "lisi", "role": "officer", "password": "abc"},
               headers={**admin, **EN})
    assert r.status_code == 400 and r.json()["code"] == "password_too_short"
    assert re.fullmatch(r"The password is too short: at least \d+ characters\.", r.json()["message"])


def test_the_openapi_document_describes_code_and_message(world):
    schema = world["client"].get("/openapi.json").json()["components"]["schemas"]["Error"]
    assert {"detail", "code", "message"} <= set(schema["properties"])


def test_an_upload_that_is_not_media_is_named_in_the_message(world):
    r = world["client"].post("/api/import", params={"filename": "笔记.mp4"}, content="这不是录像".encode() * 100,
                             headers={**world["officer"], **ZH, "Content-Type": "application/octet-stream"})
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "bad_upload" and r.json()["message"].startswith("文件“笔记.mp4”无法读取")
