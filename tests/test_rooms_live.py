"""Many rooms on one server: two rooms of config.toml, each with its own source (a file played live), record
at the same time through the web API, each with its own live transcript on its WebSocket; a room that is
recording refuses a second start."""
from __future__ import annotations

import json
import threading
import time

import pytest
from helpers.auth import bearer, http_client
from helpers.browser import room, serve
from helpers.capture_fakes import BeepTranscriber, beep_flash_file

from api.app import LiveBackend
from service.live_asr import InWorker

pytestmark = pytest.mark.timeout(180)


class BeepWorkers(LiveBackend):
    """The real service.live, each session's transcriber in its worker process, the beep detector there."""

    def start_live(self, home, archive, req, transcriber, actor):
        from service.live import start_live

        return start_live(home, archive, req, transcriber, actor,
                          stream=InWorker(factory="helpers.capture_fakes:beep_stream"))


def _watch(url: str, sid: str, token: str, out: list) -> None:
    """Every message of the session's live WebSocket until it says the session stopped."""
    from websockets.sync.client import connect

    with connect(url.replace("http://", "ws://") + f"/api/sessions/{sid}/live",
                 additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=20) as ws:
        while True:
            event = json.loads(ws.recv(timeout=60))
            out.append(event)
            if event.get("type") == "stopped":
                return


def test_two_rooms_record_at_once_each_with_its_own_live_transcript(tmp_path):
    home = tmp_path / "home"
    one = beep_flash_file(tmp_path / "one.mp4", seconds=7.0, period=2.0, first=1.0)    # 1, 3, 5
    two = beep_flash_file(tmp_path / "two.mp4", seconds=7.0, period=1.5, first=0.5)    # 0.5, 2, 3.5, 5, 6.5
    room(home, "讯问室1", audio=tmp_path / "one.mp4")
    room(home, "讯问室2", audio=tmp_path / "two.mp4")
    server = serve(home, BeepWorkers(), BeepTranscriber(), users=[("zhangsan", "officer", "张三")])
    try:
        http = http_client(server.url, "zhangsan")
        token = bearer(http, "zhangsan")["Authorization"].split()[1]
        started = {}
        for name in ("讯问室1", "讯问室2"):
            r = http.post("/api/sessions", json={"room": name, "case_id": f"R-{name[-1]}"})
            assert r.status_code == 201, r.text
            started[name] = r.json()["id"]
        busy = http.post("/api/sessions", json={"room": "讯问室1"})
        assert busy.status_code == 409 and busy.json()["code"] == "room_busy"
        assert started["讯问室1"] in busy.json()["detail"]
        views = {name: [] for name in started}
        watchers = [threading.Thread(target=_watch, args=(server.url, sid, token, views[name]))
                    for name, sid in started.items()]
        for w in watchers:
            w.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(http.get(f"/api/sessions/{sid}").json()["status"] != "complete"
                                                  for sid in started.values()):
            time.sleep(0.3)
        for w in watchers:
            w.join(30)
        sessions = {name: http.get(f"/api/sessions/{sid}").json() for name, sid in started.items()}
        transcripts = {name: http.get(f"/api/sessions/{sid}/transcript").json() for name, sid in started.items()}
        again = http.post("/api/sessions", json={"room": "讯问室1", "duration": 1})   # the room is free again
        assert again.status_code == 201, again.text
        while http.get(f"/api/sessions/{again.json()['id']}").json()["status"] == "recording":
            time.sleep(0.2)
    finally:
        server.stop()
    for name, truth in (("讯问室1", one), ("讯问室2", two)):
        assert sessions[name]["status"] == "complete" and sessions[name]["room"] == name
        starts = [s["start"] for s in transcripts[name]["segments"]]
        assert starts == pytest.approx(truth, abs=0.05), name          # each room's own source, own transcript
        seen = {}
        for event in views[name]:                                       # ... and its own live view
            for seg in event.get("segments", []) if event["type"] == "snapshot" else \
                    [event["segment"]] if event["type"] == "final" else []:
                seen[seg["id"]] = seg["start"]
        assert sorted(seen.values()) == pytest.approx(truth, abs=0.05), name
        assert views[name][-1]["type"] == "stopped"
    # both were recording at the same time
    a, b = (sessions[n]["started_at"] for n in ("讯问室1", "讯问室2"))
    assert abs(_seconds(a) - _seconds(b)) < 3.0


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
