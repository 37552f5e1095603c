"""The live view's server side (issue 19, point 8), without a browser: the playlist a viewer gets (the newest
segments, blocking reload as RFC 8216bis 6.2.5.2 describes it), the push that tells pages a session started,
why a recording ended, and the coded refusal of a server whose default language is auto."""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as

from api import live_playlist
from api.app import create_app
from archive.store import Archive

EVENT = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
         "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n")


def event_playlist(n: int, ended: bool = False, discontinuity_at: tuple[int, ...] = ()) -> str:
    body = "".join(("#EXT-X-DISCONTINUITY\n" if i in discontinuity_at else "") + f"#EXTINF:1.000000,\nseg{i:05d}.ts\n"
                   for i in range(n))
    return EVENT + body + ("#EXT-X-ENDLIST\n" if ended else "")


# -- the viewer's playlist ----------------------------------------------------------------------------------
def test_a_viewer_gets_the_newest_segments_numbered_as_in_the_recording():
    text = live_playlist.for_viewer(event_playlist(50, discontinuity_at=(3, 45)), window=20)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and live_playlist.SERVER_CONTROL in lines
    assert [x for x in lines if not x.startswith("#")] == [f"seg{i:05d}.ts" for i in range(30, 50)]
    assert "#EXT-X-MEDIA-SEQUENCE:30" in lines                 # segment 30 keeps its number
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in lines           # the one left out is counted
    assert lines.count("#EXT-X-DISCONTINUITY") == 1             # the one kept stays before its segment
    assert lines[lines.index("#EXT-X-DISCONTINUITY") + 2] == "seg00045.ts"
    assert not any(x.startswith("#EXT-X-PLAYLIST-TYPE") for x in lines)   # an EVENT playlist never drops any
    assert "#EXT-X-TARGETDURATION:1" in lines and "#EXT-X-INDEPENDENT-SEGMENTS" in lines
    parsed = live_playlist.parse(text)
    assert (parsed.first, parsed.count, parsed.next, parsed.ended) == (30, 20, 50, False)


def test_a_short_playlist_is_whole_and_its_end_is_kept():
    text = live_playlist.for_viewer(event_playlist(3, ended=True))
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "#EXT-X-MEDIA-SEQUENCE:0" in text
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and live_playlist.parse(text).ended
    assert live_playlist.for_viewer(text).count(live_playlist.SERVER_CONTROL) == 1   # never twice


def test_delivery_directive():
    six = live_playlist.parse(event_playlist(6))
    assert live_playlist.ready(six, None) and live_playlist.ready(six, 5)
    assert not live_playlist.ready(six, 6)                        # the next one: wait for it
    assert live_playlist.ready(live_playlist.parse(event_playlist(6, ended=True)), 6)   # nothing more will come
    assert live_playlist.msn_of("17") == 17 and live_playlist.msn_of(None) is None
    for bad in ("-1", "1.5", "x", "9" * 13):
        with pytest.raises(live_playlist.BadDirective):
            live_playlist.msn_of(bad)


# -- the server --------------------------------------------------------------------------------------------
@pytest.fixture
def world(tmp_path):
    home = fast_auth(tmp_path / "home")
    app = create_app(home, transcriber=object(), recover=False)
    with TestClient(app) as client:
        officer = login_as(client, app, "zhangsan", "officer", "张三")
        supervisor = login_as(client, app, "fazhi", "supervisor", "法制员")
        yield {"client": client, "app": app, "home": home, "officer": officer, "sup": supervisor}


@contextlib.contextmanager
def recording(home, **fields):
    """A session recorded by another process (`xunlu record` in a room): status recording, its lock held."""
    archive = Archive(home)
    cm = archive.new_session("record:room", status="recording", source_name="another process",
                             started_at=datetime.now().astimezone().isoformat(timespec="milliseconds"), **fields)
    session = cm.__enter__()
    try:
        yield archive, session.id
    finally:
        cm.__exit__(None, None, None)
        archive.close()


def test_a_playlist_request_for_the_next_segment_is_answered_when_it_is_listed(world):
    c, home = world["client"], world["home"]
    with recording(home, case_id="P-1") as (archive, sid):
        live = archive.paths(sid).live
        live.mkdir(parents=True, exist_ok=True)
        (live / "index.m3u8").write_text(event_playlist(4), encoding="utf-8")
        r = c.get(f"/api/sessions/{sid}/live/index.m3u8", headers=world["sup"])
        assert r.status_code == 200 and live_playlist.SERVER_CONTROL in r.text.splitlines()
        assert r.headers["cache-control"] == "no-cache, no-store"

        def next_segment():
            time.sleep(0.4)
            (live / "index.m3u8.tmp").write_text(event_playlist(5), encoding="utf-8")
            (live / "index.m3u8.tmp").replace(live / "index.m3u8")   # as ffmpeg's temp_file flag does

        writer = threading.Thread(target=next_segment)
        began = time.monotonic()
        writer.start()
        r = c.get(f"/api/sessions/{sid}/live/index.m3u8", params={"_HLS_msn": 4}, headers=world["sup"])
        took = time.monotonic() - began
        writer.join()
        assert r.status_code == 200 and "seg00004.ts" in r.text
        assert 0.35 <= took < 2.0, took
        listed = time.monotonic()
        r = c.get(f"/api/sessions/{sid}/live/index.m3u8", params={"_HLS_msn": 2}, headers=world["sup"])
        assert time.monotonic() - listed < 1.5 and "seg00004.ts" in r.text     # listed already: not held 3 s
        r = c.get(f"/api/sessions/{sid}/live/index.m3u8", params={"_HLS_msn": "x"}, headers=world["sup"])
        assert r.status_code == 400


