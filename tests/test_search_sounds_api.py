"""GET /api/search with sound-alikes: each hit says how it matched, `exact=true` turns sound-alikes off,
looser tiers are named, bad ones are a 400."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from test_web_fakes import make_video, script, seed_session

from accounts.types import SUPERVISOR
from api.app import create_app
from archive.store import Archive


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    home = fast_auth(tmp_path_factory.mktemp("api-home"))
    archive = Archive(home)
    sid = seed_session(archive, home, make_video(tmp_path_factory.mktemp("media") / "one.mp4", 12),
                       script([(1.0, 3.0, "officer", "银行的授信额度"), (4.0, 6.0, "suspect", "受信额度用完了"),
                               (7.0, 9.0, "suspect", "我在沉督上班")]), 12.0, case_id="A-001",
                       started_at="2026-11-20T09:00:00+08:00")
    archive.close()
    app = create_app(home, transcriber=object(), max_upload=1_000_000)
    with TestClient(app) as c:
        c.headers.update(login_as(c, app, "fazhi", SUPERVISOR))
        yield c, sid


def test_hits_say_how_they_matched(client):
    c, sid = client
    hits = c.get("/api/search", params={"q": "授信"}).json()["hits"]
    assert [(h["segment"], h["match"], h["written"]) for h in hits] == [(0, "exact", None), (1, "sound", "受信")]
    assert hits[1]["start"] == pytest.approx(4.0, abs=0.01)
    exact = c.get("/api/search", params={"q": "授信", "exact": "true"}).json()["hits"]
    assert [h["segment"] for h in exact] == [0]


def test_looser_tiers_by_name(client):
    c, _ = client
    assert c.get("/api/search", params={"q": "成都"}).json()["hits"] == []
    [hit] = c.get("/api/search", params={"q": "成都", "loose": "ng"}).json()["hits"]
    assert hit["match"] == "sound" and hit["written"] == "沉督"
    r = c.get("/api/search", params={"q": "成都", "loose": "ng,tone"})
    assert r.status_code == 400 and "unknown sound tier" in r.json()["detail"]
