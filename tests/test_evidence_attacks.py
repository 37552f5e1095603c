"""Evidence boundaries, written as the attacks a hostile officer tried (each must fail): a live source that
names another session's original, a server database, an ffmpeg filter or a loopback URL; an uploaded HLS
playlist or concat list that points at another session's media; an HTML page uploaded as a "recording" and
opened from the archive; a small file that decodes to hours of audio; user HTML in search snippets; reads
of evidence that left no trace. In-process with the real live backend and importer (no model is loaded: every
attack is refused before one would be)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from helpers.web import CountingServer
from test_web_fakes import INTERVIEW, ScriptedTranscriber, make_video, script, seed_session

from accounts.types import OFFICER, SUPERVISOR
from api.app import create_app
from archive.store import Archive


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = fast_auth(tmp_path_factory.mktemp("attack-home"))
    media = tmp_path_factory.mktemp("attack-media")
    archive = Archive(home)
    a_session = seed_session(archive, home, make_video(media / "a.mp4", 6), INTERVIEW, 6.0, case_id="A-1",
                             officers=("甲警官",))
    archive.close()
    app = create_app(home, transcriber=ScriptedTranscriber(script([(0.2, 1.5, "officer", "上传的录像")])))
    with TestClient(app) as client:
        officer_a = login_as(client, app, "jia", OFFICER, "甲警官")
        officer_b = login_as(client, app, "yi", OFFICER, "乙警官")
        sup = login_as(client, app, "fazhi", SUPERVISOR)
        yield {"c": client, "app": app, "home": home, "a": a_session, "A": officer_a, "B": officer_b, "sup": sup,
               "media": media}


def sessions(world) -> set[str]:
    return {s["id"] for s in world["c"].get("/api/sessions", headers=world["sup"]).json()}


def test_a_live_source_is_never_a_server_path_url_or_filter(world, tmp_path):
    c, home = world["c"], world["home"]
    original = next((home / "sessions" / world["a"] / "original").iterdir())
    target = tmp_path / "created-by-ffmpeg.txt"
    web = CountingServer()
    before = sessions(world)
    try:
        attacks = [
            {"audio": str(original)},                                         # officer A's evidence
            {"audio": str(home / "accounts.sqlite")}, {"audio": str(home / "users.sqlite")},
            {"audio": str(home / "catalog.sqlite")},                          # the server's databases
            {"audio": str(tmp_path / "no-such-file.wav")},                    # a path that does not exist
            {"video": f"lavfi:color,drawtext=textfile={home / 'catalog.sqlite'}"},   # any file rendered
            {"audio": f"lavfi:sine,ametadata=mode=print:file={target}"},      # a file created
            {"audio": web.url}, {"video": web.url},                          # SSRF
            {"audio": "lavfi:sine"}, {"video": "/dev/video0"}, {"audio": "pulse:default"},
        ]
        details = set()
        for body in attacks:
            r = c.post("/api/sessions", json={**body, "case_id": "X-1"}, headers=world["B"])
            assert r.status_code == 400, (body, r.status_code, r.text)
            details.add(r.json()["detail"].split(":")[0])
        assert len(details) <= 2, details   # audio or video: the same words whatever was named (no oracle)
    finally:
        web.close()
    assert web.hits == 0 and not target.exists()
    assert sessions(world) == before


def test_the_devices_list_names_what_may_be_recorded(world):
    r = world["c"].get("/api/devices", headers=world["B"])
    assert r.status_code == 200, r.text
    assert {"id": "test", "label": "测试信号 test tone", "origin": "test"} in r.json()["audio"]
    assert all(s["origin"] in ("room", "server", "device", "test") for s in r.json()["audio"] + r.json()["video"])
    assert world["c"].get("/api/devices", headers=world["sup"]).status_code == 403


def upload(world, name: str, data: bytes, who: str = "B"):
    return world["c"].post("/api/import", params={"filename": name, "case": "U-1"}, content=data,
                           headers={**world[who], "Content-Type": "application/octet-stream"})


def test_an_uploaded_playlist_or_list_never_pulls_in_another_file(world):
    playable = world["home"] / "sessions" / world["a"] / "media" / "playable.mp4"
    original = next((world["home"] / "sessions" / world["a"] / "original").iterdir())
    target = playable if playable.exists() else original
    hls = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:6.0,\n{target}\n#EXT-X-ENDLIST\n".encode()
    concat = f"ffconcat version 1.0\nfile '{target}'\n".encode()
    before = sessions(world)
    for name, data in (("a.m3u8", hls), ("evidence.wav", hls), ("list.txt", concat), ("x.mp4", concat),
                       ("frames.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64)):
        r = upload(world, name, data)
        assert r.status_code == 415, (name, r.status_code, r.text)
    assert sessions(world) == before


def wav_with_html(path: Path) -> bytes:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=d=2",
                    "-ar", "16000", str(path)], check=True)
    data = path.read_bytes()
    html = b"<html><script>fetch('/api/auth/me')</script></html>"
    chunk = b"LIST" + len(html).to_bytes(4, "little") + html   # an extra RIFF chunk, ignored by players
    riff_size = int.from_bytes(data[4:8], "little") + len(chunk)
    return data[:4] + riff_size.to_bytes(4, "little") + data[8:] + chunk


def test_an_uploaded_page_is_served_as_inert_bytes(world, tmp_path):
    r = upload(world, "evidence.html", wav_with_html(tmp_path / "x.wav"))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    got = world["c"].get(f"/api/sessions/{sid}/media", params={"role": "original"}, headers=world["B"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in got.headers["content-security-policy"]


def test_pages_may_run_only_their_own_scripts_and_cannot_be_framed(world):
    for path in ("/console.html", "/search.html", "/login.html", "/warnings.html"):
        r = world["c"].get(path)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_a_small_file_that_decodes_to_hours_is_refused_before_decoding(world, tmp_path):
    """8 hours of silence compress to a few MB of FLAC; the server's limit is read from the header, before a
    sample is decoded (here the limit is lowered so the test needs only 2 hours)."""
    config = world["home"] / "config.toml"
    saved = config.read_text(encoding="utf-8") if config.exists() else ""
    bomb = tmp_path / "quiet.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "anullsrc=r=8000:cl=mono", "-t", "7200", "-c:a", "flac", str(bomb)], check=True)
    assert bomb.stat().st_size < 5_000_000
    before = sessions(world)
    try:
        config.write_text(saved + "\n[limits]\nmax_import_hours = 1\n", encoding="utf-8")
        r = upload(world, "quiet.flac", bomb.read_bytes())
        assert r.status_code == 413 and "max_import_hours" in r.json()["detail"], r.text
        config.write_text(saved + "\n[limits]\nmax_decoded_gb = 0.1\n", encoding="utf-8")
        r = upload(world, "quiet.flac", bomb.read_bytes())
        assert r.status_code == 413 and "max_decoded_gb" in r.json()["detail"], r.text
    finally:
        config.write_text(saved, encoding="utf-8")
    assert sessions(world) == before


def test_user_html_in_a_transcript_comes_back_escaped_in_snippets(world):
    c, sid = world["c"], world["a"]
    segment = c.get(f"/api/sessions/{sid}/transcript", headers=world["A"]).json()["segments"][0]["id"]
    r = c.patch(f"/api/sessions/{sid}/transcript", headers=world["A"],
                json={"changes": {str(segment): "<b onclick=x()>仓库钥匙</b>"}, "reason": "测试"})
    assert r.status_code == 201, r.text
    hits = c.get("/api/search", params={"q": "仓库钥匙"}, headers=world["A"]).json()["hits"]
    snippet = next(h["snippet"] for h in hits if h["session"] == sid)
    assert "<b" not in snippet and "</b>" not in snippet and "&lt;b onclick=x()&gt;" in snippet
    assert "<mark>仓库钥匙</mark>" in snippet


def test_every_read_of_evidence_leaves_a_trace(world):
    c, sid, a = world["c"], world["a"], world["A"]
    reads = [("GET", "/api/sessions", "session.list"),
             ("GET", f"/api/sessions/{sid}", "session.view"),
             ("GET", f"/api/sessions/{sid}/transcript", "transcript.view"),
             ("GET", f"/api/sessions/{sid}/transcript/versions", "transcript.versions"),
             ("GET", f"/api/sessions/{sid}/transcript/diff?a=1&b=1", "transcript.diff"),
             ("GET", f"/api/sessions/{sid}/markers", "marker.list"),
             ("GET", f"/api/sessions/{sid}/export?format=txt", "export"),
             ("GET", "/api/search?q=仓库", "search")]
    for method, url, action in reads:
        before = len(c.get("/api/audit", params={"action": action, "limit": 100000}, headers=world["sup"]).json())
        assert c.request(method, url, headers=a).status_code == 200, url
        after = c.get("/api/audit", params={"action": action, "limit": 100000}, headers=world["sup"]).json()
        assert len(after) == before + 1, (url, action)
        assert after[-1]["actor"] == "web:jia" and after[-1]["details"].get("address"), json.dumps(after[-1])


def test_a_killed_import_leaves_no_ffmpeg_and_no_temp_file(tmp_path):
    """kill -9 of the process making a browser-playable copy (the server, mid-import): its ffmpeg dies with it
    instead of writing on into the archive, and the next start removes the half-made file."""
    import os
    import signal
    import sys
    import time

    from service.startup import drop_dead_temp_files

    src = tmp_path / "long.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo",
                    "-t", "10800", "-c:a", "flac", str(src)], check=True)
    home = fast_auth(tmp_path / "home")
    archive = Archive(home)
    with archive.new_session("system:test") as s:
        sid = s.id
    dst = archive.paths(sid).playable
    archive.close()
    code = f"from archive.media import make_playable; from pathlib import Path; make_playable(Path({str(src)!r}), Path({str(dst)!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])

    def ffmpegs() -> list[int]:
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ffmpeg" in cmd.split(b"\0")[0] and str(dst.parent).encode() in cmd:
                found.append(int(entry.name))
        return found

    deadline = time.monotonic() + 30
    while not ffmpegs():
        assert time.monotonic() < deadline and proc.poll() is None, "the copy never started"
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)   # the parent only, not its process group
    proc.wait(10)
    deadline = time.monotonic() + 5
    while ffmpegs():
        assert time.monotonic() < deadline, "ffmpeg outlived the killed import"
        time.sleep(0.05)
    temps = [p for p in dst.parent.iterdir() if ".tmp-" in p.name]
    assert temps, "expected the half-made copy to be there before the next start"
    assert set(drop_dead_temp_files(home)) == set(temps) and not any(p.exists() for p in temps)


def test_watching_a_session_and_reading_the_audit_trail_leave_a_trace(world):
    c, sid = world["c"], world["a"]

    def count(action: str) -> int:
        entries = c.get("/api/audit", params={"action": action, "limit": 100000}, headers=world["sup"]).json()
        return len(entries)

    before = count("session.live.view")
    with c.websocket_connect(f"/api/sessions/{sid}/live", headers=world["A"]) as ws:
        assert ws.receive_json()["type"] == "snapshot"
    assert count("session.live.view") == before + 1
    before = count("audit.read")
    assert c.get(f"/api/sessions/{sid}/audit", headers=world["sup"]).status_code == 200
    assert count("audit.read") == before + 2   # the session's trail, and the count just made
