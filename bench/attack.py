"""The attacks of the evidence-boundaries review, run against a live `xunlu serve` (a separate process in its
own home, loopback only), each printed with what the server answered. An attack "holds" when the server
refused it and nothing leaked; the run exits 1 when any attack got through.

    .venv/bin/python -m bench.attack            # about a minute; no speech model is loaded

Two officers (甲 owns a session, 乙 does not), a supervisor and an admin.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

from bench.common import ROOT, make_log

log = make_log("attack")
PASSWORD = "correct-horse-77"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def setup(home: Path, media: Path):
    """A home with users and officer 甲's session (imported with a scripted transcript, no model)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.faults import Server
    from test_web_fakes import INTERVIEW, make_video, seed_session

    from api.auth import install
    from archive.store import Archive

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[auth]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\n"
                                      "argon2_parallelism = 1\n", encoding="utf-8")
    from fastapi import FastAPI

    app = FastAPI()
    auth = install(app, home)
    for name, role, display in (("jia", "officer", "甲警官"), ("yi", "officer", "乙警官"),
                                ("fazhi", "supervisor", "法制员"), ("root", "admin", None)):
        if auth.store.get(name) is None:
            auth.add_user(name, role, PASSWORD, display)
    archive = Archive(home)
    sid = seed_session(archive, home, make_video(media / "a.mp4", 6), INTERVIEW, 6.0, case_id="A-1",
                       officers=("甲警官",))
    # a session being recorded by another process (this one holds its lock): viewers follow its journal
    recording = archive.new_session("bench-recorder", status="recording", case_id="A-2", officers=("甲警官",),
                                    started_at="2026-12-01T09:00:00+08:00")
    live_sid = recording.__enter__().id
    archive.paths(live_sid).journal.parent.mkdir(parents=True, exist_ok=True)
    archive.paths(live_sid).journal.touch()
    return Server(home).start(), sid, live_sid, (archive, recording)


