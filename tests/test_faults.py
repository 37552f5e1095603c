"""Faults on the real server process: kill -9 during a recording, an import, a reindex and right after a
transcript correction, then a restart; a disk that fills up while recording. Nothing recorded before the
fault may be lost, nothing may stay half-done, `xunlu verify` must pass."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.cli import xunlu
from helpers.faults import (
    SUPERVISOR,
    Server,
    journal,
    make_home,
    media_seconds,
    playlist_seconds,
    small_disk,  # noqa: F401  (a fixture)
    speech_file,
    wait_for,
)
from helpers.speech import SPEECH, manifest

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def model_dir(home):
    """The bundled model, assembled once and named by path in each test's home (no copy per home)."""
    from models.store import assemble_base

    return assemble_base(home)


@pytest.fixture(scope="module")
def clips():
    rows = [(SPEECH / name, row["reference"]) for name, row in manifest().items()
            if name.startswith("aishell/") and 5.5 <= float(row["duration_s"]) <= 7.5]
    assert len(rows) >= 12, "the shared aishell clips are missing"
    return rows[:12]


def bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def archive_of(home: Path):
    from archive.store import open_archive

    return contextlib.closing(open_archive(home))


def children_writing(home: Path) -> list[str]:
    """Command lines of the processes (ffmpeg...) still working on files under `home`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if str(home) in cmd and "ffmpeg" in cmd:
            found.append(cmd)
    return found


def configure_room(home: Path, name: str, source: Path) -> None:
    """A room whose microphone is `source` (played as live): a web request records only configured sources."""
    with open(home / "config.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[rooms."{name}"]\naudio = "{source}"\n')


def verify_ok(home: Path) -> None:
    r = xunlu("verify", home=home, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture
def server(tmp_path, model_dir):
    made = []

    def start(home: Path | None = None) -> Server:
        home = home or make_home(tmp_path / "home", model_dir)
        s = Server(home, made[-1].port if made else None).start()
        made.append(s)
        return s

    yield start
    for s in made:
        s.stop()


# -- a live recording ------------------------------------------------------------------------------------
@pytest.mark.model
def test_kill9_during_recording_keeps_every_segment_and_transcribes_it(server, tmp_path, clips):
    used = clips[:8]  # about 50 s: the kill (after 12 s of segments) always comes before the file ends
    source = speech_file(tmp_path / "interview.wav", [p for p, _ in used])
    srv = server()
    officer = srv.client()
    configure_room(srv.home, "F", source)
    r = officer.post("/api/sessions", json={"room": "F", "case_id": "F-1"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    folder = srv.home / "sessions" / sid
    # the first sentence (about 7 s) has come back as a final, and the recording went well past it
    listed = [0.0]  # seconds of complete segments the playlist listed at the last look before the kill

    def ready() -> bool:
        listed[0] = playlist_seconds(folder / "live")
        return bool(journal(folder)) and listed[0] >= 12

    wait_for(ready, 90, "finals and 12 s of segments")
    srv.kill9()
    live_finals = journal(folder)
    # what ffmpeg finished writing (the kernel stopped it); the playlist read just after the kill can come
    # back short (seen empty), so the last look before the kill is a lower bound too
    on_disk = max(listed[0], playlist_seconds(folder / "live"))
    assert live_finals and on_disk >= 12
    with archive_of(srv.home) as archive:
        assert archive.get(sid).status == "recording"  # the kill left it open

    srv = server(srv.home)
    officer = srv.client()
    done = wait_for(lambda: (s := officer.get(f"/api/sessions/{sid}").json())["status"] != "recording"
                    and s["status"] != "finalising" and s, 150, "the recording to be recovered")
    assert done["status"] == "complete", done
    media = srv.home / "sessions" / sid / "original" / "recording.mp4"
    duration = media_seconds(media)
    assert duration >= on_disk - 0.5, (duration, on_disk)  # every complete segment is in the recording
    assert abs(done["duration"] - duration) < 0.5

    transcript = officer.get(f"/api/sessions/{sid}/transcript").json()
    assert transcript["version"] == 1
    kept = {(round(s["start"], 2), s["text"]) for s in transcript["segments"]}
    for seg in live_finals:  # not one journaled final is lost
        assert seg["end"] > duration + 0.05 or (round(seg["start"], 2), seg["text"]) in kept, seg
    # the known speech of the sentences recorded in full is there (live finals plus the recovered tail)
    text = "".join(s["text"] for s in transcript["segments"])
    ends, t = [], 0.0
    for path, _ref in used:
        t += media_seconds(path)
        ends.append(t)
        t += 0.8
    spoken = [ref for (_, ref), end in zip(clips, ends) if end <= duration]
    assert spoken
    for ref in spoken:
        assert len(bigrams(ref) & bigrams(text)) >= 0.5 * len(bigrams(ref)), (ref, text)
    if duration - live_finals[-1]["end"] >= 2.5:  # over a second of speech the live ASR never finalised
        assert transcript["segments"][-1]["end"] > live_finals[-1]["end"], "the tail was not transcribed"

    with archive_of(srv.home) as archive:
        recovered = [e for e in archive.audit_entries(sid) if e.action == "session.recovered"]
        assert len(recovered) == 1 and recovered[0].details["live_segments"] >= len(
            [s for s in live_finals if s["end"] <= duration + 0.05])
    word = sorted(bigrams(spoken[0]) & bigrams(text))[0]  # a word that was said and transcribed
    hits = srv.client(SUPERVISOR).get("/api/search", params={"q": word}).json()["hits"]
    assert any(h["session"] == sid for h in hits), (word, hits)
    verify_ok(srv.home)


# -- an import ---------------------------------------------------------------------------------------------
@pytest.mark.model
def test_kill9_during_import_leaves_it_failed_never_stuck(server, tmp_path, clips):
    upload = speech_file(tmp_path / "room2.wav", [p for p, _ in clips[:8]], gap_s=1.0)  # about a minute
    srv = server()
    officer = srv.client()
    r = officer.post("/api/import", params={"filename": "room2.wav", "background": "true", "case": "F-2"},
                     content=upload.read_bytes(), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    status_url = r.json()["status_url"]
    job = wait_for(lambda: (j := officer.get(status_url).json())["session"] and j, 90, "the import to begin")
    sid = job["session"]
    folder = srv.home / "sessions" / sid
    wait_for(lambda: any((folder / "original").glob("*")), 30, "the original to be kept")
    time.sleep(1.5)  # into the transcription
    assert officer.get(status_url).json()["state"] == "running", "the import ended before the kill"
    srv.kill9()
    assert list((srv.home / "uploads").glob(".up-*")), "the upload's folder should still be there"
    # the browser-playable copy's ffmpeg dies with the server: nothing keeps writing into the archive
    wait_for(lambda: not children_writing(srv.home), 5, "the import's ffmpeg to end with its server")

    srv = server(srv.home)
    assert not list((srv.home / "uploads").glob(".up-*")), "the dead server's upload was not removed"
    officer = srv.client()
    session = officer.get(f"/api/sessions/{sid}").json()
    assert session["status"] == "failed" and "interrupted" in (session["error"] or ""), session
    assert not [p for p in folder.rglob("*") if ".tmp-" in p.name], "a killed import's temp file was left"
    with archive_of(srv.home) as archive:
        assert any(e.action == "session.failed" for e in archive.audit_entries(sid))
    verify_ok(srv.home)
    # the same file can be imported again (a failed session holds nothing) and this time it finishes
    r = officer.post("/api/import", params={"filename": "room2.wav", "background": "true", "case": "F-2"},
                     content=upload.read_bytes(), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    job = wait_for(lambda: (j := officer.get(r.json()["status_url"]).json())["state"] in ("done", "failed") and j, 150,
                   "the second import")
    assert job["state"] == "done" and job["session"] != sid, job
    verify_ok(srv.home)


# -- a reindex ----------------------------------------------------------------------------------------------
def seed_sessions(home: Path, n: int, per: int) -> int:
    """n complete sessions of `per` segments each (case C-i), straight into the archive."""
    from archive.transcripts import add_version
    from core.transcript import Segment, Transcript, Word

    with archive_of(home) as archive:
        for i in range(n):
            with archive.new_session("test", case_id=f"C-{i}", officers=("张三",)) as session:
                segs = tuple(Segment(k, k * 3.0, k * 3.0 + 2.5, f"第{k}次问到仓库的钥匙放在哪里 编号{i}号",
                                     (Word(k * 3.0, k * 3.0 + 2.5, "仓库", 0.9),), None, 0) for k in range(per))
                add_version(archive, session.id, Transcript("zh", "seed", per * 3.0, segs), "asr", "test",
                            reason="seed")
                archive.update_session(session.id, status="complete", duration=per * 3.0)
    return n * per


def index_docs(home: Path) -> int:
    from index.manager import SearchIndex

    index = SearchIndex(home)
    try:
        return index.check()
    finally:
        index.close()


def cases_found(client, cases) -> set[str]:
    found = set()
    for case in cases:
        r = client.get("/api/search", params={"q": "仓库", "case": case, "limit": 5})
        assert r.status_code == 200, r.text
        if r.json()["hits"]:
            found.add(case)
    return found


def new_index_folder(home: Path, current: str):
    return [p for p in (home / "index").glob("ix-*") if p.name != current]


def test_kill9_during_reindex_keeps_the_old_index_answering(server, tmp_path, model_dir):
    home = make_home(tmp_path / "home", model_dir)
    total = seed_sessions(home, 160, 150)
    assert xunlu("reindex", home=home, timeout=180).returncode == 0
    assert index_docs(home) == total
    sample = [f"C-{i}" for i in (0, 57, 159)]
    srv = server(home)
    supervisor = srv.client(SUPERVISOR)
    assert cases_found(supervisor, sample) == set(sample)

    # 1. `xunlu reindex` killed -9 while it builds the new index: the server goes on answering from the old one
    current = (home / "index" / "CURRENT").read_text().strip()
    proc = subprocess.Popen([str(Path(os.sys.executable).with_name("xunlu")), "reindex"],
                            env={**os.environ, "XUNLU_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: new_index_folder(home, current), 60, "the rebuild to start", every=0.05)
    time.sleep(0.5)
    assert cases_found(supervisor, sample) == set(sample)   # searches are answered while it builds
    assert proc.poll() is None, "the rebuild ended before it could be killed: seed more sessions"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert (home / "index" / "CURRENT").read_text().strip() == current
    assert cases_found(supervisor, sample) == set(sample)
    assert index_docs(home) == total
    r = xunlu("reindex", home=home, timeout=180)
    assert r.returncode == 0, r.stderr
    assert index_docs(home) == total and not new_index_folder(home, (home / "index" / "CURRENT").read_text().strip())
    assert cases_found(supervisor, sample) == set(sample)

    # 2. the server killed -9 while it rebuilds a missing index (a search asked for it): the next search rebuilds
    (home / "index" / "CURRENT").unlink()
    current = ""
    def ask() -> None:
        with contextlib.suppress(Exception):  # the server dies under this request
            supervisor.get("/api/search", params={"q": "仓库"})

    threading.Thread(target=ask, daemon=True).start()
    wait_for(lambda: new_index_folder(home, current), 60, "the server's rebuild to start", every=0.05)
    time.sleep(0.3)
    srv.kill9()
    srv = server(home)
    supervisor = srv.client(SUPERVISOR)
    assert cases_found(supervisor, sample) == set(sample)
    assert index_docs(home) == total


# -- transcript versions ------------------------------------------------------------------------------------
def seed_imported(home: Path) -> str:
    from helpers.archive import make_wav, scripted_transcribe

    from service.importing import ImportRequest, import_file

    with archive_of(home) as archive:
        session = import_file(archive, ImportRequest(make_wav(home.parent), officers=("张三",)),
                              scripted_transcribe, "test")
    return session.id


def test_kill9_right_after_corrections_loses_no_version(server, tmp_path, model_dir):
    home = make_home(tmp_path / "home", model_dir)
    sid = seed_imported(home)
    srv = server(home)
    officer = srv.client()
    acked: dict[int, str] = {}
    stop = threading.Event()

    def correct() -> None:
        base = 1
        k = 0
        while not stop.is_set():
            k += 1
            text = f"更正后的文字第{k}稿"
            try:
                r = officer.patch(f"/api/sessions/{sid}/transcript",
                                  json={"changes": {"0": text}, "reason": f"第{k}次校对", "base_version": base})
            except Exception:
                return  # the server died under this request
            if r.status_code != 201:
                return
            base = r.json()["version"]
            acked[base] = text

    worker = threading.Thread(target=correct, daemon=True)
    worker.start()
    wait_for(lambda: len(acked) >= 6, 60, "six corrections")
    srv.kill9()  # while the next correction is in flight
    stop.set()
    worker.join(30)
    last = max(acked)

    srv = server(home)
    officer = srv.client()
    versions = {v["version"]: v for v in officer.get(f"/api/sessions/{sid}/transcript/versions").json()}
    for version, text in acked.items():  # every acknowledged correction survived, with its text
        assert version in versions, (version, sorted(versions))
        got = officer.get(f"/api/sessions/{sid}/transcript", params={"version": version}).json()
        assert got["segments"][0]["text"] == text
    assert max(versions) in (last, last + 1)  # at most the one in flight was also saved
    verify_ok(home)
    # the index holds the latest version, also when the kill came between saving it and indexing it
    latest = officer.get(f"/api/sessions/{sid}/transcript").json()["segments"][0]["text"]
    supervisor = srv.client(SUPERVISOR)
    wait_for(lambda: any(h["session"] == sid for h in
                         supervisor.get("/api/search", params={"q": latest[-4:]}).json()["hits"]),
             30, f"{latest} (v{max(versions)}, last acknowledged v{last}) to be searchable", every=0.5)


# -- disk full while recording -------------------------------------------------------------------------------
@pytest.mark.model
def test_disk_full_while_recording_raises_an_alarm_and_keeps_what_was_written(server, tmp_path, clips,
                                                                              small_disk, model_dir):  # noqa: F811
    import websockets.sync.client as wsc

    source = speech_file(tmp_path / "interview.wav", [p for p, _ in clips[:4]])
    srv = server(make_home(tmp_path / "home", model_dir))
    officer = srv.client()
    configure_room(srv.home, "F", source)
    r = officer.post("/api/sessions", json={"room": "F", "case_id": "F-5"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert (srv.home / "sessions" / sid / "live") == small_disk, "the session id was not the one expected"
    events: list[dict] = []
    token = officer.headers["Authorization"]
    with wsc.connect(f"ws://127.0.0.1:{srv.port}/api/sessions/{sid}/live",
                     additional_headers={"Authorization": token}, open_timeout=30) as ws:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                event = json.loads(ws.recv(timeout=5))
            except TimeoutError:
                continue
            except Exception:  # closed after "stopped"
                break
            events.append(event)
            if event.get("type") == "stopped":
                break
    alarms = [e for e in events if e.get("type") == "alarm"]
    assert alarms and alarms[0]["code"] == "disk_full" and "disk full" in alarms[0]["message"], events[-5:]
    at = alarms[0]["at"]
    assert "ALARM disk_full" in srv.log_text()

    session = wait_for(lambda: (s := officer.get(f"/api/sessions/{sid}").json())["status"] in ("complete", "failed")
                       and s, 120, "the session to be closed")
    assert session["status"] == "complete", session
    duration = media_seconds(srv.home / "sessions" / sid / "original" / "recording.mp4")
    assert duration >= at - 2.5 and duration >= 4.0, (duration, at)  # the segments before the fault are whole
    transcript = officer.get(f"/api/sessions/{sid}/transcript").json()
    assert transcript["segments"], "nothing transcribed of what was recorded"
    with archive_of(srv.home) as archive:
        actions = [e.action for e in archive.audit_entries(sid)]
        assert "record.alarm" in actions and "record.complete" in actions
    verify_ok(srv.home)


def test_a_version_saved_but_not_indexed_is_found_and_indexed(tmp_path):
    """The window the kill above may hit, made on purpose: v2 saved, the process gone before indexing it."""
    from archive.transcripts import edit
    from index.manager import SearchIndex
    from service.indexing import index_session, repair_index, stale_sessions

    home = tmp_path / "home"
    home.mkdir()
    sid = seed_imported(home)
    with archive_of(home) as archive:
        index_session(home, archive, sid)
        assert stale_sessions(home, archive) == []
        edit(archive, sid, {0: "更正后的名字叫蔺晓翀"}, "test", "姓名听错")  # not indexed
        assert not SearchIndex(home).search("蔺晓翀")
        said = []
        assert stale_sessions(home, archive) == [sid]
        assert repair_index(home, archive, said.append) == [sid] and sid in said[0]
        assert [h.session for h in SearchIndex(home).search("蔺晓翀")] == [sid]
        assert stale_sessions(home, archive) == []
