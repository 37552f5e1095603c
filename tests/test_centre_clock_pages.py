"""What people read on the centre's clock and by name: the 笔录's times, the day a search's date filter
names, and who set a marker. An interview stored by a machine set to UTC as 00:32+00:00 began at 08:32 in
Beijing; one stored as 18:00+00:00 began at 02:00 the next day there."""
from __future__ import annotations

import pytest
from test_admin_api import world  # noqa: F401  (the fixture: a session, an officer 张三 logged in as zhangsan)
from test_warnings_archive import make_session

from archive.store import Archive
from service.indexing import index_session, rebuild
from service.record import content, header_of
from service.search import SearchRequest, search


@pytest.fixture
def beijing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[centre]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    archive = Archive(home)
    yield home, archive
    archive.close()


def field(record: dict, name: str) -> str:
    return next(f["value"] for f in record["fields"] if f["name"] == name)


def test_the_record_gives_its_times_on_the_centres_clock(beijing):
    home, archive = beijing
    sid = make_session(archive, started="2026-11-21T00:32:00+00:00", duration=600.0)
    archive.audit("system:test", "session.sign", sid, {"signed_at": "2026-11-21T02:05:00+00:00", "signer": "王五"})
    session = archive.get(sid)
    from archive.transcripts import read_version

    record = content(archive, session, read_version(archive, sid))
    assert field(record, "讯问时间") == "2026年11月21日 08时32分 至 2026年11月21日 08时42分"
    assert record["signature"]["at"] == "2026-11-21T10:05:00+08:00"
    assert header_of(archive, session).started_at == "2026-11-21T08:32:00+08:00"   # the DOCX 笔录's header too


def test_the_record_follows_the_centre_not_the_machine(beijing):
    home, archive = beijing
    (home / "config.toml").write_text('[centre]\ntimezone = "Europe/London"\n', encoding="utf-8")
    sid = make_session(archive, started="2026-11-21T09:00:00+08:00", duration=600.0)
    assert header_of(archive, archive.get(sid)).started_at == "2026-11-21T01:00:00+00:00"


def days(home, archive, day: str) -> set[str]:
    found = search(home, archive, SearchRequest("那天我在家", since=day, until=day, limit=50), "system:test")
    return {h.session for h in found.hits}


def test_the_search_date_filter_is_the_centres_day(beijing):
    home, archive = beijing
    morning = make_session(archive, started="2026-11-21T00:32:00+00:00")     # 08:32 on the 21st in Beijing
    night = make_session(archive, started="2026-11-20T18:00:00+00:00", suspect="赵六")  # 02:00 on the 21st
    evening = make_session(archive, started="2026-11-20T09:00:00+00:00", suspect="钱七")  # 17:00 on the 20th
    for sid in (morning, night, evening):
        index_session(home, archive, sid)
    assert days(home, archive, "2026-11-21") == {morning, night}
    assert days(home, archive, "2026-11-20") == {evening}
    rebuild(home, archive)                                                  # `xunlu reindex` keeps it so
    assert days(home, archive, "2026-11-21") == {morning, night}


def test_the_markers_tab_names_who_set_each_marker(world):  # noqa: F811
    c, sid = world["client"], world["sid"]
    made = c.post(f"/api/sessions/{sid}/markers", json={"at": 20.0, "label": "承认到过现场"},
                  headers=world["officer"])
    assert made.status_code == 201, made.text
    assert made.json()["actor_name"] == "张三"
    markers = c.get(f"/api/sessions/{sid}/markers", headers=world["sup"]).json()
    mine = next(m for m in markers if m["label"] == "承认到过现场")
    assert mine["actor"] == "web:zhangsan" and mine["actor_name"] == "张三"    # the login stays, the name shows