def test_pages_hear_at_once_of_a_session_started_elsewhere(world):
    c, home = world["client"], world["home"]
    with c.websocket_connect("/api/sessions/watch", headers=world["sup"]) as ws:
        assert ws.receive_json() == {"type": "watching"}
        got: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: got.put(ws.receive_json()), daemon=True).start()
        began = time.monotonic()
        with recording(home, case_id="W-1") as (archive, sid):
            assert got.get(timeout=2.0) == {"type": "sessions"}
            assert time.monotonic() - began < 2.0
            listed = c.get("/api/sessions", headers=world["sup"]).json()   # the list itself, as before
            assert listed[0]["id"] == sid and listed[0]["status"] == "recording"
            threading.Thread(target=lambda: got.put(ws.receive_json()), daemon=True).start()
            archive.update_session(sid, status="failed", error="the room's recorder was closed")
            assert got.get(timeout=2.0) == {"type": "sessions"}        # and that it ended


def test_a_session_started_as_the_page_begins_watching_is_not_missed(world, monkeypatch):
    """The watch compares each read of the open sessions with the one before; a session started before its
    first read (a slow disk, a busy machine) would be the baseline and never told. "watching" comes after it."""
    from api.routes import session_watch

    slow_open = session_watch.open_archive

    def slowly(home):
        time.sleep(1.0)
        return slow_open(home)

    monkeypatch.setattr(session_watch, "open_archive", slowly)
    c, home = world["client"], world["home"]
    with c.websocket_connect("/api/sessions/watch", headers=world["sup"]) as ws:
        assert ws.receive_json() == {"type": "watching"}
        got: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: got.put(ws.receive_json()), daemon=True).start()
        with recording(home, case_id="W-2"):
            assert got.get(timeout=3.0) == {"type": "sessions"}


def test_the_watch_ends_with_its_login(world, monkeypatch):
    from starlette.websockets import WebSocketDisconnect

    from api.routes import session_watch

    monkeypatch.setattr(session_watch, "LOGIN_CHECK_S", 0.2)
    c = world["client"]
    with c.websocket_connect("/api/sessions/watch", headers=world["sup"]) as ws:
        assert ws.receive_json() == {"type": "watching"}
        assert c.post("/api/auth/logout", headers=world["sup"]).status_code in (200, 204)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_the_watch_carries_nothing_for_anonymous_visitors(world):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        with world["client"].websocket_connect("/api/sessions/watch") as ws:
            ws.receive_json()
    assert refused.value.code == 4401


def test_a_server_whose_default_language_is_auto_answers_a_coded_error(tmp_path):
    home = fast_auth(tmp_path / "home")
    app = create_app(home, transcriber=object(), recover=False, defaults={"language": "auto"})
    with TestClient(app) as c:
        officer = login_as(c, app, "zhangsan", "officer", "张三")
        r = c.post("/api/sessions", json={"audio": "test"}, headers={**officer, "Accept-Language": "zh-CN"})
        assert r.status_code == 400 and r.json()["code"] == "default_language_auto"
        assert "请选择转写语言" in r.json()["message"] and "auto" not in r.json()["message"]
        en = c.post("/api/sessions", json={"audio": "test"}, headers={**officer, "Accept-Language": "en"}).json()
        assert en["message"].startswith("Choose the language")


# -- why a recording ended -----------------------------------------------------------------------------------
def run_live(home, source, **req):
    """The real service.live (the beep detector for the model) on a file; returns (live, its events)."""
    from helpers.capture_fakes import beep_stream

    from service.live import RecordRequest, start_live

    archive = Archive(home)
    live = start_live(home, archive, RecordRequest(audio=str(source), **req), object(), "test", stream=beep_stream())
    events = live.subscribe()
    return live, events, archive


def stopped_event(events: queue.Queue) -> dict:
    while True:
        event = events.get(timeout=60)
        if event["type"] == "stopped":
            return event


def ended_in_audit(home, sid: str) -> str:
    with contextlib.closing(Archive(home)) as archive:
        done = [e for e in archive.audit_entries(sid) if e.action == "record.complete"]
    return done[-1].details["ended"]


@pytest.mark.timeout(120)
def test_a_recording_says_why_it_ended(tmp_path):
    from helpers.capture_fakes import beep_flash_file

    home = tmp_path / "home"
    source = tmp_path / "beeps.mp4"
    beep_flash_file(source, seconds=3.0, size="160x120")
    live, events, archive = run_live(home, source, realtime=False)     # the file plays to its end
    assert stopped_event(events) == {"type": "stopped", "session": live.session_id, "reason": "source_ended"}
    assert live.wait(30) and ended_in_audit(home, live.session_id) == "source_ended"
    late = live.subscribe()                                             # a viewer that comes afterwards
    assert late.get(timeout=1)["reason"] == "source_ended"
    archive.close()
    live, events, archive = run_live(home, source, duration=1.0)        # its planned length
    assert stopped_event(events)["reason"] == "duration"
    archive.close()
    long = tmp_path / "long.mp4"
    beep_flash_file(long, seconds=30.0, size="160x120")
    live, events, archive = run_live(home, long)
    time.sleep(1.5)
    live.stop()                                                         # the officer's stop
    assert stopped_event(events)["reason"] == "stop" and ended_in_audit(home, live.session_id) == "stop"
    archive.close()