def login(url: str, name: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    r.raise_for_status()
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.parse_args()
    results: list[tuple[str, bool, str]] = []

    def attack(name: str, check: Callable[[], tuple[bool, str]]) -> None:
        try:
            held, said = check()
        except Exception as exc:  # an attack that crashes the check counts as not held
            held, said = False, f"{type(exc).__name__}: {exc}"
        results.append((name, held, said))
        log(f"{'held ' if held else 'FAILED'}  {name}: {said}")

    with tempfile.TemporaryDirectory(prefix="xunlu-attack-") as tmp:
        tmp_path = Path(tmp)
        media = tmp_path / "media"
        media.mkdir()
        server, sid, live_sid, held = setup(tmp_path / "home", media)
        from helpers.web import CountingServer
        home = server.home
        try:
            jia, yi, sup = login(server.url, "jia"), login(server.url, "yi"), login(server.url, "fazhi")
            original = next((home / "sessions" / sid / "original").iterdir())
            sessions_before = {s["id"] for s in sup.get("/api/sessions").json()}
            target = CountingServer("/x")
            created = tmp_path / "created.txt"

            def source(body: dict) -> Callable[[], tuple[bool, str]]:
                def check():
                    r = yi.post("/api/sessions", json={**body, "case_id": "X"})
                    now = {s["id"] for s in sup.get("/api/sessions").json()}
                    held = r.status_code == 400 and now == sessions_before and target.hits == 0 \
                        and not created.exists()
                    return held, f"{r.status_code} {r.json().get('detail', '')[:70]}"
                return check

            for label, body in (("another officer's original as audio", {"audio": str(original)}),
                                ("the catalog database as audio", {"audio": str(home / "catalog.sqlite")}),
                                ("the users database as audio", {"audio": str(home / "users.sqlite")}),
                                ("drawtext=textfile filter as video",
                                 {"video": f"lavfi:color,drawtext=textfile={home / 'catalog.sqlite'}"}),
                                ("ametadata=file filter creating a file",
                                 {"audio": f"lavfi:sine,ametadata=mode=print:file={created}"}),
                                ("SSRF to a loopback URL", {"audio": target.url})):
                attack(f"live source: {label}", source(body))

            def upload(name: str, data: bytes) -> httpx.Response:
                return yi.post("/api/import", params={"filename": name}, content=data,
                               headers={"Content-Type": "application/octet-stream"})

            playable = home / "sessions" / sid / "media" / "playable.mp4"
            pointed = playable if playable.exists() else original
            hls = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:6.0,\n{pointed}\n#EXT-X-ENDLIST\n".encode()

            def playlist():
                r = upload("evidence.wav", hls)
                return r.status_code == 415, f"{r.status_code} {r.json().get('detail', '')[:70]}"

            attack("upload: an HLS playlist naming another session's media", playlist)

            def concat():
                r = upload("list.mp4", f"ffconcat version 1.0\nfile '{pointed}'\n".encode())
                return r.status_code == 415, f"{r.status_code} {r.json().get('detail', '')[:70]}"

            attack("upload: a concat list naming another session's media", concat)

            def html_media():
                wav = tmp_path / "x.wav"
                ffmpeg("-f", "lavfi", "-i", "sine=d=2", "-ar", "16000", str(wav))
                r = upload("evidence.html", wav.read_bytes() + b"<script>alert(1)</script>")
                if r.status_code != 201:
                    return True, f"refused: {r.status_code}"
                got = yi.get(f"/api/sessions/{r.json()['id']}/media", params={"role": "original"})
                held = got.headers.get("content-type") == "application/octet-stream" and \
                    got.headers.get("x-content-type-options") == "nosniff" and \
                    "sandbox" in got.headers.get("content-security-policy", "")
                return held, f"served as {got.headers.get('content-type')}, {got.headers.get('content-disposition')}"

            attack("stored XSS: a WAV uploaded as evidence.html, opened from the archive", html_media)

            def bomb():
                flac = tmp_path / "quiet.flac"
                ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(26 * 3600), "-c:a", "flac", str(flac))
                r = upload("quiet.flac", flac.read_bytes())
                return r.status_code == 413, f"{flac.stat().st_size / 1e6:.1f} MB for 26 h: {r.status_code}"

            attack("decompression bomb: 26 hours of silence in a few MB of FLAC", bomb)

            def backdate():
                r = jia.post(f"/api/sessions/{sid}/sign", json={"at": "2000-01-01T00:00:00+08:00"})
                return r.status_code == 400, f"{r.status_code} {r.json().get('detail', '')[:70]}"

            attack("an officer signs the 笔录 before the questioning", backdate)

            def check_in():
                r = jia.post(f"/api/sessions/{sid}/supervision", json={"check_in_at": "2026-01-01T08:00:00+08:00"})
                applied = jia.get(f"/api/sessions/{sid}").json().get("check_in_at")
                return r.status_code in (202, 400) and applied is None, f"{r.status_code}; applied: {applied}"

            attack("an officer sets a check-in time with no supervisor", check_in)

            def unaudited():
                missing = []
                for url, action in ((f"/api/sessions/{sid}/transcript/versions", "transcript.versions"),
                                    (f"/api/sessions/{sid}/transcript/diff?a=1&b=1", "transcript.diff"),
                                    ("/api/sessions", "session.list")):
                    before = len(sup.get("/api/audit", params={"action": action, "limit": 100000}).json())
                    jia.get(url)
                    after = len(sup.get("/api/audit", params={"action": action, "limit": 100000}).json())
                    if after != before + 1:
                        missing.append(action)
                return not missing, f"unaudited: {missing}" if missing else "every read has its entry"

            attack("reads of evidence that leave no trace", unaudited)

            def headers():
                r = httpx.get(server.url + "/search.html")
                csp = r.headers.get("content-security-policy", "")
                held = "frame-ancestors 'none'" in csp and r.headers.get("x-frame-options") == "DENY"
                return held, csp[:60] + "..."

            attack("a page framed by another site, or running injected inline script", headers)

            def spoofed_address():
                yi.get("/api/sessions", headers={"X-Forwarded-For": "8.8.8.8"})
                last = sup.get("/api/audit", params={"action": "session.list", "actor": "yi"}).json()[-1]
                address = last["details"].get("address")
                return address == "127.0.0.1", f"audited address {address}"

            attack("X-Forwarded-For from a client that is no configured proxy", spoofed_address)

            def lock_out_admin():
                attacker = httpx.Client(base_url=server.url, timeout=30,
                                        transport=httpx.HTTPTransport(local_address="127.0.0.2"))
                codes = [attacker.post("/api/auth/login", json={"username": "root", "password": f"guess{i}"}).status_code
                         for i in range(12)]
                started = time.monotonic()
                r = httpx.post(server.url + "/api/auth/login", json={"username": "root", "password": PASSWORD})
                took = time.monotonic() - started
                return r.status_code == 200 and took < 2, \
                    f"attacker got {sorted(set(codes))}; the admin from another address: {r.status_code} in {took:.2f} s"

            attack("lock the admin out with wrong passwords from another address", lock_out_admin)

            def self_grant():
                root = login(server.url, "root")
                r = root.post("/api/users", json={"username": "puppet", "role": "supervisor", "password": PASSWORD})
                if r.status_code not in (200, 201):
                    return True, f"refused: {r.status_code}"
                puppet = login(server.url, "puppet")
                read = puppet.get("/api/sessions")
                return read.status_code == 403, f"new account by the admin alone reads evidence: {read.status_code}"

            attack("an admin makes a supervisor account alone and reads evidence", self_grant)

            def revoked_viewer():
                import websockets.sync.client as wsc

                viewer = login(server.url, "fazhi")
                token = viewer.headers["Authorization"].split()[1]
                url = server.url.replace("http", "ws") + f"/api/sessions/{live_sid}/live"
                with wsc.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                    first = json.loads(ws.recv(timeout=10))
                    time.sleep(1.5)   # still being watched
                    viewer.post("/api/auth/logout")
                    started = time.monotonic()
                    try:
                        while time.monotonic() - started < 3:
                            ws.recv(timeout=3)
                    except Exception as exc:  # closed: the login ended
                        took = time.monotonic() - started
                        return took < 1.5, f"{first['type']}, then closed {took:.2f} s after logout ({type(exc).__name__})"
                return False, "still open 3 s after logout"

            attack("a logged-out supervisor keeps watching the live socket", revoked_viewer)
        finally:
            server.stop()

        held[1].__exit__(None, None, None)
        held[0].close()

        def tampered(edit: Callable[[sqlite3.Connection], None]) -> Callable[[], tuple[bool, str]]:
            def check():
                copy = tmp_path / f"copy-{len(results)}"
                shutil.copytree(home, copy)   # each attack on its own copy of the archive
                conn = sqlite3.connect(copy / "catalog.sqlite")
                try:
                    edit(conn)
                    conn.commit()
                finally:
                    conn.close()
                r = subprocess.run([str(Path(sys.executable).with_name("xunlu")), "verify", "--home", str(copy)],
                                   capture_output=True, text=True, timeout=300)
                said = (r.stdout.strip().splitlines() or [""])[0][:90]
                return r.returncode == 1, f"verify exit {r.returncode}: {said}"
            return check

        attack("catalog: an officer added to a session's officers by hand",
               tampered(lambda c: c.execute("UPDATE sessions SET officers = ? WHERE id = ?",
                                            (json.dumps(["甲警官", "乙警官"], ensure_ascii=False), sid))))
        attack("catalog: an audit entry deleted",
               tampered(lambda c: c.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) - 3 FROM audit)")))
    failed = [name for name, held, _ in results if not held]
    print(json.dumps({"attacks": len(results), "held": len(results) - len(failed), "failed": failed},
                     ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
